import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { isDuplicateKeyError } from '../../database/mongo-errors.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';

const STATUS_BY_CODE: Record<ErrorCode, HttpStatus> = {
  [ErrorCode.Unauthenticated]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.Conflict]: HttpStatus.CONFLICT,
  [ErrorCode.InvalidInput]: HttpStatus.BAD_REQUEST,
  [ErrorCode.InsufficientCredits]: HttpStatus.CONFLICT,
  [ErrorCode.InvitationInvalid]: HttpStatus.BAD_REQUEST,
};

export interface HttpErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  code?: string;
}

/** The one place an HTTP error body is written: `{statusCode, error, message}`, never a stack trace. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): HttpErrorBody {
    if (exception instanceof DomainError) {
      const statusCode = STATUS_BY_CODE[exception.code];
      return { statusCode, error: statusName(statusCode), message: exception.message, code: exception.code, ...exception.details };
    }
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string' ? response : ((response as { message?: string | string[] }).message ?? exception.message);
      return { statusCode, error: statusName(statusCode), message };
    }
    if (isDuplicateKeyError(exception)) {
      return {
        statusCode: HttpStatus.CONFLICT,
        error: statusName(HttpStatus.CONFLICT),
        message: 'Resource already exists',
        code: ErrorCode.Conflict,
      };
    }
    return {
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: statusName(HttpStatus.INTERNAL_SERVER_ERROR),
      message: 'Internal server error',
    };
  }
}

function statusName(status: number): string {
  const name = HttpStatus[status];
  return name === undefined
    ? 'Error'
    : name
        .split('_')
        .map((word) => word[0] + word.slice(1).toLowerCase())
        .join(' ');
}

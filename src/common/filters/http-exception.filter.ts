import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Response } from 'express';
import { isDuplicateKeyError } from '../../database/mongo-errors.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';

/** Every HTTP error answer; a domain error adds its `details` as further properties. */
export class HttpErrorBody {
  @ApiProperty({ type: 'integer', example: 404, description: 'The HTTP status' })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found', description: 'The name of the status' })
  error!: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'No user with email viewer@example.com',
    description: 'What went wrong; a request the validation refuses lists every problem',
  })
  message!: string | string[];

  @ApiPropertyOptional({ enum: Object.values(ErrorCode), description: 'Stable code of a domain error, for programs to act on' })
  code?: ErrorCode;
}

/**
 * The one place an HTTP error body is written: `{statusCode, error, message, code}`, never a stack trace. A domain
 * error's status comes from the one table of error responses (ERROR_RESPONSES).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      const request = host.switchToHttp().getRequest<{ id?: unknown }>();
      this.logger.error({ req_id: request.id, err: exception }, 'Request failed');
    }
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): HttpErrorBody {
    if (exception instanceof DomainError) {
      const statusCode = exception.status;
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

export function statusName(status: number): string {
  const name = HttpStatus[status];
  return name === undefined
    ? 'Error'
    : name
        .split('_')
        .map((word) => word[0] + word.slice(1).toLowerCase())
        .join(' ');
}

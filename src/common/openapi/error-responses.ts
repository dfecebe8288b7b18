import { applyDecorators, HttpStatus } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath, type ResponseObject } from '@nestjs/swagger';
import { ERROR_RESPONSES, type ErrorCode } from '../errors/domain-error.js';
import { HttpErrorBody, statusName } from '../filters/http-exception.filter.js';

/** One error answer an operation documents: a domain error (its status from ERROR_RESPONSES), or one without a code. */
export interface DocumentedError {
  status: HttpStatus;
  code?: ErrorCode;
  description: string;
}

export function failsWith(code: ErrorCode, description: string): DocumentedError {
  return { status: ERROR_RESPONSES[code].status, code, description };
}

/** The validation pipe's refusal, or a body that is not JSON: `message` lists every problem, there is no `code`. */
export function invalidRequest(description: string): DocumentedError {
  return { status: HttpStatus.BAD_REQUEST, description };
}

export const BODY_TOO_LARGE: DocumentedError = {
  status: HttpStatus.PAYLOAD_TOO_LARGE,
  description: 'The JSON body is larger than 100 kB',
};

export const UNEXPECTED_FAILURE: DocumentedError = {
  status: HttpStatus.INTERNAL_SERVER_ERROR,
  description: 'An unexpected failure, such as an unreachable database; the body never carries its details',
};

/**
 * Documents an operation's (or every operation of a controller's) error answers: one response per status, with the
 * shared error body narrowed to that status and to the codes it may carry. A status must be documented in one call.
 */
export function ApiErrors(...errors: DocumentedError[]): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiExtraModels(HttpErrorBody), ...errorResponses(errors).map((response) => ApiResponse(response)));
}

/** The responses of `errors`, one per status; they refer to HttpErrorBody, which the document must then include. */
export function errorResponses(errors: DocumentedError[]): (ResponseObject & { status: HttpStatus })[] {
  const byStatus = new Map<HttpStatus, DocumentedError[]>();
  for (const error of errors) {
    byStatus.set(error.status, [...(byStatus.get(error.status) ?? []), error]);
  }
  return [...byStatus].map(([status, documented]) => {
    const codes = [...new Set(documented.flatMap((error) => (error.code === undefined ? [] : [error.code])))];
    return {
      status,
      description: documented.map((error) => (error.code === undefined ? '' : `\`${error.code}\`: `) + error.description).join('; '),
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: getSchemaPath(HttpErrorBody) },
              {
                type: 'object',
                properties: {
                  statusCode: { type: 'integer', enum: [status] },
                  ...(codes.length === 0 ? {} : { code: { type: 'string', enum: codes } }),
                },
              },
            ],
          },
          example: {
            statusCode: status,
            error: statusName(status),
            message: documented[0].description,
            ...(documented[0].code === undefined ? {} : { code: documented[0].code }),
          },
        },
      },
    };
  });
}

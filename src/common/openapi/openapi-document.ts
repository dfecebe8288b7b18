import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ASYNCAPI_PATH } from '../../protocol/index.js';
import { HttpErrorBody } from '../filters/http-exception.filter.js';
import { errorResponses, UNEXPECTED_FAILURE } from './error-responses.js';

const REQUEST_HEADER_FIELDS_TOO_LARGE = 431;

/** The security scheme of `/metrics`: the `METRICS_TOKEN` bearer, not a user's token. */
export const METRICS_SECURITY = 'metrics_token';

/** The OpenAPI document of the running service: what it accepts and answers, as configured. */
export function createOpenApiDocument(app: INestApplication, options: { metricsTokenRequired: boolean }): OpenAPIObject {
  let builder = new DocumentBuilder()
    .setTitle('Live dubbing service')
    .setDescription(
      'Beta 500 credits, enrolment and operations. The live protocol, WebSockets at /ws/live-dubbing and /ws/live-subtitles, ' +
        `is described by its AsyncAPI 3 document: [${ASYNCAPI_PATH}](${ASYNCAPI_PATH}). ` +
        'Every error answer is `{statusCode, error, message, code?}`; `code` is stable. A method a path does not support is a 405 ' +
        'with an `Allow` header.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token (HS256, with `exp`)' });
  if (options.metricsTokenRequired) {
    builder = builder.addSecurity(METRICS_SECURITY, { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN' });
  }
  const document = SwaggerModule.createDocument(app, builder.build(), { extraModels: [HttpErrorBody] });
  closeRequestBodies(document);
  documentAnswersOfEveryOperation(document);
  if (!options.metricsTokenRequired) {
    dropSecurity(document, METRICS_SECURITY);
  }
  return document;
}

/** The validation pipe refuses properties a body class does not declare (forbidNonWhitelisted); the schemas say so. */
function closeRequestBodies(document: OpenAPIObject): void {
  for (const operation of operations(document)) {
    const requestBody = operation.requestBody;
    const schema = requestBody === undefined || '$ref' in requestBody ? undefined : requestBody.content['application/json']?.schema;
    const name = schema !== undefined && '$ref' in schema ? schema.$ref.split('/').pop() : undefined;
    const body = name === undefined ? undefined : document.components?.schemas?.[name];
    if (body !== undefined && !('$ref' in body)) {
      body.additionalProperties = false;
    }
  }
}

/**
 * Any operation may fail unexpectedly (the database, for one, may be unreachable), and Node's HTTP server refuses a
 * request whose head is too large before the application sees it.
 */
function documentAnswersOfEveryOperation(document: OpenAPIObject): void {
  const [{ status, ...unexpectedFailure }] = errorResponses([UNEXPECTED_FAILURE]);
  for (const operation of operations(document)) {
    operation.responses[String(REQUEST_HEADER_FIELDS_TOO_LARGE)] = {
      description: 'The request line and headers exceed 16 kB; the HTTP server answers with an empty body',
    };
    operation.responses[String(status)] = unexpectedFailure;
  }
}

/** Without its token the scheme is not enforced, so the operations that name it are open and never answer its 401. */
function dropSecurity(document: OpenAPIObject, scheme: string): void {
  for (const operation of operations(document)) {
    if (operation.security?.some((requirement) => scheme in requirement)) {
      delete operation.security;
      delete operation.responses['401'];
    }
  }
}

function operations(document: OpenAPIObject) {
  return Object.values(document.paths).flatMap((item) =>
    [item.get, item.put, item.post, item.delete, item.patch, item.options, item.head, item.trace].filter(
      (operation) => operation !== undefined,
    ),
  );
}

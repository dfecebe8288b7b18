import { type INestApplication, RequestMethod, ValidationPipe } from '@nestjs/common';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { HttpExceptionFilter } from './common/filters/http-exception.filter.js';
import { requestLogging } from './common/logging.module.js';
import { methodNotAllowed } from './common/method-not-allowed.js';
import { createOpenApiDocument } from './common/openapi/openapi-document.js';
import { docsContentSecurityPolicy, securityHeaders } from './common/security-headers.js';
import { AppConfig } from './config/app-config.js';
import { LiveDubbingWsAdapter } from './live-dubbing/live-dubbing-ws.adapter.js';
import { ASYNCAPI_PATH, createAsyncApiDocument } from './protocol/index.js';
import { webClient } from './web/web-client.js';

const API_PREFIX = 'api/v1';
const DOCS_PATH = 'docs';

/** Everything the HTTP surface needs, shared by `main.ts` and the e2e harness so tests run the real thing. */
export function configureApp(app: INestApplication): void {
  // Middleware registered here runs before every route, Swagger's included.
  app.use(requestLogging());
  app.use(securityHeaders());
  app.use(methodNotAllowed(app));
  // The web client at `/` (README, "Web client"), with its own content security policy; API routes keep theirs.
  app.use(webClient());
  app.useLogger(app.get(Logger));
  app.useWebSocketAdapter(new LiveDubbingWsAdapter(app));
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
    }),
  );
  app.useGlobalFilters(new HttpExceptionFilter());
  app.enableShutdownHooks();
  const config = app.get(AppConfig);
  if (config.docs.enabled) {
    serveDocs(app, config);
  }
}

/**
 * Swagger UI at `/docs`, its JSON at `/docs-json`, and the live WebSocket protocol's AsyncAPI document at
 * `/docs/asyncapi.json` (docs/protocol.md); when not served, all are a 404 like any unknown route.
 */
function serveDocs(app: INestApplication, config: AppConfig): void {
  app.use(`/${DOCS_PATH}`, docsContentSecurityPolicy());
  const asyncApi = createAsyncApiDocument();
  app.getHttpAdapter().get(ASYNCAPI_PATH, (_request: unknown, response: { json(body: unknown): void }) => response.json(asyncApi));
  SwaggerModule.setup(DOCS_PATH, app, createOpenApiDocument(app, { metricsTokenRequired: config.metrics.token !== undefined }));
}

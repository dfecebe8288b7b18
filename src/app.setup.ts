import { type INestApplication, RequestMethod, ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { HttpExceptionFilter } from './common/filters/http-exception.filter.js';
import { docsContentSecurityPolicy, securityHeaders } from './common/security-headers.js';
import { AppConfig } from './config/app-config.js';
import { LiveDubbingWsAdapter } from './live-dubbing/live-dubbing-ws.adapter.js';

const API_PREFIX = 'api/v1';
const DOCS_PATH = 'docs';

/** Everything the HTTP surface needs, shared by `main.ts` and the e2e harness so tests run the real thing. */
export function configureApp(app: INestApplication): void {
  // Middleware registered here runs before every route, Swagger's included.
  app.use(securityHeaders());
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
  if (app.get(AppConfig).docs.enabled) {
    serveDocs(app);
  }
}

/** Swagger UI at `/docs` and its JSON at `/docs-json`; when not served, both are a 404 like any unknown route. */
function serveDocs(app: INestApplication): void {
  app.use(`/${DOCS_PATH}`, docsContentSecurityPolicy());
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Live dubbing service')
      .setDescription(
        'Beta 500 credits, enrolment and operations. The live dubbing protocol is a WebSocket at /ws/live-dubbing (see README).',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup(DOCS_PATH, app, document);
}

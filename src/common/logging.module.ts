import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import { pinoHttp } from 'pino-http';
import { AppConfig } from '../config/app-config.js';

const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Structured JSON logs; in development on a terminal, the same lines pretty-printed for a person. HTTP requests
 * are logged by `requestLogging`, not by this module's own middleware: that one runs each request inside an
 * AsyncLocalStorage, which turns on Node's promise hooks for the whole process, so every promise of every WebSocket
 * session paid for them (a tenth of an opening's CPU).
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          transport:
            config.nodeEnv === 'development' && process.stdout.isTTY
              ? { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } }
              : undefined,
          redact: ['req.headers.authorization', 'req.headers.cookie'],
        },
        forRoutes: [],
      }),
    }),
  ],
})
export class LoggingModule {}

/**
 * Logs every HTTP request once answered, with a request id taken from the caller or made here and echoed in the
 * response; errors logged while answering carry it too (see HttpExceptionFilter).
 */
export function requestLogging(): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
  return pinoHttp({
    logger: PinoLogger.root,
    genReqId: (request, response) => {
      const given = request.headers[REQUEST_ID_HEADER];
      const id = typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
      response.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    autoLogging: { ignore: (request) => request.url === '/health' || request.url === '/metrics' },
  });
}

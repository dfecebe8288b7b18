import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';

const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Structured JSON logs; in development on a terminal, the same lines pretty-printed for a person. Every HTTP
 * request carries a request id (taken from the caller or made here).
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
          genReqId: (request, response) => {
            const given = request.headers[REQUEST_ID_HEADER];
            const id = typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
            response.setHeader(REQUEST_ID_HEADER, id);
            return id;
          },
          redact: ['req.headers.authorization', 'req.headers.cookie'],
          autoLogging: { ignore: (request) => request.url === '/health' || request.url === '/metrics' },
        },
      }),
    }),
  ],
})
export class LoggingModule {}

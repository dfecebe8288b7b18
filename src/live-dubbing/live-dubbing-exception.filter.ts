import { ArgumentsHost, Catch, Logger, type WsExceptionFilter } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { internalError, LiveDubbingError } from './live-dubbing.protocol.js';
import { LiveSessionsService } from './live-sessions.service.js';

/** The one place a WebSocket failure becomes an error message and a close code; internals never reach the client. */
@Catch()
export class LiveDubbingExceptionFilter implements WsExceptionFilter {
  private readonly logger = new Logger(LiveDubbingExceptionFilter.name);

  constructor(private readonly sessions: LiveSessionsService) {}

  async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    const socket = host.switchToWs().getClient<WebSocket>();
    const error = exception instanceof LiveDubbingError ? exception : internalError();
    if (!(exception instanceof LiveDubbingError)) {
      this.logger.error({ err: exception }, 'Live dubbing handler failed');
    }
    let session;
    try {
      session = this.sessions.get(socket);
    } catch {
      this.sessions.reject(socket, error);
      return;
    }
    await this.sessions.fail(session, error);
  }
}

import { ArgumentsHost, Catch, type WsExceptionFilter } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { LiveSessionsService } from './live-sessions.service.js';

/** Every failure of a live gateway's guards, interceptor and handlers reaches the client through `failSocket`. */
@Catch()
export class LiveDubbingExceptionFilter implements WsExceptionFilter {
  constructor(private readonly sessions: LiveSessionsService) {}

  catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    return this.sessions.failSocket(host.switchToWs().getClient<WebSocket>(), exception);
  }
}

import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { WebSocket } from 'ws';
import { BetaEnrollmentService } from '../beta/enrollment/beta-enrollment.service.js';
import { AppConfig } from '../config/app-config.js';
import { LiveSessionsService } from './live-sessions.service.js';

/**
 * Step 7 of the opening: once the guards have passed, the session's record is written, and a Beta 500 user's
 * session holds its estimated cost (at its feature's rate) before it starts. With too few credits the client gets
 * the insufficient-credits error and close 4003. Whatever refuses the opening after this point ends the session
 * through its owner, which releases the hold.
 */
@Injectable()
export class BetaPreauthorizationInterceptor implements NestInterceptor {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly enrollment: BetaEnrollmentService,
    private readonly config: AppConfig,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const session = this.sessions.get(context.switchToWs().getClient<WebSocket>());
    if (session.resuming) {
      // A resumed session keeps its record and its hold.
      return next.handle();
    }
    // The membership as read once the user was known (see OpeningReads), never older than this opening.
    const beta = this.config.beta.enabled && (await (session.reads?.beta ?? this.enrollment.isMember(session.user!.email)));
    await this.sessions.register(session, { beta });
    if (beta && session.phase === 'opening') {
      await this.sessions.holdCredits(session);
    }
    return next.handle();
  }
}

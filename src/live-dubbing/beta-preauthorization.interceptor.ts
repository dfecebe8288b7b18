import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { WebSocket } from 'ws';
import { BetaEnrollmentService } from '../beta/enrollment/beta-enrollment.service.js';
import { BetaSessionsService } from '../beta/sessions/beta-sessions.service.js';
import { AppConfig } from '../config/app-config.js';
import { insufficientCredits } from './live-dubbing.protocol.js';
import { LiveSessionsService } from './live-sessions.service.js';

/**
 * Step 7: a Beta 500 user's session holds its estimated cost (at its feature's rate) before it starts. With too few credits
 * the client gets the insufficient-credits error and close 4003, and no beta session exists. A client that left
 * while the hold was placed leaves no beta session behind.
 */
@Injectable()
export class BetaPreauthorizationInterceptor implements NestInterceptor {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly enrollment: BetaEnrollmentService,
    private readonly beta: BetaSessionsService,
    private readonly config: AppConfig,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const session = this.sessions.get(context.switchToWs().getClient<WebSocket>());
    const user = session.user!;
    if (this.config.beta.enabled && (await this.enrollment.isMember(user.email))) {
      const start = await this.beta.start(user, session.feature.name, session.feature.creditsPerSecond(this.config));
      if (!start.ok) {
        throw insufficientCredits(start.remainingCredits);
      }
      await this.sessions.attachBeta(session, start);
    }
    return next.handle();
  }
}

import { BeforeApplicationShutdown, Inject, Logger, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayConnection, OnGatewayDisconnect, SubscribeMessage } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { BetaSessionSignals, type BetaSessionSignal } from '../beta/sessions/beta-session-signals.js';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import type { DubbingEvent } from '../dubbing/dubbing-pipeline.js';
import { DubbingService } from '../dubbing/dubbing.service.js';
import { DubbingProviderError } from '../dubbing/providers/dubbing-provider.error.js';
import { QuotaService } from '../quota/quota.service.js';
import { BetaPreauthorizationInterceptor } from './beta-preauthorization.interceptor.js';
import { LiveDubbingExceptionFilter } from './live-dubbing-exception.filter.js';
import { AuthMessageGuard, ChannelGuard, ConnectionRateGuard, SubscriptionTierGuard, WsTokenGuard } from './live-dubbing.guards.js';
import {
  AUDIO_FORMAT,
  ClientMessageType,
  CloseCode,
  creditsExhausted,
  ErrorCode,
  INVALID_MESSAGE_EVENT,
  internalError,
  LiveDubbingError,
  protocolError,
  quotaExceeded,
  speechServiceUnavailable,
} from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';
import type { LiveSession } from './live-session.js';
import { LiveQuotaMeter } from './live-quota-meter.js';
import { LiveSessionsService } from './live-sessions.service.js';
import { PendingSockets } from './pending-sockets.js';

const NOT_AUTHENTICATED = 'The first message must be auth';

/**
 * The live session protocol shared by the live gateways (dubbing, subtitles). Opening (SPEC §3.1) is
 * Nest's own machinery, in order: guards (message, token, rate limit, tier, channel), the beta
 * pre-authorization interceptor, then the handler (quota, pipeline, ready). Every refusal reaches the
 * client through LiveDubbingExceptionFilter. Audio frames, ten a second per session, skip the per-message
 * handler context: the adapter hands them to LiveSessionsService.acceptAudio, whose refusals take the same
 * failSocket path as the filter's. Subclasses name the feature and its path.
 */
@UseFilters(LiveDubbingExceptionFilter)
export abstract class LiveGateway implements OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown {
  private readonly logger = new Logger(this.constructor.name);

  protected abstract readonly feature: LiveFeature;

  @Inject(PendingSockets) private readonly pendingSockets!: PendingSockets;

  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly quota: QuotaService,
    private readonly quotaMeter: LiveQuotaMeter,
    private readonly dubbing: DubbingService,
    private readonly signals: BetaSessionSignals,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  handleConnection(socket: WebSocket): void {
    const session = this.sessions.open(socket, this.feature);
    const cancel = this.clock.setTimer(this.config.ws.authTimeoutMs, () => {
      if (session.phase === 'awaiting_auth') {
        return this.sessions.fail(
          session,
          new LiveDubbingError(ErrorCode.AuthTimeout, CloseCode.AuthTimeout, 'No auth message received in time'),
        );
      }
    });
    session.onEnd(cancel);
    socket.once('close', cancel);
  }

  async handleDisconnect(socket: WebSocket): Promise<void> {
    try {
      await this.sessions.end(this.sessions.get(socket), 'disconnected');
    } catch {
      // already ended
    }
  }

  @SubscribeMessage(ClientMessageType.Auth)
  @UseGuards(AuthMessageGuard, WsTokenGuard, ConnectionRateGuard, SubscriptionTierGuard, ChannelGuard)
  @UseInterceptors(BetaPreauthorizationInterceptor)
  async onAuth(@ConnectedSocket() socket: WebSocket): Promise<object | undefined> {
    const session = this.sessions.get(socket);
    if (session.phase !== 'opening') {
      return undefined;
    }
    const user = session.user!;
    const quota = await this.quota.startSession({ id: user.id, tier: user.tier }, this.feature.name);
    if (!quota.allowed) {
      throw quotaExceeded(quota.remaining);
    }
    if (!(await this.sessions.attachQuota(session, quota.sessionId))) {
      return undefined;
    }
    this.quotaMeter.track(session, quota.runsOutAt);
    this.followCredits(session);
    session.pipeline = this.dubbing.createPipeline({
      sessionId: session.id,
      sourceLang: session.auth!.source_lang ?? session.channel!.sourceLanguage,
      targetLang: session.auth!.target_lang,
      synthesize: this.feature.synthesize,
      onEvent: (event) => this.deliver(session, event),
      onError: (error) => {
        // Provider errors carry no credential (DubbingProviderError's contract); the client gets only the code.
        this.logger.error({ session_id: session.id, err: error }, 'Dubbing pipeline failed');
        void this.sessions.fail(session, error instanceof DubbingProviderError ? speechServiceUnavailable() : internalError());
      },
    });
    if (session.phase !== 'opening') {
      return undefined;
    }
    session.phase = 'live';
    this.pendingSockets.authenticated(socket);
    return {
      type: 'ready',
      session_id: session.id,
      beta:
        session.betaSessionId === undefined
          ? null
          : { session_id: session.betaSessionId, remaining_credits: session.betaRemaining, estimated_cost: session.betaEstimate },
      audio: AUDIO_FORMAT,
      quota: quota.remaining,
    };
  }

  @SubscribeMessage(ClientMessageType.Stop)
  async onStop(@ConnectedSocket() socket: WebSocket): Promise<void> {
    const session = this.sessions.live(socket, NOT_AUTHENTICATED);
    await this.sessions.end(session, 'user_stopped', {
      message: { type: 'session_ended', reason: 'user_stopped' },
      closeCode: CloseCode.Normal,
      closeReason: 'Session ended',
    });
  }

  @SubscribeMessage(ClientMessageType.Ping)
  onPing(@ConnectedSocket() socket: WebSocket): object {
    this.sessions.live(socket, NOT_AUTHENTICATED);
    return { type: 'pong' };
  }

  @SubscribeMessage(INVALID_MESSAGE_EVENT)
  onInvalid(@MessageBody() data: { reason: string }): never {
    throw protocolError(data.reason);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sessions.endAll(this.feature, 'server_shutdown', {
      message: { type: 'session_ended', reason: 'server_shutdown' },
      closeCode: CloseCode.GoingAway,
      closeReason: 'Server shutting down',
    });
  }

  private deliver(session: LiveSession, event: DubbingEvent): void {
    if (event.type === 'audio') {
      this.sessions.sendAudio(session, event.pcm, event.release);
    } else {
      this.sessions.send(session, event);
    }
  }

  /** Credit signals of the beta session reach this socket; exhaustion and revocation end the session. */
  private followCredits(session: LiveSession): void {
    if (session.betaSessionId === undefined) {
      return;
    }
    const unsubscribe = this.signals.subscribe(session.betaSessionId, (signal: BetaSessionSignal) => {
      switch (signal.type) {
        case 'credits':
          this.sessions.send(session, {
            type: 'credits',
            remaining_credits: signal.remainingCredits,
            session_charged: signal.sessionCharged,
          });
          break;
        case 'credit_warning':
          this.sessions.send(session, {
            type: 'credit_warning',
            remaining_credits: signal.remainingCredits,
            threshold_percent: signal.thresholdPercent,
          });
          break;
        case 'ended':
          if (signal.reason === 'credits_exhausted') {
            void this.sessions.fail(session, creditsExhausted());
          } else if (signal.reason === 'beta_revoked') {
            void this.sessions.fail(
              session,
              new LiveDubbingError(ErrorCode.BetaRevoked, CloseCode.InsufficientCredits, 'Beta access revoked', {
                upgrade_required: true,
                session_ended: true,
              }),
            );
          }
          break;
      }
    });
    session.onEnd(unsubscribe);
  }
}

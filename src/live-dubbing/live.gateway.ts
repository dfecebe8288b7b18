import { DomainError } from '../common/errors/domain-error.js';
import { Logger, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ConnectedSocket, MessageBody, OnGatewayConnection, SubscribeMessage } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import type { DubbingEvent } from '../dubbing/dubbing-pipeline.js';
import { DubbingService } from '../dubbing/dubbing.service.js';
import { DubbingProviderError } from '../dubbing/providers/dubbing-provider.error.js';
import { BetaPreauthorizationInterceptor } from './beta-preauthorization.interceptor.js';
import { LiveDubbingExceptionFilter } from './live-dubbing-exception.filter.js';
import {
  AuthMessageGuard,
  ChannelGuard,
  ConnectionRateGuard,
  ControlMessageGuard,
  SessionCapGuard,
  SubscriptionTierGuard,
  WsTokenGuard,
} from './live-dubbing.guards.js';
import {
  AUDIO_FORMAT,
  ClientMessageType,
  CloseCode,
  ErrorCode,
  INVALID_MESSAGE_EVENT,
  internalError,
  protocolError,
  quotaExceeded,
  speechServiceUnavailable,
} from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';
import type { PongMessage, QuotaMinutes } from '../protocol/index.js';
import type { LiveSession } from './live-session.js';
import { LiveQuotaMeter } from './live-quota-meter.js';
import { LiveSessionsService } from './live-sessions.service.js';

const NOT_AUTHENTICATED = 'The first message must be auth';

/**
 * The live session protocol shared by the live gateways (dubbing, subtitles). Opening (docs/protocol.md#opening-a-session) is
 * Nest's own machinery, in order: guards (message, token, rate limit, tier, session cap, channel), the beta
 * pre-authorization interceptor (the session's record, then the hold), then the handler (quota, pipeline, ready);
 * LiveSessionsService owns the session through all of it. Every refusal reaches the
 * client through LiveDubbingExceptionFilter. Audio frames, ten a second per session, skip the per-message
 * handler context: the adapter hands them to LiveSessionsService.acceptAudio, whose refusals take the same
 * failSocket path as the filter's. Subclasses name the feature and its path.
 */
@UseFilters(LiveDubbingExceptionFilter)
export abstract class LiveGateway implements OnGatewayConnection {
  private readonly logger = new Logger(this.constructor.name);

  protected abstract readonly feature: LiveFeature;

  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly quotaMeter: LiveQuotaMeter,
    private readonly dubbing: DubbingService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  handleConnection(socket: WebSocket): void {
    const session = this.sessions.open(socket, this.feature);
    if (session === undefined) {
      return;
    }
    const cancel = this.clock.setTimer(this.config.ws.authTimeoutMs, () => {
      if (session.phase === 'awaiting_auth') {
        return this.sessions.fail(session, new DomainError(ErrorCode.AuthTimeout, 'No auth message received in time'));
      }
    });
    session.onEnd(cancel);
    socket.once('close', cancel);
  }

  @SubscribeMessage(ClientMessageType.Auth)
  @UseGuards(AuthMessageGuard, WsTokenGuard, ConnectionRateGuard, SubscriptionTierGuard, SessionCapGuard, ChannelGuard)
  @UseInterceptors(BetaPreauthorizationInterceptor)
  async onAuth(@ConnectedSocket() socket: WebSocket): Promise<undefined> {
    const session = this.sessions.get(socket);
    if (session.phase !== 'opening') {
      return undefined;
    }
    const quota = await this.openQuota(session);
    if (quota === undefined || session.phase !== 'opening') {
      return undefined;
    }
    this.quotaMeter.track(session, quota.runsOutAt);
    session.pipeline = this.dubbing.createPipeline({
      sessionId: session.id,
      sourceLang: session.sourceLang!,
      targetLang: session.targetLang!,
      synthesize: this.feature.synthesize,
      onEvent: (event) => this.deliver(session, event),
      onError: (error) => {
        // Provider errors carry no credential (DubbingProviderError's contract); the client gets only the code.
        this.logger.error({ session_id: session.id, err: error }, 'Dubbing pipeline failed');
        void this.sessions.fail(session, error instanceof DubbingProviderError ? speechServiceUnavailable() : internalError());
      },
    });
    this.sessions.goLive(session, {
      type: 'ready',
      ...(session.resuming ? { resumed: true } : {}),
      session_id: session.id,
      resume_token: session.resumeToken!,
      beta:
        session.betaSessionId === undefined
          ? null
          : {
              session_id: session.betaSessionId,
              remaining_credits: session.betaRemaining!,
              estimated_cost: session.betaEstimate!,
              granted_credits: session.betaGranted!,
              credits_per_second: session.betaRate!,
            },
      audio: AUDIO_FORMAT,
      quota: quota.remaining,
    });
    return undefined;
  }

  /**
   * Step 8: a new session's quota session, or a resumed session's own, going on from now; the quota error when no
   * minutes are left. Undefined when a resume did not go through (the session is suspended again).
   */
  private async openQuota(session: LiveSession): Promise<{ remaining: QuotaMinutes; runsOutAt: number | null } | undefined> {
    if (session.resuming) {
      const quota = await this.sessions.resume(session);
      if (quota?.exceeded === true) {
        throw quotaExceeded(quota.remaining);
      }
      return quota;
    }
    const quota = await this.sessions.startQuota(session);
    if (!quota.allowed) {
      throw quotaExceeded(quota.remaining);
    }
    return quota;
  }

  @SubscribeMessage(ClientMessageType.Stop)
  @UseGuards(ControlMessageGuard)
  async onStop(@ConnectedSocket() socket: WebSocket): Promise<void> {
    const session = this.sessions.live(socket, NOT_AUTHENTICATED);
    await this.sessions.end(session, 'user_stopped', {
      message: { type: 'session_ended', reason: 'user_stopped' },
      closeCode: CloseCode.Normal,
      closeReason: 'Session ended',
    });
  }

  @SubscribeMessage(ClientMessageType.Ping)
  @UseGuards(ControlMessageGuard)
  onPing(@ConnectedSocket() socket: WebSocket): PongMessage | undefined {
    this.sessions.live(socket, NOT_AUTHENTICATED);
    return this.sessions.inDoubt() ? undefined : { type: 'pong' };
  }

  /**
   * The client ended its utterance (push-to-talk released): the speech segment in progress is transcribed,
   * translated and dubbed now, without waiting for the voice-activity pause (docs/protocol.md, "Client → server").
   */
  @SubscribeMessage(ClientMessageType.Flush)
  @UseGuards(ControlMessageGuard)
  onFlush(@ConnectedSocket() socket: WebSocket): void {
    this.sessions.live(socket, NOT_AUTHENTICATED).pipeline?.cut();
  }

  @SubscribeMessage(INVALID_MESSAGE_EVENT)
  onInvalid(@MessageBody() data: { reason: string }): never {
    throw protocolError(data.reason);
  }

  private deliver(session: LiveSession, event: DubbingEvent): void {
    if (event.type === 'audio') {
      this.sessions.sendAudio(session, event.pcm, event.release);
    } else {
      this.sessions.send(session, event);
    }
  }
}

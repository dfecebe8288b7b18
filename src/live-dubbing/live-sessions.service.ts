import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { BetaEndReason } from '../beta/sessions/beta-session.schema.js';
import { BetaSessionsService } from '../beta/sessions/beta-sessions.service.js';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { QuotaService } from '../quota/quota.service.js';
import { AudioRateMeter, validateAudioFrame } from './audio-input.js';
import {
  CloseCode,
  END_OUTCOMES,
  endCauseOf,
  ErrorCode,
  internalError,
  LiveDubbingError,
  protocolError,
  type EndCause,
  type QuotaEndStatus,
} from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';
import { LiveSession } from './live-session.js';

/** Server-side send buffer above which dubbed audio is dropped for a slow client rather than queued. */
export const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * The live sessions of this instance. Every way a session ends goes through `end`, which runs once:
 * timers and the pipeline stop, the beta and quota sessions end with the reasons of SPEC §3.3, then
 * the client gets its last message and close code.
 */
@Injectable()
export class LiveSessionsService {
  private readonly logger = new Logger(LiveSessionsService.name);
  private readonly sessions = new Map<WebSocket, LiveSession>();

  constructor(
    private readonly beta: BetaSessionsService,
    private readonly quota: QuotaService,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  open(socket: WebSocket, feature: LiveFeature): LiveSession {
    const session = new LiveSession(randomUUID(), socket, feature, new AudioRateMeter(this.clock));
    this.sessions.set(socket, session);
    this.metrics.liveSessions.inc();
    return session;
  }

  get(socket: WebSocket): LiveSession {
    const session = this.sessions.get(socket);
    if (session === undefined) {
      throw new LiveDubbingError(ErrorCode.ProtocolError, CloseCode.ProtocolError, 'Unknown connection');
    }
    return session;
  }

  /** The socket's session if it is live; the protocol error `notLive` otherwise. */
  live(socket: WebSocket, notLive: string): LiveSession {
    const session = this.get(socket);
    if (session.phase !== 'live') {
      throw protocolError(notLive);
    }
    return session;
  }

  count(): number {
    return this.sessions.size;
  }

  send(session: LiveSession, message: object): void {
    if (session.socket.readyState === session.socket.OPEN) {
      session.socket.send(JSON.stringify(message));
    }
  }

  /**
   * Dubbed audio for a client that cannot keep up is dropped, never buffered without bound. `release` runs once
   * the socket no longer reads `pcm`: written, failed, or never sent.
   */
  sendAudio(session: LiveSession, pcm: Buffer, release?: () => void): void {
    if (session.socket.readyState !== session.socket.OPEN) {
      release?.();
      return;
    }
    if (session.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      session.droppedAudioSegments++;
      this.metrics.droppedAudio.inc();
      release?.();
      return;
    }
    session.socket.send(pcm, { binary: true }, release);
  }

  /**
   * One binary frame of a live session's audio (the hottest path: ten frames a second per session, so the
   * adapter calls it directly rather than through a handler's per-message context). Throws the protocol
   * error for audio before the session is live, a bad frame, or a flood; `failSocket` turns it into the reply.
   */
  acceptAudio(socket: WebSocket, frame: Buffer): void {
    const session = this.live(socket, 'Audio before auth: the first message must be auth');
    const check = validateAudioFrame(frame, this.config.ws.maxAudioFrameBytes);
    if (!check.ok) {
      throw protocolError(check.message);
    }
    if (!session.meter.accept(frame.length)) {
      throw protocolError('Audio is arriving more than 2× faster than real time');
    }
    session.pipeline?.pushAudio(frame);
  }

  /** The one place a WebSocket failure becomes an error message and a close code; internals never reach the client. */
  async failSocket(socket: WebSocket, exception: unknown): Promise<void> {
    const error = exception instanceof LiveDubbingError ? exception : internalError();
    if (!(exception instanceof LiveDubbingError)) {
      this.logger.error({ err: exception }, 'Live dubbing handler failed');
    }
    const session = this.sessions.get(socket);
    if (session === undefined) {
      this.reject(socket, error);
      return;
    }
    await this.fail(session, error);
  }

  /** Ends the session because of `error`: its error message and close code. */
  fail(session: LiveSession, error: LiveDubbingError): Promise<void> {
    const cause = session.phase === 'opening' && error.code === ErrorCode.QuotaExceeded ? 'quota_failed' : endCauseOf(error);
    this.metrics.liveErrors.inc({ code: error.code });
    return this.end(session, cause, { message: error.toMessage(), closeCode: error.closeCode, closeReason: error.closeReason });
  }

  /**
   * Records the beta session started for an opening session. If the client left while it was starting,
   * the beta session ends at once, at the instant it started, and this returns false.
   */
  async attachBeta(
    session: LiveSession,
    start: { sessionId: string; startedAt: number; estimatedCost: number; remainingCredits: number },
  ): Promise<boolean> {
    if (session.phase === 'ended') {
      await this.endBeta(session, start.sessionId, END_OUTCOMES[session.endCause!].beta, start.startedAt);
      return false;
    }
    session.betaSessionId = start.sessionId;
    session.betaStartedAt = start.startedAt;
    session.betaEstimate = start.estimatedCost;
    session.betaRemaining = start.remainingCredits;
    return true;
  }

  /** Records the quota session of an opening session; ends it at once if the client left meanwhile. */
  async attachQuota(session: LiveSession, quotaSessionId: string): Promise<boolean> {
    if (session.phase === 'ended') {
      await this.endQuota(session, quotaSessionId, END_OUTCOMES[session.endCause!].quota);
      return false;
    }
    session.quotaSessionId = quotaSessionId;
    return true;
  }

  async end(session: LiveSession, cause: EndCause, farewell?: { message?: object; closeCode: number; closeReason: string }): Promise<void> {
    if (session.phase === 'ended') {
      return;
    }
    session.phase = 'ended';
    session.endCause = cause;
    session.runCleanups();
    session.pipeline?.close();
    const outcome = END_OUTCOMES[cause];
    // A session refused before it went live has used nothing: it ends at the instant it started.
    const betaEndAt = cause === 'quota_failed' ? session.betaStartedAt : undefined;
    const [betaEnd] = await Promise.all([
      session.betaSessionId === undefined ? undefined : this.endBeta(session, session.betaSessionId, outcome.beta, betaEndAt),
      session.quotaSessionId === undefined ? undefined : this.endQuota(session, session.quotaSessionId, outcome.quota),
    ]);
    this.sessions.delete(session.socket);
    this.metrics.liveSessions.dec();
    this.metrics.liveSessionsEnded.inc({ cause });
    this.logger.log(
      { session_id: session.id, beta_session_id: session.betaSessionId, cause, remaining_credits: betaEnd?.remainingCredits },
      'Live dubbing session ended',
    );
    if (farewell !== undefined) {
      if (farewell.message !== undefined) {
        const message =
          'type' in farewell.message && farewell.message.type === 'session_ended' && betaEnd !== undefined
            ? { ...farewell.message, remaining_credits: betaEnd.remainingCredits, session_charged: betaEnd.sessionCharged }
            : farewell.message;
        this.send(session, message);
      }
      if (session.socket.readyState === session.socket.OPEN || session.socket.readyState === session.socket.CONNECTING) {
        session.socket.close(farewell.closeCode, farewell.closeReason);
      }
    }
  }

  /** Closes a socket that never became a session (or whose session is gone) with an error. */
  reject(socket: WebSocket, error: LiveDubbingError): void {
    this.metrics.liveErrors.inc({ code: error.code });
    if (socket.readyState === socket.OPEN) {
      socket.send(JSON.stringify(error.toMessage()));
      socket.close(error.closeCode, error.closeReason);
    }
  }

  async endAll(
    feature: LiveFeature,
    cause: EndCause,
    farewell: { message?: object; closeCode: number; closeReason: string },
  ): Promise<void> {
    const ending = [...this.sessions.values()].filter((session) => session.feature === feature);
    await Promise.all(ending.map((session) => this.end(session, cause, farewell)));
  }

  private endBeta(session: LiveSession, betaSessionId: string, reason: BetaEndReason, at?: number) {
    return this.beta.end(betaSessionId, reason, at).catch((error: unknown) => this.logFailure('beta', session, error));
  }

  private endQuota(session: LiveSession, quotaSessionId: string, status: QuotaEndStatus) {
    return this.quota.endSession(quotaSessionId, status).catch((error: unknown) => this.logFailure('quota', session, error));
  }

  private logFailure(part: string, session: LiveSession, error: unknown): undefined {
    this.logger.error(
      { session_id: session.id, err: error },
      `Ending the ${part} session failed; reconcile and instance-loss checks will finish it`,
    );
    return undefined;
  }
}

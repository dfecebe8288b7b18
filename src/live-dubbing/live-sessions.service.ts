import { DomainError } from '../common/errors/domain-error.js';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { BetaSessionSignals, type BetaSessionSignal } from '../beta/sessions/beta-session-signals.js';
import { BetaSessionsService } from '../beta/sessions/beta-sessions.service.js';
import { InstanceIdentity } from '../common/instance-identity.js';
import { DatabaseHealth } from '../database/database-health.js';
import { isDatabaseUnreachableError } from '../database/mongo-errors.js';
import { Clock, type CancelTimer } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { QuotaService } from '../quota/quota.service.js';
import { UsersService } from '../users/users.service.js';
import { AudioRateMeter, validateAudioFrame } from './audio-input.js';
import { closeSocket } from './close-socket.js';
import type { AuthMessage } from './auth-message.dto.js';
import {
  accessRevoked,
  betaRevoked,
  CloseCode,
  creditsExhausted,
  END_OUTCOMES,
  endCauseOf,
  ErrorCode,
  insufficientCredits,
  internalError,
  protocolError,
  resumeFailed,
  serviceUnavailable,
  sessionMoved,
  type EndCause,
} from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';
import { LiveSession, type SuspendCause } from './live-session.js';
import { lostAfterMs } from './live-session-sweeper.js';
import { LiveSessionsRepository, type LiveSessionRecord } from './live-sessions.repository.js';
import type { QuotaRecordResult } from '../quota/quota.service.js';
import { PendingSockets } from './pending-sockets.js';
import { SessionSlots } from './session-slots.js';
import type {
  CreditsMessage,
  CreditWarningMessage,
  ErrorMessage,
  ReadyMessage,
  ReconnectMessage,
  ServerMessage,
  SessionEndedMessage,
  UsageSummary,
} from '../protocol/index.js';

/** Server-side send buffer above which dubbed audio is dropped for a slow client rather than queued. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Options of every audio frame sent: one object, not one per frame (ws reads them, never keeps them). */
const BINARY = Object.freeze({ binary: true });
/** A failed end is written again after 0.5 s, then twice as late each time, at most every 10 s, until it lands. */
const REDRIVE_FIRST_MS = 500;
const REDRIVE_MAX_MS = 10_000;
/** A resume that lost its compare-and-set to an owner's heartbeat reads the session again, this many times. */
const RESUME_ATTEMPTS = 3;
/**
 * An error that ends a live session waits at most this long for the end's first writes, to carry the usage summary;
 * it goes without one rather than keep the client waiting on a slow database.
 */
const SUMMARY_WAIT_MS = 2_000;

/** `idle_warning` comes this long before the idle timeout, or halfway through a shorter one (docs/protocol.md, "Idle sessions"). */
const IDLE_WARNING_MS = 10_000;

/** How a connection is closed: its last message (src/protocol types every message the server sends), then the close. */
interface Farewell {
  message?: SessionEndedMessage | ErrorMessage | ReconnectMessage;
  closeCode: number;
  closeReason: string;
}

/**
 * The one owner of this instance's live sessions (docs/protocol.md, "A session's life"). It alone moves a session
 * through its phases, starts and ends its beta and quota sessions, and keeps its record in the database: a
 * heartbeat every WS_HEARTBEAT_MS for every session it holds, conditioned on its owner epoch, so a session another
 * instance ended meanwhile is let go (4409) and never served or charged again here. An end whose writes fail is
 * written again until it lands; charging stops at the instant the session ended, however late that is.
 */
@Injectable()
export class LiveSessionsService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(LiveSessionsService.name);
  private readonly sessions = new Map<WebSocket, LiveSession>();
  /** Sessions whose record this instance holds (live, or ending until the end is written): the heartbeat's. */
  private readonly held = new Map<string, LiveSession>();
  private cancelHeartbeat?: CancelTimer;
  /** The heartbeat's database round in flight: a tick never starts a second one behind a frozen database. */
  private round?: Promise<void>;
  /** While the database is unreachable: the instant live sessions can no longer go on without it (§ outage). */
  private cancelOutage?: CancelTimer;
  /** When the last heartbeat round that landed began: until then, nobody else could have taken a session over. */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private accepting = true;

  constructor(
    private readonly records: LiveSessionsRepository,
    private readonly pending: PendingSockets,
    private readonly beta: BetaSessionsService,
    private readonly signals: BetaSessionSignals,
    private readonly quota: QuotaService,
    private readonly users: UsersService,
    private readonly instance: InstanceIdentity,
    private readonly metrics: MetricsService,
    private readonly health: DatabaseHealth,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly slots: SessionSlots,
  ) {
    this.health.onChange((reachable) => (reachable ? this.onDatabaseBack() : this.onDatabaseLost()));
    this.beta.useOwnership({
      databaseReachable: () => this.health.reachable,
      holdSpent: (betaSessionId, balanceSpent) => this.onHoldSpentOffline(betaSessionId, balanceSpent),
      prove: async () => {
        await this.proveHeld();
        return this.confirmedAt;
      },
      inDoubt: () => this.inDoubt(),
      served: () =>
        new Map(
          [...this.held.values()]
            .filter((session) => session.betaSessionId !== undefined && session.phase === 'live')
            .map((session) => [session.betaSessionId!, { lastHeardAt: session.lastHeardAt, epoch: session.epoch }]),
        ),
    });
  }

  /** A new socket's session, or undefined when this instance is shutting down (the socket is closed 1012). */
  open(socket: WebSocket, feature: LiveFeature): LiveSession | undefined {
    if (!this.accepting) {
      closeSocket(socket, CloseCode.ServiceRestart, 'Server restarting: reconnect to another instance');
      return undefined;
    }
    const session = new LiveSession(randomUUID(), socket, feature, new AudioRateMeter(this.clock));
    session.lastHeardAt = this.clock.now();
    this.sessions.set(socket, session);
    this.metrics.liveSessions.inc();
    // Every frame is heard through `heard`, called by the adapter's one 'message' listener: a second listener would make
    // ws copy the socket's listener list on each of its ten frames a second.
    socket.on('pong', () => {
      session.lastHeardAt = this.clock.now();
      session.unansweredPings = 0;
    });
    // A close frame means the client left now; a connection lost without one is suspended, charged up to when its
    // client was last heard from, and waits for a resume.
    socket.once('close', (code: number) => {
      if (code === CloseCode.Abnormal) {
        void this.suspend(session, 'disconnected', session.lastHeardAt);
      } else {
        void this.end(session, 'disconnected');
      }
    });
    return session;
  }

  /** The client sent a frame (any frame, even one that is refused): it was heard from now. */
  heard(socket: WebSocket): void {
    const session = this.sessions.get(socket);
    if (session !== undefined) {
      session.lastHeardAt = this.clock.now();
    }
  }

  get(socket: WebSocket): LiveSession {
    const session = this.sessions.get(socket);
    if (session === undefined) {
      throw new DomainError(ErrorCode.ProtocolError, 'Unknown connection');
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

  send(session: LiveSession, message: ServerMessage): void {
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
    session.socket.send(pcm, BINARY, release);
  }

  /**
   * One binary frame of a live session's audio (the hottest path: ten frames a second per session, so the
   * adapter calls it directly rather than through a handler's per-message context). Throws the protocol
   * error for audio before the session is live, a bad frame, or a flood; `failSocket` turns it into the reply.
   */
  acceptAudio(socket: WebSocket, frame: Buffer): void {
    const session = this.live(socket, 'Audio before auth: the first message must be auth');
    // Only recorded here: the idle timer reads it when it fires (see watchIdle).
    session.lastAudioAt = this.clock.now();
    session.idleWarned = false;
    if (this.inDoubt()) {
      return;
    }
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
    const unreachable = isDatabaseUnreachableError(exception);
    const error = exception instanceof DomainError ? exception : unreachable ? serviceUnavailable() : internalError();
    if (!(exception instanceof DomainError)) {
      this.logger.error(
        { err: exception },
        unreachable ? 'Live dubbing handler could not reach the database' : 'Live dubbing handler failed',
      );
    }
    const session = this.sessions.get(socket);
    if (session?.phase === 'live' && error.code === ErrorCode.ServiceUnavailable) {
      return this.suspendOffline(session);
    }
    if (session === undefined) {
      this.reject(socket, error);
      return;
    }
    await this.fail(session, error);
  }

  /** Ends the session because of `error`: its error message and close code. */
  fail(session: LiveSession, error: DomainError): Promise<void> {
    if (session.phase === 'ended' || session.phase === 'suspended') {
      // Frames that arrive while an ending error waits for its usage summary are not new errors.
      return Promise.resolve();
    }
    const cause =
      session.phase === 'opening' && !session.resuming && error.code === ErrorCode.QuotaExceeded ? 'quota_failed' : endCauseOf(error);
    this.metrics.liveErrors.inc({ code: error.code });
    return this.end(session, cause, { message: error.toMessage(), closeCode: error.closeCode, closeReason: error.closeReason });
  }

  /**
   * Whether this instance has gone too long without proving it still holds the session (it was paused, or cut
   * off from the database) for another instance to have ended it meanwhile. Such a session is not served —
   * no audio taken, no pong — until the next heartbeat settles it one way or the other.
   */
  inDoubt(): boolean {
    return this.clock.now() > this.confirmedAt + lostAfterMs(this.config) - this.config.ws.heartbeatMs;
  }

  /** A well-formed auth message arrived: the opening's checks begin. */
  beginOpening(session: LiveSession, auth: AuthMessage): void {
    session.phase = 'opening';
    session.auth = auth;
  }

  /**
   * Writes the session's record (opening, after the guards): from here on it exists for every instance, with the
   * ids its beta and quota sessions will have, so whoever ends it — this instance or the sweep — can end those too.
   */
  async register(session: LiveSession, options: { beta: boolean }): Promise<void> {
    const user = session.user!;
    const now = this.clock.now();
    session.betaSessionId = options.beta ? randomUUID() : undefined;
    session.quotaSessionId = randomUUID();
    session.sourceLang = session.auth!.source_lang ?? session.channel!.sourceLanguage;
    session.targetLang = session.auth!.target_lang;
    session.resumeToken = newResumeToken();
    await this.records.insert({
      id: session.id,
      userId: user.id,
      email: user.email,
      feature: session.feature.name,
      ownerInstanceId: this.instance.id,
      startedAtMs: now,
      betaSessionId: session.betaSessionId,
      quotaSessionId: session.quotaSessionId,
      channelId: session.channel!.id,
      sourceLang: session.sourceLang,
      targetLang: session.targetLang,
      resumeTokenHash: hashResumeToken(session.resumeToken),
    });
    session.registeredAt = now;
    this.hold(session, now);
    await this.afterOpeningStep(session);
  }

  /**
   * Resumes the session the client's resume token names (docs/protocol.md, "Resuming a session"), on this instance,
   * whichever held it: a compare-and-set on its record takes it over, then its beta session (the same hold) and
   * its quota session go on from now, never charging the time since it stopped being charged. Refused 4410 when the
   * token is unknown, used, expired or another user's; nothing changes then. Returns the quota left.
   */
  async resume(session: LiveSession): Promise<QuotaRecordResult | undefined> {
    const user = session.user!;
    const tokenHash = hashResumeToken(session.auth!.resume_token!);
    for (let attempt = 0; attempt < RESUME_ATTEMPTS; attempt++) {
      const record = await this.records.findByResumeToken(tokenHash);
      const now = this.clock.now();
      if (!this.isResumable(record, user.id, session.feature.name, now)) {
        break;
      }
      const resumeToken = newResumeToken();
      const cutAt = record.status === 'suspended' ? record.lostAtMs! : record.heartbeatAtMs;
      const taken = await this.records.takeOverToResume(record, {
        instanceId: this.instance.id,
        atMs: now,
        cutAtMs: cutAt,
        tokenHash: hashResumeToken(resumeToken),
      });
      if (taken === undefined) {
        continue;
      }
      if (session.phase !== 'opening') {
        // Refused (the database was lost) or left while the takeover was in flight: the session waits again.
        this.giveBack(session, taken, {
          cutAt,
          cause: (record.suspendCause as SuspendCause | undefined) ?? 'disconnected',
          tokenHash,
          now,
        });
        return undefined;
      }
      return this.adopt(session, taken, { resumeToken, cutAt, now });
    }
    throw resumeFailed();
  }

  /**
   * Holds the beta estimate (step 7 of the opening, docs/protocol.md). The session follows its credit signals from before the
   * hold, so a warning already due when it starts reaches the client. Too few credits: the insufficient-credits error.
   */
  async holdCredits(session: LiveSession): Promise<void> {
    const betaSessionId = session.betaSessionId!;
    session.onEnd(this.signals.subscribe(betaSessionId, (signal) => this.onCreditSignal(session, signal)));
    const start = await this.beta.start(
      session.user!,
      session.feature.name,
      session.feature.creditsPerSecond(this.config),
      betaSessionId,
      session.reads?.account,
    );
    if (session.phase === 'ended') {
      // Ended while the hold was being placed: nothing charges it but its end (see end), so nothing watches it.
      this.beta.stopWatching(betaSessionId);
    }
    if (!start.ok) {
      throw insufficientCredits(start.remainingCredits);
    }
    session.betaEstimate = start.estimatedCost;
    session.betaRemaining = start.remainingCredits;
    session.betaGranted = start.grantedCredits;
    session.betaRate = start.creditsPerSecond;
    await this.afterOpeningStep(session);
  }

  /** Opens the quota session (step 8); its remaining minutes, or the quota error. */
  async startQuota(session: LiveSession) {
    const user = session.user!;
    const quota = await this.quota.startSession({ id: user.id, tier: user.tier }, session.feature.name, {
      sessionId: session.quotaSessionId,
      ownerInstanceId: this.instance.id,
      checked: session.reads?.quota,
    });
    await this.afterOpeningStep(session);
    return quota;
  }

  /** The opening is complete: the session is live, the client gets `ready`, then any credit message held for it. */
  goLive(session: LiveSession, ready: ReadyMessage): void {
    if (session.phase !== 'opening') {
      return;
    }
    session.phase = 'live';
    this.pending.authenticated(session.socket);
    session.lastAudioAt = this.clock.now();
    session.onEnd(() => session.cancelIdle?.());
    this.watchIdle(session);
    this.send(session, ready);
    for (const message of session.heldMessages.splice(0)) {
      this.send(session, message);
    }
  }

  /**
   * The session's one idle timer (docs/protocol.md, "Idle sessions"): armed for the next instant that matters — the
   * warning, then the timeout — measured from the last audio frame, which acceptAudio only records. When it fires
   * early because audio came meanwhile, it re-arms for the time left; a live session thus costs one timer, not one
   * per frame. The idle end is charged up to the timeout instant.
   */
  private watchIdle(session: LiveSession): void {
    if (session.phase !== 'live') {
      return;
    }
    const timeoutMs = this.config.ws.idleTimeoutMs;
    const warningMs = Math.min(IDLE_WARNING_MS, timeoutMs / 2);
    const timeoutAt = session.lastAudioAt + timeoutMs;
    const now = this.clock.now();
    if (now >= timeoutAt) {
      void this.end(
        session,
        'idle_timeout',
        { message: { type: 'session_ended', reason: 'idle_timeout' }, closeCode: CloseCode.IdleTimeout, closeReason: 'Idle timeout' },
        timeoutAt,
      );
      return;
    }
    if (!session.idleWarned && now >= timeoutAt - warningMs) {
      session.idleWarned = true;
      this.send(session, { type: 'idle_warning', seconds_left: Math.ceil((timeoutAt - now) / 1000) });
    }
    const nextAt = session.idleWarned ? timeoutAt : timeoutAt - warningMs;
    session.cancelIdle = this.clock.setTimer(nextAt - now, () => this.watchIdle(session));
  }

  /** Ends the session; charging stops `at` (now by default), or where it started if it never went live. */
  async end(session: LiveSession, cause: EndCause, farewell?: Farewell, at = this.clock.now()): Promise<void> {
    if (session.phase === 'ended' || session.phase === 'suspended') {
      return;
    }
    const wasLive = session.phase === 'live';
    session.endAt = wasLive ? at : (session.registeredAt ?? at);
    session.phase = 'ended';
    session.endCause = cause;
    session.runCleanups();
    session.pipeline?.close();
    // From this instant nothing charges the session but its end, however late that lands.
    if (session.betaSessionId !== undefined) {
      this.beta.stopWatching(session.betaSessionId);
    }
    const written = this.writeExit(session);
    // A session that was live is told what it used (docs/protocol.md, "The usage summary"): `session_ended` once the
    // end is written, an error once its first writes landed or SUMMARY_WAIT_MS passed, at once without a database.
    // Any other farewell (an opening refused) goes out before the writes.
    const reportsEnd = farewell?.message !== undefined && 'type' in farewell.message && farewell.message.type === 'session_ended';
    if (farewell !== undefined && !reportsEnd) {
      const summary =
        wasLive && farewell.message !== undefined && this.health.reachable ? await this.within(written, SUMMARY_WAIT_MS) : undefined;
      this.sayFarewell(session, farewell, summary);
    }
    const summary = await written;
    this.forget(session);
    this.metrics.liveSessionsEnded.inc({ cause });
    this.logger.log(
      { session_id: session.id, beta_session_id: session.betaSessionId, cause, remaining_credits: summary?.remaining_credits },
      'Live dubbing session ended',
    );
    if (farewell !== undefined && reportsEnd) {
      this.sayFarewell(session, farewell, summary);
    }
  }

  /** What `promise` resolves to, or undefined when it takes longer than `ms` on the clock. */
  private within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const cancel = this.clock.setTimer(ms, () => resolve(undefined));
      void promise.then((value) => {
        cancel();
        resolve(value);
      });
    });
  }

  /**
   * The session's connection is gone, but not the session (docs/protocol.md, "Resuming a session"): it stops being
   * charged at `lostAt` and waits, suspended, for its client to resume it on a new connection, here or on another
   * instance, for WS_RESUME_WINDOW_MS. A session that was not live yet has nothing to resume: it ends. The farewell
   * (1012 `reconnect`, 4503 `service_unavailable`) carries the resume token; a restart sends it once the suspension
   * is written, so the client's resume elsewhere finds it.
   */
  async suspend(session: LiveSession, cause: SuspendCause, lostAt: number, farewell?: Farewell): Promise<void> {
    if (session.phase !== 'live' && !(session.phase === 'opening' && session.resuming)) {
      return this.end(session, cause, farewell, lostAt);
    }
    session.endAt = session.phase === 'live' ? lostAt : (session.registeredAt ?? lostAt);
    session.phase = 'suspended';
    session.suspendCause = cause;
    session.runCleanups();
    session.pipeline?.close();
    if (session.betaSessionId !== undefined) {
      this.beta.stopWatching(session.betaSessionId);
    }
    const sayFirst = cause !== 'server_shutdown';
    if (farewell !== undefined && sayFirst) {
      this.sayFarewell(session, farewell);
    }
    await this.writeExit(session);
    this.forget(session);
    this.metrics.liveSessionsEnded.inc({ cause: 'suspended' });
    this.logger.log(
      { session_id: session.id, cause, lost_at: new Date(session.endAt).toISOString() },
      'Live dubbing session suspended; its client may resume it',
    );
    if (farewell !== undefined && !sayFirst) {
      this.sayFarewell(session, farewell);
    }
  }

  /**
   * The WebSocket layer refused the client's frames (too big, not UTF-8, broken framing): a protocol violation that
   * ends the session like any other, closed with the layer's own close code.
   */
  async refuseFrames(socket: WebSocket, close?: { code: CloseCode; reason: string }): Promise<void> {
    const session = this.sessions.get(socket);
    const farewell = close === undefined ? undefined : { closeCode: close.code, closeReason: close.reason };
    if (session === undefined) {
      if (farewell !== undefined) {
        closeSocket(socket, farewell.closeCode, farewell.closeReason);
      }
      return;
    }
    this.metrics.liveErrors.inc({ code: ErrorCode.ProtocolError });
    await this.end(session, 'protocol_error', farewell);
  }

  /** Closes a socket that never became a session (or whose session is gone) with an error. */
  reject(socket: WebSocket, error: DomainError): void {
    this.metrics.liveErrors.inc({ code: error.code });
    if (socket.readyState === socket.OPEN) {
      socket.send(JSON.stringify(error.toMessage()));
      closeSocket(socket, error.closeCode, error.closeReason);
    }
  }

  /**
   * Shutting down (a rolling restart): no new socket is accepted, and every live session is charged to this instant,
   * suspended, and told to `reconnect` (1012), to resume on another instance. One not live yet is closed 1012.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.accepting = false;
    const now = this.clock.now();
    const restart = { closeCode: CloseCode.ServiceRestart, closeReason: 'Server restarting: reconnect' };
    await Promise.all(
      [...this.sessions.values()].map((session) =>
        session.phase === 'live' || session.resumeInFlight
          ? this.suspend(session, 'server_shutdown', now, {
              ...restart,
              message: { type: 'reconnect', resume_token: session.resumeToken!, resume_within_ms: this.config.ws.resumeWindowMs },
            })
          : this.end(session, 'server_shutdown', restart),
      ),
    );
  }

  onApplicationShutdown(): void {
    this.cancelHeartbeat?.();
    this.cancelHeartbeat = undefined;
    this.cancelOutage?.();
    for (const session of this.held.values()) {
      session.cancelRedrive?.();
    }
  }

  /** A session that ended while an opening step was in flight: what that step created is ended too. */
  private async afterOpeningStep(session: LiveSession): Promise<void> {
    if (session.phase === 'ended') {
      await this.writeExit(session);
    }
  }

  /**
   * The end's writes, in order: the record says why and when the session ends (so the sweep can finish it should
   * this instance die), then the beta session is charged up to that instant and closed, the quota session too, and
   * the record is ended. Each step is idempotent; if one fails, all are written again later until they land.
   * Returns the session's usage summary when the end landed now.
   */
  private writeExit(session: LiveSession): Promise<UsageSummary | undefined> {
    if (session.resumeInFlight) {
      // The resume that is taking the session over writes its exit once it has finished (see adopt).
      return Promise.resolve(undefined);
    }
    let outcome: UsageSummary | undefined;
    const attempt = async () => {
      outcome = session.phase === 'suspended' ? await this.tryWriteSuspension(session) : await this.tryWriteEnd(session);
    };
    session.ending = (session.ending ?? Promise.resolve()).then(attempt);
    return session.ending.then(() => outcome);
  }

  private async tryWriteEnd(session: LiveSession, attempt = 0): Promise<UsageSummary | undefined> {
    if (session.registeredAt === undefined) {
      await this.freeSlot(session);
      return undefined;
    }
    const outcome = END_OUTCOMES[session.endCause!];
    const endAt = session.endAt!;
    try {
      if (!(await this.recordEnd(session))) {
        this.letGo(session);
        return undefined;
      }
      const owner = { id: session.id, epoch: session.epoch };
      const [betaEnd, quotaEnd] = await Promise.all([
        session.betaSessionId === undefined || session.betaEnded
          ? session.betaFinal
          : this.beta.end(session.betaSessionId, outcome.beta, endAt, session.user!.email),
        this.quota.endSession(session.quotaSessionId!, outcome.quota, { atMs: endAt }),
      ]);
      await this.records.markEnded(owner, this.clock.now());
      this.release(session);
      await this.freeSlot(session);
      return {
        duration_ms: quotaEnd.usedMs,
        charged_credits: betaEnd?.sessionCharged ?? 0,
        remaining_credits: betaEnd?.remainingCredits ?? null,
        quota_used_seconds: quotaEnd.usedSeconds,
      };
    } catch (error) {
      this.redrive(session, attempt, error, () => this.tryWriteEnd(session, attempt + 1));
      return undefined;
    }
  }

  /**
   * The suspension's writes, in order: the record (which moves the epoch: from then on a resume may take the session
   * anywhere), then the beta session charged up to the loss and marked suspended, the quota session too. Re-driven
   * like an end's.
   */
  private async tryWriteSuspension(session: LiveSession, attempt = 0): Promise<undefined> {
    if (session.registeredAt === undefined) {
      return undefined;
    }
    const lostAt = session.endAt!;
    try {
      if (!session.endRecorded) {
        const suspension = {
          cause: session.suspendCause!,
          lostAtMs: lostAt,
          resumeUntilMs: this.clock.now() + this.config.ws.resumeWindowMs,
          tokenHash: session.restoreTokenHash,
        };
        let recorded = await this.records.markSuspended({ id: session.id, epoch: session.epoch }, suspension);
        if (!recorded) {
          const found = await this.records.find(session.id);
          recorded =
            found?.status === 'suspended' &&
            found.ownerEpoch === session.epoch + 1 &&
            found.ownerInstanceId === this.instance.id &&
            found.lostAtMs === lostAt;
        }
        if (!recorded) {
          this.letGo(session);
          return undefined;
        }
        session.epoch += 1;
        session.endRecorded = true;
      }
      await Promise.all([
        session.betaSessionId === undefined || session.betaEnded
          ? undefined
          : this.beta.suspend(session.betaSessionId, session.user!.email, {
              lostAt,
              epoch: session.epoch - 1,
              suspendedEpoch: session.epoch,
            }),
        this.quota.suspendSession(session.quotaSessionId!, { lostAtMs: lostAt, epoch: session.epoch }),
      ]);
      this.release(session);
    } catch (error) {
      this.redrive(session, attempt, error, () => this.tryWriteSuspension(session, attempt + 1));
    }
    return undefined;
  }

  /** A failed exit is written again after 0.5 s, then twice as late each time, at most every 10 s, until it lands. */
  private redrive(session: LiveSession, attempt: number, error: unknown, again: () => Promise<unknown>): void {
    const delay = Math.min(REDRIVE_FIRST_MS * 2 ** attempt, REDRIVE_MAX_MS);
    this.logger.error(
      { session_id: session.id, err: error },
      `${session.phase === 'suspended' ? 'Suspending' : 'Ending'} the session failed; writing it again in ${delay} ms`,
    );
    const run = () => {
      session.cancelRedrive?.();
      session.redriveNow = undefined;
      session.ending = session.ending!.then(() => again().then(() => undefined));
    };
    session.cancelRedrive = this.clock.setTimer(delay, run);
    session.redriveNow = run;
  }

  /** This instance no longer holds the session's record (unless a newer connection here resumed it). */
  private release(session: LiveSession): void {
    if (this.held.get(session.id) === session) {
      this.held.delete(session.id);
    }
  }

  /**
   * An ended session, or an opening refused before its record was written, frees its user's slot (docs/protocol.md,
   * "Sessions per user") once its record says it ended: should this instance die before, the next opening finds the
   * record ending, or none, and drops the slot itself.
   */
  private async freeSlot(session: LiveSession): Promise<void> {
    if (session.user !== undefined) {
      await this.slots.leave(session.user.id, session.id);
    }
  }

  /** Holds a session's record from `now`: it joins the heartbeat. */
  private hold(session: LiveSession, now: number): void {
    if (this.held.size === 0) {
      // No heartbeat runs while nothing is held: this write is the newest proof that nothing held was taken.
      this.confirmedAt = now;
    }
    this.held.set(session.id, session);
    this.scheduleHeartbeat();
  }

  private isResumable(record: LiveSessionRecord | undefined, userId: string, feature: string, now: number): record is LiveSessionRecord {
    return (
      record !== undefined &&
      record.userId === userId &&
      record.feature === feature &&
      (record.status === 'live' || (record.status === 'suspended' && record.resumeUntilMs! >= now))
    );
  }

  /**
   * The resume won the session's record: this connection becomes its owner. A connection here that still held it
   * lets go (4409). The beta and quota sessions resume from `now`, not charging the time since `cutAt`; those steps
   * finish even if the client leaves meanwhile, and then its exit is written, charged up to where they left it.
   */
  private async adopt(
    session: LiveSession,
    record: LiveSessionRecord,
    resume: { resumeToken: string; cutAt: number; now: number },
  ): Promise<QuotaRecordResult | undefined> {
    session.resumeInFlight = true;
    this.takeRecord(session, record, resume);
    try {
      const user = session.user!;
      if (session.betaSessionId !== undefined) {
        const betaSessionId = session.betaSessionId;
        session.onEnd(this.signals.subscribe(betaSessionId, (signal) => this.onCreditSignal(session, signal)));
        const credits = await this.beta.resume(betaSessionId, user.email, {
          cutAt: resume.cutAt,
          resumeAt: resume.now,
          epoch: session.epoch,
        });
        if (credits === undefined) {
          throw new Error(`Beta session ${betaSessionId} of a resumed session is no longer held`);
        }
        session.betaRemaining = credits.remainingCredits;
        session.betaEstimate = credits.estimatedCost;
        session.betaGranted = credits.grantedCredits;
        session.betaRate = credits.creditsPerSecond;
      }
      session.registeredAt = resume.now;
      const quota = await this.quota.resumeSession(session.quotaSessionId!, {
        cutAtMs: resume.cutAt,
        epoch: session.epoch,
        instanceId: this.instance.id,
      });
      if (quota === undefined) {
        throw new Error(`Quota session ${session.quotaSessionId} of a resumed session has ended`);
      }
      this.logger.log(
        { session_id: session.id, epoch: session.epoch, cut_at: new Date(resume.cutAt).toISOString() },
        'Live session resumed',
      );
      return quota;
    } catch (error) {
      if (!isDatabaseUnreachableError(error) || session.phase !== 'opening') {
        throw error;
      }
      // The database went away mid-resume: the session stays this client's, suspended, for its new token.
      void this.suspend(session, 'service_unavailable', this.clock.now(), this.offlineFarewell(session, CloseCode.TryAgainLater));
      return undefined;
    } finally {
      session.resumeInFlight = false;
      if (session.phase === 'ended' || session.phase === 'suspended') {
        session.endAt = session.registeredAt;
        await this.writeExit(session);
      }
    }
  }

  /** This connection's session is now the record's, as the owner epoch the takeover wrote; one here before lets go (4409). */
  private takeRecord(session: LiveSession, record: LiveSessionRecord, resume: { resumeToken?: string; cutAt: number; now: number }): void {
    const previous = this.held.get(record.id);
    if (previous !== undefined && previous !== session) {
      this.letGo(previous);
    }
    session.id = record.id;
    session.epoch = record.ownerEpoch;
    session.registeredAt = resume.cutAt;
    session.betaSessionId = record.betaSessionId;
    session.quotaSessionId = record.quotaSessionId;
    session.sourceLang = record.sourceLang;
    session.targetLang = record.targetLang;
    session.resumeToken = resume.resumeToken;
    this.hold(session, resume.now);
  }

  /**
   * A resume whose takeover landed after its connection was gone: the session is suspended again as it was, for the
   * token its client still holds, so a resume that did not finish changes nothing.
   */
  private giveBack(
    session: LiveSession,
    record: LiveSessionRecord,
    back: { cutAt: number; cause: SuspendCause; tokenHash: string; now: number },
  ): void {
    this.takeRecord(session, record, back);
    session.phase = 'suspended';
    session.suspendCause = back.cause;
    session.endAt = back.cutAt;
    session.restoreTokenHash = back.tokenHash;
    void this.writeExit(session);
  }

  /** The farewell of a session suspended for want of the database: its resume token, and when to resume by. */
  private offlineFarewell(session: LiveSession, closeCode: CloseCode): Farewell {
    const error = serviceUnavailable();
    return {
      message: { ...error.toMessage(), resume_token: session.resumeToken, resume_within_ms: this.config.ws.resumeWindowMs },
      closeCode,
      closeReason: error.closeReason,
    };
  }

  /**
   * Writes why and when the session ends, moving the owner epoch so that a sweep which read the session as silent
   * before cannot overwrite it. False when another instance holds the session. A write whose answer was lost is
   * recognised on the next attempt by what it wrote.
   */
  private async recordEnd(session: LiveSession): Promise<boolean> {
    if (session.endRecorded) {
      return true;
    }
    const end = { cause: session.endCause!, atMs: session.endAt! };
    let recorded = await this.records.markEnding({ id: session.id, epoch: session.epoch }, end);
    if (!recorded) {
      const found = await this.records.find(session.id);
      recorded =
        found?.ownerEpoch === session.epoch + 1 &&
        found.ownerInstanceId === this.instance.id &&
        found.endCause === end.cause &&
        found.endAtMs === end.atMs;
    }
    if (recorded) {
      session.epoch += 1;
      session.endRecorded = true;
    }
    return recorded;
  }

  /**
   * This instance no longer holds the session: another one ended it or took it over. Nothing more is served or
   * charged here; a client still connected is told so (4409).
   */
  private letGo(session: LiveSession): void {
    session.cancelRedrive?.();
    const heldHere = this.held.get(session.id);
    if (heldHere === undefined || heldHere === session) {
      // Unless a newer connection here resumed it, nothing of the session is served here any more.
      this.held.delete(session.id);
      if (session.betaSessionId !== undefined) {
        this.beta.stopWatching(session.betaSessionId);
      }
      this.quota.forget(session.quotaSessionId!);
    }
    if (session.phase === 'ended' || session.phase === 'suspended') {
      return;
    }
    session.phase = 'ended';
    session.runCleanups();
    session.pipeline?.close();
    this.forget(session);
    this.metrics.liveSessionsEnded.inc({ cause: 'moved' });
    this.logger.warn({ session_id: session.id }, 'Live session held by another instance now; its connection here is closed');
    const error = sessionMoved();
    this.sayFarewell(session, { message: error.toMessage(), closeCode: error.closeCode, closeReason: error.closeReason });
  }

  private forget(session: LiveSession): void {
    if (this.sessions.delete(session.socket)) {
      this.metrics.liveSessions.dec();
    }
  }

  /**
   * The farewell message, with the usage summary when there is one; a beta session's `session_ended` keeps
   * `session_charged` (the same as `charged_credits`) for clients written before the summary.
   */
  private sayFarewell(session: LiveSession, farewell: Farewell, summary?: UsageSummary): void {
    if (farewell.message !== undefined) {
      const compatible =
        'type' in farewell.message && farewell.message.type === 'session_ended' && summary?.remaining_credits !== null
          ? { session_charged: summary?.charged_credits }
          : {};
      this.send(session, summary === undefined ? farewell.message : { ...farewell.message, ...summary, ...compatible });
    }
    if (session.socket.readyState === session.socket.OPEN || session.socket.readyState === session.socket.CONNECTING) {
      closeSocket(session.socket, farewell.closeCode, farewell.closeReason);
    }
  }

  /**
   * Credit signals of the session's beta session reach its socket (after `ready`: one due at the start waits for
   * it); an end on the credits side ends the session.
   */
  private onCreditSignal(session: LiveSession, signal: BetaSessionSignal): void {
    switch (signal.type) {
      case 'credits':
        this.sendCredits(session, { type: 'credits', remaining_credits: signal.remainingCredits, session_charged: signal.sessionCharged });
        break;
      case 'credit_warning':
        this.sendCredits(session, {
          type: 'credit_warning',
          remaining_credits: signal.remainingCredits,
          threshold_percent: signal.thresholdPercent,
        });
        break;
      case 'ended':
        session.betaEnded = true;
        session.betaFinal = { remainingCredits: signal.remainingCredits, sessionCharged: signal.sessionCharged };
        if (signal.reason === 'instance_lost') {
          // Ended by the sweep as lost while this instance still had it: the session is no longer this connection's.
          this.letGo(session);
          break;
        }
        void this.fail(
          session,
          signal.reason === 'credits_exhausted' ? creditsExhausted() : signal.reason === 'beta_revoked' ? betaRevoked() : internalError(),
        );
        break;
    }
  }

  private sendCredits(session: LiveSession, message: CreditsMessage | CreditWarningMessage): void {
    if (session.phase === 'opening') {
      session.heldMessages.push(message);
    } else {
      this.send(session, message);
    }
  }

  private scheduleHeartbeat(): void {
    this.cancelHeartbeat ??= this.clock.setTimer(this.config.ws.heartbeatMs, () => this.heartbeat());
  }

  /**
   * Proves this instance still holds its sessions, in one write for all of them; lets go of those another instance
   * took; ends those whose user may no longer use live features. A failed round is simply tried again next time.
   */
  private heartbeat(): Promise<void> {
    this.cancelHeartbeat = undefined;
    this.pingLiveConnections();
    if (this.round !== undefined) {
      // The last round still waits for the database; the pings above go on regardless.
      this.scheduleHeartbeat();
      return Promise.resolve();
    }
    this.round = this.heartbeatRound().finally(() => {
      this.round = undefined;
      if (this.held.size > 0) {
        this.scheduleHeartbeat();
      }
    });
    return this.round;
  }

  private async heartbeatRound(): Promise<void> {
    try {
      const held = await this.proveHeld();
      await this.endRevokedAccess(held.filter((session) => session.phase === 'live'));
    } catch (error) {
      this.logger.error({ err: error }, 'Live session heartbeat failed; trying again at the next one');
    }
  }

  /**
   * How long a live session goes on without the database (docs/protocol.md, "When the database is unreachable"): three
   * quota intervals, and never so long that another instance could have found it lost meanwhile.
   */
  private offlineLimitMs(): number {
    return Math.min(3 * this.config.quota.updateIntervalMs, lostAfterMs(this.config) - this.config.ws.heartbeatMs);
  }

  /**
   * The database is unreachable: openings and resumes in flight are refused at once (1013, try again later) rather
   * than wait for their writes to time out; live sessions go on on their holds until the offline limit, counted from
   * the last heartbeat that landed.
   */
  private onDatabaseLost(): void {
    for (const session of [...this.sessions.values()].filter((s) => s.phase === 'opening')) {
      if (session.resumeInFlight) {
        // The resume already took the session (its new token is the only valid one): it stays suspended for it.
        void this.suspend(session, 'service_unavailable', this.clock.now(), this.offlineFarewell(session, CloseCode.TryAgainLater));
      } else {
        void this.fail(session, serviceUnavailable());
      }
    }
    this.beta.stopSpentHolds();
    this.cancelOutage?.();
    this.cancelOutage = this.clock.setTimer(this.confirmedAt + this.offlineLimitMs() - this.clock.now(), () => {
      this.cancelOutage = undefined;
      if (!this.health.reachable) {
        this.logger.warn({ offline_limit_ms: this.offlineLimitMs() }, 'Database still unreachable: suspending live sessions');
        for (const session of [...this.sessions.values()].filter((s) => s.phase === 'live')) {
          void this.suspendOffline(session);
        }
      }
    });
  }

  /**
   * The database is back: what each session kept waiting is written first — ends and suspensions re-driven now, not
   * at their next backoff — and a heartbeat round proves the sessions still held.
   */
  private onDatabaseBack(): void {
    this.cancelOutage?.();
    this.cancelOutage = undefined;
    for (const session of this.held.values()) {
      session.redriveNow?.();
    }
    if (this.held.size > 0) {
      this.cancelHeartbeat?.();
      this.cancelHeartbeat = undefined;
      void this.heartbeat();
    }
  }

  /** A session's hold ran out while the database is unreachable: its balance spent (4402), or suspended (4503). */
  private onHoldSpentOffline(betaSessionId: string, balanceSpent: boolean): void {
    const session = [...this.held.values()].find((held) => held.betaSessionId === betaSessionId && held.phase === 'live');
    if (session === undefined) {
      return;
    }
    if (balanceSpent) {
      void this.fail(session, creditsExhausted());
    } else {
      void this.suspendOffline(session);
    }
  }

  /**
   * Suspended for want of the database (4503, `service_unavailable`, resumable): charged up to now, on its hold; the
   * suspension and its token are written once the database is back.
   */
  private suspendOffline(session: LiveSession): Promise<void> {
    return this.suspend(session, 'service_unavailable', this.clock.now(), this.offlineFarewell(session, CloseCode.SuspendedUnavailable));
  }

  /**
   * A WebSocket ping to every live connection; one that left two pings unanswered is lost: it is cut, and its
   * session ends as the client leaving, charged up to when it was last heard from.
   */
  private pingLiveConnections(): void {
    for (const session of this.sessions.values()) {
      if (session.phase !== 'live') {
        continue;
      }
      if (session.unansweredPings >= 2) {
        this.logger.warn({ session_id: session.id }, 'Live connection lost: two pings unanswered');
        session.socket.terminate();
      } else {
        session.unansweredPings++;
        session.socket.ping();
      }
    }
  }

  /** One heartbeat round: the sessions still held are proven so at its start; those another instance took are let go. */
  private async proveHeld(): Promise<LiveSession[]> {
    // A suspension not written yet is not heartbeated: a resume that reads the record meanwhile cuts at the last
    // heartbeat before the loss, never at one written after it.
    const held = [...this.held.values()].filter((session) => session.phase !== 'suspended');
    const now = this.clock.now();
    const lost = await this.records.heartbeat(
      held.map((session) => ({ id: session.id, epoch: session.epoch })),
      now,
    );
    this.confirmedAt = Math.max(this.confirmedAt, now);
    held.filter((session) => lost.has(session.id)).forEach((session) => this.letGo(session));
    return held.filter((session) => !lost.has(session.id));
  }

  private async endRevokedAccess(live: LiveSession[]): Promise<void> {
    if (live.length === 0) {
      return;
    }
    const users = await this.users.findByIds([...new Set(live.map((session) => session.user!.id))]);
    for (const session of live) {
      const user = users.get(session.user!.id);
      const deactivated = user === undefined || !user.isActive;
      if (deactivated || !hasLiveAccess(user)) {
        void this.fail(session, accessRevoked(deactivated));
      }
    }
  }
}

/** A resume token: 256 random bits, URL-safe. Only its hash is stored. */
function newResumeToken(): string {
  return randomBytes(32).toString('base64url');
}

function hashResumeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Live features are for active Premium and Family subscriptions. */
export function hasLiveAccess(user: { tier: string; subscriptionStatus: string }): boolean {
  return (user.tier === 'premium' || user.tier === 'family') && user.subscriptionStatus === 'active';
}

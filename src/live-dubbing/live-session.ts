import type { WebSocket } from 'ws';
import type { AuthenticatedUser } from '../auth/token.service.js';
import type { ChannelRecord } from '../channels/channels.repository.js';
import type { CancelTimer } from '../common/clock.js';
import type { DubbingPipeline } from '../dubbing/dubbing-pipeline.js';
import type { AudioRateMeter } from './audio-input.js';
import type { AuthMessage } from './auth-message.dto.js';
import type { EndCause } from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';
import type { OpeningReads } from './opening-reads.js';
import type { CreditsMessage, CreditWarningMessage } from '../protocol/index.js';

/**
 * awaiting_auth → opening → live → ended, opening → ended for a refusal, and live → suspended when the connection is
 * lost (the session then waits for a resume on a new connection, maybe on another instance). Only
 * LiveSessionsService moves a session between phases (docs/protocol.md, "A session's life").
 */
export type LivePhase = 'awaiting_auth' | 'opening' | 'live' | 'suspended' | 'ended';

/** Why a session was suspended; also how it ends if it is not resumed in time. */
export type SuspendCause = Extract<EndCause, 'disconnected' | 'server_shutdown' | 'service_unavailable'>;

/** Everything one socket's session holds; cleaned up once when the session ends. */
export class LiveSession {
  phase: LivePhase = 'awaiting_auth';
  endCause?: EndCause;
  suspendCause?: SuspendCause;
  /**
   * The instant charging stops: the end or the loss of the connection, or the opening's own start for a session
   * that never went live.
   */
  endAt?: number;
  auth?: AuthMessage;
  user?: AuthenticatedUser;
  channel?: ChannelRecord;
  /** A new session's opening: the reads its steps need, started once the user is known. */
  reads?: OpeningReads;
  /** The session's languages: the opening's, or a resumed session's own. */
  sourceLang?: string;
  targetLang?: string;
  /** The token this connection's client resumes the session with; only its hash is stored. */
  resumeToken?: string;
  /** A suspension that gives the session back to the token its client held before an unfinished resume. */
  restoreTokenHash?: string;
  /** When the session's record was written; undefined until then (nothing in the database to end). */
  registeredAt?: number;
  /** The owner epoch this instance holds the session's record at. */
  epoch = 0;
  /** Why and when it ends (or was suspended) is in the record (at `epoch`, which that write moved). */
  endRecorded = false;
  betaSessionId?: string;
  betaEstimate?: number;
  betaRemaining?: number;
  /** For `ready.beta`: the account's unexpired granted credits and the session's rate. */
  betaGranted?: number;
  betaRate?: number;
  /** The beta session was ended by the credits side (exhausted, revoked): the end does not repeat it. */
  betaEnded = false;
  /** What that end charged in all and left on the account: the session's usage summary reports it. */
  betaFinal?: { remainingCredits: number; sessionCharged: number };
  quotaSessionId?: string;
  pipeline?: DubbingPipeline;
  droppedAudioSegments = 0;
  /** When the client was last heard from: its last frame or pong. */
  lastHeardAt = 0;
  unansweredPings = 0;
  /** When the last audio frame arrived (or the session went live): the idle timer measures from it. */
  lastAudioAt = 0;
  /** The client was sent `idle_warning` since its last audio frame. */
  idleWarned = false;
  /** The session's one idle timer, re-armed for the time left rather than per frame. */
  cancelIdle?: CancelTimer;
  /** Credit messages due before `ready` went out, sent right after it. */
  readonly heldMessages: (CreditsMessage | CreditWarningMessage)[] = [];
  /** The database writes of the end, serialized: an end that failed is re-driven from here. */
  ending?: Promise<void>;
  /** A resume is taking the session over: its exit, if it comes meanwhile, is written once the resume has finished. */
  resumeInFlight = false;
  cancelRedrive?: CancelTimer;
  /** Writes a failed exit again at once (the database is back) rather than at its next backoff. */
  redriveNow?: () => void;
  private readonly cleanups: (() => void)[] = [];

  /** A provisional id until the opening registers the session, or a resume adopts the one it resumes. */
  constructor(
    public id: string,
    readonly socket: WebSocket,
    readonly feature: LiveFeature,
    readonly meter: AudioRateMeter,
  ) {}

  /** Whether the first message asked to resume a session rather than open one. */
  get resuming(): boolean {
    return this.auth?.resume_token !== undefined;
  }

  onEnd(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  runCleanups(): void {
    for (const cleanup of this.cleanups.splice(0)) {
      cleanup();
    }
  }
}

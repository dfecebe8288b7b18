import type { WebSocket } from 'ws';
import type { AuthenticatedUser } from '../auth/token.service.js';
import type { ChannelRecord } from '../channels/channels.repository.js';
import type { CancelTimer } from '../common/clock.js';
import type { DubbingPipeline } from '../dubbing/dubbing-pipeline.js';
import type { AudioRateMeter } from './audio-input.js';
import type { AuthMessage } from './auth-message.dto.js';
import type { EndCause } from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';

/**
 * awaiting_auth → opening → live → ended, and opening → ended for a refusal. Only LiveSessionsService moves a
 * session between phases (docs/protocol.md, "A session's life").
 */
export type LivePhase = 'awaiting_auth' | 'opening' | 'live' | 'ended';

/** Everything one socket's session holds; cleaned up once when the session ends. */
export class LiveSession {
  phase: LivePhase = 'awaiting_auth';
  endCause?: EndCause;
  /** The instant charging stops: the end, or the opening's own start for a session that never went live. */
  endAt?: number;
  auth?: AuthMessage;
  user?: AuthenticatedUser;
  channel?: ChannelRecord;
  /** When the session's record was written; undefined until then (nothing in the database to end). */
  registeredAt?: number;
  /** The owner epoch this instance holds the session's record at. */
  epoch = 0;
  /** Why and when it ends is in the record (at `epoch`, which that write moved). */
  endRecorded = false;
  betaSessionId?: string;
  betaEstimate?: number;
  betaRemaining?: number;
  /** The beta session was ended by the credits side (exhausted, revoked): the end does not repeat it. */
  betaEnded = false;
  quotaSessionId?: string;
  pipeline?: DubbingPipeline;
  droppedAudioSegments = 0;
  /** When the client was last heard from: its last frame or pong. */
  lastHeardAt = 0;
  unansweredPings = 0;
  /** Credit messages due before `ready` went out, sent right after it. */
  readonly heldMessages: object[] = [];
  /** The database writes of the end, serialized: an end that failed is re-driven from here. */
  ending?: Promise<void>;
  cancelRedrive?: CancelTimer;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly feature: LiveFeature,
    readonly meter: AudioRateMeter,
  ) {}

  onEnd(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  runCleanups(): void {
    for (const cleanup of this.cleanups.splice(0)) {
      cleanup();
    }
  }
}

import type { WebSocket } from 'ws';
import type { AuthenticatedUser } from '../auth/token.service.js';
import type { ChannelRecord } from '../channels/channels.repository.js';
import type { DubbingPipeline } from '../dubbing/dubbing-pipeline.js';
import type { AudioRateMeter } from './audio-input.js';
import type { AuthMessage } from './auth-message.dto.js';
import type { EndCause } from './live-dubbing.protocol.js';
import type { LiveFeature } from './live-feature.js';

export type LivePhase = 'awaiting_auth' | 'opening' | 'live' | 'ended';

/** Everything one socket's session holds; cleaned up once when the session ends. */
export class LiveSession {
  phase: LivePhase = 'awaiting_auth';
  endCause?: EndCause;
  auth?: AuthMessage;
  user?: AuthenticatedUser;
  channel?: ChannelRecord;
  betaSessionId?: string;
  betaStartedAt?: number;
  betaEstimate?: number;
  betaRemaining?: number;
  quotaSessionId?: string;
  pipeline?: DubbingPipeline;
  droppedAudioSegments = 0;
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

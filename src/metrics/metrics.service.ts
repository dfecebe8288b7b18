import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; speech services answer in tenths of a second to a few seconds, live results are useless after ~15 s. */
const SPEECH_LATENCY_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 15];

/** One registry per application, so several app instances in one process (tests) never collide. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly liveSessions = new Gauge({
    name: 'live_dubbing_sessions',
    help: 'Live dubbing connections open on this instance',
    registers: [this.registry],
  });

  readonly liveSessionsEnded = new Counter({
    name: 'live_dubbing_sessions_ended_total',
    help: 'Live dubbing sessions ended, by end cause',
    labelNames: ['cause'],
    registers: [this.registry],
  });

  readonly liveErrors = new Counter({
    name: 'live_dubbing_errors_total',
    help: 'Error messages sent to live dubbing clients, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });

  readonly droppedAudio = new Counter({
    name: 'live_dubbing_dropped_audio_total',
    help: 'Dubbed audio segments dropped because the client could not keep up',
    registers: [this.registry],
  });

  readonly dubbingStageLatency = new Histogram({
    name: 'dubbing_stage_latency_seconds',
    help: 'Per speech segment, by stage: speech_to_text (speech end → transcript), translation (transcript → translation), text_to_speech (translation → dubbed audio)',
    labelNames: ['stage'],
    buckets: SPEECH_LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly dubbingSegmentLatency = new Histogram({
    name: 'dubbing_segment_latency_seconds',
    help: 'Per speech segment: speech end → its last result handed to the client (output="audio": dubbed audio; output="text": the translation, for subtitles)',
    labelNames: ['output'],
    buckets: SPEECH_LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly dubbingProviderRequests = new Counter({
    name: 'dubbing_provider_requests_total',
    help: 'Requests to the speech providers, by stage and outcome: ok, retried (failed, retried), failed (failed for good)',
    labelNames: ['stage', 'outcome'],
    registers: [this.registry],
  });

  readonly databaseReachable = new Gauge({
    name: 'database_reachable',
    help: 'Whether this instance reaches the database: 1 while its pings are answered, 0 from a failed ping or one unanswered for 750 ms',
    registers: [this.registry],
  });

  readonly clusterJobsLeaseHeld = new Gauge({
    name: 'cluster_jobs_lease_held',
    help: 'Whether this instance holds the lease of the cluster-wide jobs (lost-session sweep, credit reconcile): 1 while its claim holds',
    registers: [this.registry],
  });

  readonly betaCheckpointSessions = new Counter({
    name: 'beta_checkpoint_sessions_charged_total',
    help: 'Beta sessions charged by the credit checkpoints of this instance, one per session per tick (each instance charges the sessions it serves)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

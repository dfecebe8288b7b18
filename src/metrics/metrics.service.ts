import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

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
    help: 'Live dubbing sessions ended, by cause (SPEC §3.3)',
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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

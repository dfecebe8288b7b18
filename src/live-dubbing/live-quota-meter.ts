import { Injectable, Logger } from '@nestjs/common';
import { Clock, type CancelTimer } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { QuotaService } from '../quota/quota.service.js';
import { quotaExceeded } from './live-dubbing.protocol.js';
import type { LiveSession } from './live-session.js';
import { LiveSessionsService } from './live-sessions.service.js';

interface MeteredSession {
  session: LiveSession;
  cancelRunOut: CancelTimer;
}

/**
 * Quota metering of this instance's live sessions. Every QUOTA_UPDATE_INTERVAL_MS, one batch records the usage
 * of all of them (QuotaService.recordAll: three database round trips however many sessions); a session whose
 * quota is used up ends with `quota_exceeded`. Each session also has a timer at the instant its quota runs out,
 * re-armed after every record, so the cut-off does not wait for the next batch.
 */
@Injectable()
export class LiveQuotaMeter {
  private readonly logger = new Logger(LiveQuotaMeter.name);
  /** By quota session id. */
  private readonly metered = new Map<string, MeteredSession>();
  private cancelTick: CancelTimer | undefined;

  constructor(
    private readonly quota: QuotaService,
    private readonly sessions: LiveSessionsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Meters a live session (its quota session attached) until it ends. */
  track(session: LiveSession, runsOutAt: number | null): void {
    const quotaSessionId = session.quotaSessionId!;
    const metered: MeteredSession = { session, cancelRunOut: () => {} };
    this.metered.set(quotaSessionId, metered);
    this.armRunOut(quotaSessionId, metered, runsOutAt);
    session.onEnd(() => {
      metered.cancelRunOut();
      this.metered.delete(quotaSessionId);
      if (this.metered.size === 0) {
        this.cancelTick?.();
        this.cancelTick = undefined;
      }
    });
    this.scheduleTick();
  }

  private scheduleTick(): void {
    this.cancelTick ??= this.clock.setTimer(this.config.quota.updateIntervalMs, () => this.tick());
  }

  private async tick(): Promise<void> {
    this.cancelTick = undefined;
    const batch = [...this.metered];
    try {
      const { results, failures } = await this.quota.recordAll(batch.map(([quotaSessionId]) => quotaSessionId));
      for (const [quotaSessionId, metered] of batch) {
        const usage = results.get(quotaSessionId);
        if (usage === undefined) {
          this.logFailure(metered.session, failures.get(quotaSessionId));
        } else if (metered.session.phase !== 'ended') {
          if (usage.exceeded) {
            void this.sessions.fail(metered.session, quotaExceeded(usage.remaining));
          } else {
            this.armRunOut(quotaSessionId, metered, usage.runsOutAt);
          }
        }
      }
    } catch (error) {
      this.logFailure(undefined, error);
    }
    if (this.metered.size > 0) {
      this.scheduleTick();
    }
  }

  private armRunOut(quotaSessionId: string, metered: MeteredSession, runsOutAt: number | null): void {
    metered.cancelRunOut();
    metered.cancelRunOut =
      runsOutAt === null
        ? () => {}
        : this.clock.setTimer(runsOutAt - this.clock.now(), async () => {
            if (metered.session.phase === 'ended') {
              return;
            }
            const usage = await this.quota.record(quotaSessionId).catch(() => undefined);
            if (usage === undefined || usage.exceeded) {
              await this.sessions.fail(metered.session, quotaExceeded(usage?.remaining));
            }
          });
  }

  private logFailure(session: LiveSession | undefined, error: unknown): void {
    this.logger.error({ session_id: session?.id, err: error }, 'Recording quota usage failed; retrying at the next interval');
  }
}

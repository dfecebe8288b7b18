import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { BetaSessionsService } from '../beta/sessions/beta-sessions.service.js';
import { ClusterJobsLease } from '../cluster/cluster-jobs-lease.js';
import { Clock } from '../common/clock.js';
import { InstanceIdentity } from '../common/instance-identity.js';
import { DatabaseHealth } from '../database/database-health.js';
import { AppConfig } from '../config/app-config.js';
import { QuotaService } from '../quota/quota.service.js';
import { END_OUTCOMES, type EndCause } from './live-dubbing.protocol.js';
import { LiveSessionsRepository, type LiveSessionRecord } from './live-sessions.repository.js';

/** A session whose owner has written no heartbeat for this many checkpoint intervals is lost. */
const LOST_AFTER_INTERVALS = 3;

export function lostAfterMs(config: AppConfig): number {
  return LOST_AFTER_INTERVALS * config.beta.checkpointIntervalMs;
}

/**
 * The lost-session sweep, every BETA_CHECKPOINT_INTERVAL_MS on the instance that holds the cluster-wide jobs lease
 * (its own sessions included; any instance's sweep is safe, the lease only keeps it from running N times): a
 * session whose owner went silent is taken over by compare-and-set on its owner epoch and ended — as the owner
 * recorded if it had begun ending it, otherwise `instance_lost` — charged up to the owner's last heartbeat, its
 * quota session too. The old owner, should it wake, finds the session is no longer its own (docs/credits.md).
 * A suspended session not resumed within its window is ended the same way, charged up to when it was lost.
 */
@Injectable()
export class LiveSessionSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LiveSessionSweeper.name);
  private interval?: NodeJS.Timeout;
  private running?: Promise<number>;
  /** After this instance regains the database, owners first write what they kept: nothing is reaped until then. */
  private quietUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly records: LiveSessionsRepository,
    private readonly beta: BetaSessionsService,
    private readonly quota: QuotaService,
    private readonly instance: InstanceIdentity,
    private readonly health: DatabaseHealth,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly lease: ClusterJobsLease,
  ) {
    this.health.onChange((reachable) => {
      if (reachable) {
        this.quietUntil = this.clock.now() + this.config.beta.checkpointIntervalMs;
      }
    });
  }

  /**
   * On real time, like the checkpoint it paces itself by, while this instance holds the lease, and at once when it
   * takes it over (a dead holder's sessions wait no longer than they must); tests call `sweep` themselves.
   */
  onApplicationBootstrap(): void {
    const scheduledSweep = () =>
      void this.sweep().catch((error: unknown) => this.logger.error({ err: error }, 'Lost-session sweep failed; the next one retries'));
    this.lease.onAcquired(scheduledSweep);
    this.interval = setInterval(() => {
      if (this.lease.held()) {
        scheduledSweep();
      }
    }, this.config.beta.checkpointIntervalMs);
    this.interval.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.interval);
  }

  /** One sweep; returns how many sessions it ended. Never two at once on one instance. */
  sweep(): Promise<number> {
    this.running ??= this.endSilentSessions().finally(() => (this.running = undefined));
    return this.running;
  }

  private async endSilentSessions(): Promise<number> {
    const now = this.clock.now();
    if (!this.health.reachable || now < this.quietUntil) {
      // Heartbeats the outage prevented are not a sign of a lost instance: wait one interval after it (docs/credits.md).
      return 0;
    }
    const [silent, expired] = await Promise.all([
      this.records.findSilentSince(now - lostAfterMs(this.config)),
      this.records.findSuspendedPast(now),
    ]);
    const ends = [
      ...silent.map((session) => ({ session, end: { cause: 'instance_lost', atMs: session.heartbeatAtMs } })),
      // Not resumed in time: ended as it was suspended (a lost connection as the user leaving), charged up to the loss.
      ...expired.map((session) => ({ session, end: { cause: session.suspendCause!, atMs: session.lostAtMs! } })),
    ];
    let ended = 0;
    for (const { session, end } of ends) {
      const taken = await this.records.takeOverToEnd(session, this.instance.id, end);
      if (taken !== undefined) {
        await this.finish(taken);
        ended++;
      }
    }
    return ended;
  }

  /**
   * Ends a suspended session now, as if its resume window had closed: an opening over the user's cap makes room so
   * (docs/protocol.md, "Sessions per user"). False when a resume or another sweep took it first.
   */
  async endSuspended(session: LiveSessionRecord): Promise<boolean> {
    const taken = await this.records.takeOverToEnd(session, this.instance.id, { cause: session.suspendCause!, atMs: session.lostAtMs! });
    if (taken === undefined) {
      return false;
    }
    await this.finish(taken);
    return true;
  }

  private async finish(session: LiveSessionRecord): Promise<void> {
    const cause = (session.endCause ?? 'instance_lost') as EndCause;
    const outcome = END_OUTCOMES[cause] ?? END_OUTCOMES.instance_lost;
    const endAt = session.endAtMs!;
    if (session.betaSessionId !== undefined && session.resumed !== undefined) {
      // A resumer that died between taking the session and moving its credits: the gap it cut is not charged.
      await this.beta.applyResume(session.betaSessionId, session.email, {
        cutAt: session.resumed.cutAtMs,
        resumeAt: session.resumed.atMs,
        epoch: session.resumed.epoch,
      });
    }
    await Promise.all([
      session.betaSessionId === undefined ? undefined : this.beta.end(session.betaSessionId, outcome.beta, endAt, session.email),
      this.quota.endSession(session.quotaSessionId, outcome.quota, { atMs: endAt }),
    ]);
    await this.records.markEnded({ id: session.id, epoch: session.ownerEpoch }, this.clock.now());
    this.logger.warn(
      { session_id: session.id, owner_instance_id: session.ownerInstanceId, cause, ended_at: new Date(endAt).toISOString() },
      'Ended a live session its owner no longer serves',
    );
  }
}

import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { InstanceIdentity } from '../common/instance-identity.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { JobLeasesRepository } from './job-leases.repository.js';

/** The one lease the cluster-wide jobs run under: the lost-session sweep and the credit reconcile. */
export const CLUSTER_JOBS = 'cluster-jobs';

/**
 * Whether this instance runs the jobs that must run once per cluster (docs/credits.md, "Many instances"). Every
 * instance claims the lease every third of `JOB_LEASE_MS`; a claim lasts two thirds of it, on the claimant's clock,
 * so a holder that dies or is cut off is replaced within one `JOB_LEASE_MS`, and a holder stops counting itself
 * the holder when its claim lapses, even if it could not reach the database to learn it lost it. The jobs stay
 * correct without the lease (every write they make is a compare-and-set); the lease keeps N instances from doing
 * the same work N times.
 */
@Injectable()
export class ClusterJobsLease implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterJobsLease.name);
  private heldUntil = Number.NEGATIVE_INFINITY;
  private claiming?: Promise<boolean>;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly acquiredListeners: (() => void)[] = [];

  constructor(
    private readonly leases: JobLeasesRepository,
    private readonly instance: InstanceIdentity,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly metrics?: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    void this.claim();
    this.timer = setInterval(() => void this.claim(), this.config.jobLeaseMs / 3);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.claiming;
    if (this.held()) {
      this.heldUntil = Number.NEGATIVE_INFINITY;
      this.metrics?.clusterJobsLeaseHeld.set(0);
      await this.leases.release(CLUSTER_JOBS, this.instance.id).catch(() => undefined);
    }
  }

  /** `listener` runs each time this instance takes the lease (not when it renews it): a new holder catches up at once. */
  onAcquired(listener: () => void): void {
    this.acquiredListeners.push(listener);
  }

  /** True while this instance's last claim holds. */
  held(): boolean {
    return this.clock.now() < this.heldUntil;
  }

  /** One claim (never two at once); true when this instance holds the lease after it. */
  claim(): Promise<boolean> {
    this.claiming ??= this.tryClaim().finally(() => (this.claiming = undefined));
    return this.claiming;
  }

  private async tryClaim(): Promise<boolean> {
    if (this.stopped) {
      return false;
    }
    const now = this.clock.now();
    const until = now + Math.floor((2 * this.config.jobLeaseMs) / 3);
    const wasHeld = this.held();
    try {
      const { held, taken } = await this.leases.claim(CLUSTER_JOBS, this.instance.id, now, until);
      this.heldUntil = held ? until : Number.NEGATIVE_INFINITY;
      if (taken) {
        this.logger.log({ job: CLUSTER_JOBS, holder: this.instance.id }, 'This instance now runs the cluster-wide jobs');
        this.acquiredListeners.forEach((listener) => listener());
      } else if (wasHeld && !held) {
        this.logger.warn({ job: CLUSTER_JOBS }, 'Another instance took the cluster-wide jobs');
      }
    } catch (error) {
      // The claim already made still holds until it lapses; the next attempt retries.
      this.logger.warn({ err: error, job: CLUSTER_JOBS }, 'Could not claim the cluster-wide jobs lease');
    }
    this.metrics?.clusterJobsLeaseHeld.set(this.held() ? 1 : 0);
    return this.held();
  }
}

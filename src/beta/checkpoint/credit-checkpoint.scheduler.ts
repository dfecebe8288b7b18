import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ClusterJobsLease } from '../../cluster/cluster-jobs-lease.js';
import { AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { CreditReconcilerService } from '../credits/credit-reconciler.service.js';
import { GrantExpiryService } from '../credits/grant-expiry.service.js';
import { CreditCheckpointService } from './credit-checkpoint.service.js';

const JOB = 'beta-credit-checkpoint';
const RECONCILE_EVERY_TICKS = 10;

/**
 * Runs the checkpoint every BETA_CHECKPOINT_INTERVAL_MS on every instance (each charges the sessions it serves); a
 * tick never overlaps the previous one. The holder of the cluster-wide jobs lease also writes off expired grants at
 * every tick, and reconciles the credits at start (every account) and every tenth tick (the accounts changed since).
 */
@Injectable()
export class CreditCheckpointScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CreditCheckpointScheduler.name);
  private running?: Promise<void>;
  private ticks = 0;

  constructor(
    private readonly checkpoint: CreditCheckpointService,
    private readonly reconciler: CreditReconcilerService,
    private readonly expiry: GrantExpiryService,
    private readonly registry: SchedulerRegistry,
    private readonly config: AppConfig,
    private readonly lease: ClusterJobsLease,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.beta.enabled) {
      return;
    }
    if (await this.lease.claim()) {
      await this.reconciler
        .reconcile({ repair: true, full: true })
        .catch((error: unknown) => this.logger.error({ err: error }, 'Start-up reconcile failed'));
    }
    const interval = setInterval(() => void this.runOnce(), this.config.beta.checkpointIntervalMs);
    this.registry.addInterval(JOB, interval);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.registry.doesExist('interval', JOB)) {
      this.registry.deleteInterval(JOB);
    }
    await this.running;
  }

  runOnce(): Promise<void> {
    if (this.running !== undefined) {
      return this.running;
    }
    this.running = this.work().finally(() => (this.running = undefined));
    return this.running;
  }

  private async work(): Promise<void> {
    try {
      const { checkpointed } = await this.checkpoint.tick();
      this.metrics?.betaCheckpointSessions.inc(checkpointed);
      if (this.lease.held()) {
        await this.expiry.run();
      }
      if (++this.ticks % RECONCILE_EVERY_TICKS === 0 && this.lease.held()) {
        await this.reconciler.reconcile({ repair: true });
      }
    } catch (error) {
      this.logger.error({ err: error }, 'Beta checkpoint failed; the next tick retries');
    }
  }
}

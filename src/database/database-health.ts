import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { mongo } from 'mongoose';
import { Clock, type CancelTimer } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DatabaseUriResolver } from './database-uri.js';

/** A ping starts this long after the previous one settled. */
export const PROBE_INTERVAL_MS = 500;
/** A ping unanswered this long means the database is lost, without waiting for the ping to give up. */
export const PROBE_TIMEOUT_MS = 750;
/** A timeout firing this much after its time found the event loop stalled. */
export const LATE_TIMER_MS = 100;

/** One round trip to the database; an abstract class so unit tests can stand in for the database. */
export abstract class DatabasePing {
  abstract ping(): Promise<unknown>;
}

/**
 * The `ping` command on a connection of its own, to the database the application's mongoose connection uses: a ping
 * never waits behind the application's own commands for one of its pooled connections, so a database that is busy
 * (a burst of openings) is not taken for one that is gone.
 */
@Injectable()
export class ConnectionPing extends DatabasePing implements OnApplicationShutdown {
  private client?: mongo.MongoClient;

  constructor(
    private readonly uri: DatabaseUriResolver,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async ping(): Promise<unknown> {
    if (this.uri.uri === undefined) {
      throw new Error('The database URI is not resolved yet');
    }
    this.client ??= new mongo.MongoClient(this.uri.uri, {
      maxPoolSize: 1,
      serverSelectionTimeoutMS: this.config.database.timeoutMs,
      socketTimeoutMS: this.config.database.timeoutMs,
    });
    return this.client.db('admin').command({ ping: 1 });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.close();
  }
}

export type ReachabilityListener = (reachable: boolean) => void;

/**
 * Whether this instance reaches the database right now, so callers can refuse work at once (close 1013, HTTP 503)
 * instead of each waiting out MONGODB_TIMEOUT_MS on an operation of its own.
 *
 * One ping at a time, PROBE_INTERVAL_MS after the previous one settled: a frozen server never piles up pings. A
 * failed ping, or one unanswered for PROBE_TIMEOUT_MS, makes the database unreachable at once; a ping that goes on
 * hanging holds back the next one until it settles (the driver gives it up after MONGODB_TIMEOUT_MS), and an answer,
 * however late, makes the database reachable again. So a frozen or lost database shows within PROBE_INTERVAL_MS +
 * PROBE_TIMEOUT_MS of the last answer; a crashed one often sooner, its closed connection failing the next ping at once.
 * A timeout that fires LATE_TIMER_MS or more after its time found the event loop stalled (a burst of openings), with
 * the answer perhaps unread behind it: the ping gets one more PROBE_TIMEOUT_MS, so a busy instance does not refuse
 * every opening it holds for a database that answered.
 */
@Injectable()
export class DatabaseHealth implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DatabaseHealth.name);
  private readonly listeners = new Set<ReachabilityListener>();
  /** When the database was lost; undefined while it is reachable. */
  private lostAtMs?: number;
  /** The one timer armed at a time: the next ping's, or the running ping's timeout. */
  private cancelTimer?: CancelTimer;
  private stopped = false;

  /** Metrics are optional: the CLI has none. */
  constructor(
    private readonly database: DatabasePing,
    private readonly clock: Clock,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.metrics?.databaseReachable.set(1);
  }

  onApplicationBootstrap(): void {
    this.scheduleProbe();
  }

  /**
   * Before, not on, application shutdown: the mongoose connection closes on application shutdown, and a ping failing
   * on the closed connection must not be taken for the database lost.
   */
  beforeApplicationShutdown(): void {
    this.stopped = true;
    this.cancelTimer?.();
  }

  /** Reachable from the start: the application connected just before (a failed connection fails the start). */
  get reachable(): boolean {
    return this.lostAtMs === undefined;
  }

  /** Calls `listener` on every change, never twice with the same value in a row; the returned function unsubscribes. */
  onChange(listener: ReachabilityListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Throws `service_unavailable` (close 1013, HTTP 503) while the database is unreachable. */
  assertReachable(): void {
    if (!this.reachable) {
      throw new DomainError(ErrorCode.ServiceUnavailable, 'The database is unreachable; try again shortly');
    }
  }

  private scheduleProbe(): void {
    // The timer must not await the ping: a hung ping would hold the clock (ManualClock awaits its timers).
    this.cancelTimer = this.clock.setTimer(PROBE_INTERVAL_MS, () => void this.probe());
  }

  /** Never rejects: the outcome of a ping is the state it leaves, and a settled ping schedules the next. */
  private async probe(): Promise<void> {
    const startedAt = this.clock.now();
    let graced = false;
    const timeout = (): void => {
      // A timeout that fires late ran on a loop that was busy (a burst of openings): the answer may be waiting behind
      // it, unread. It gets one more timeout's time before the database is called lost.
      if (!graced && this.clock.now() - startedAt - PROBE_TIMEOUT_MS >= LATE_TIMER_MS) {
        graced = true;
        this.cancelTimer = this.clock.setTimer(PROBE_TIMEOUT_MS, timeout);
        return;
      }
      this.lose(`a ping went unanswered for ${this.clock.now() - startedAt} ms`);
    };
    this.cancelTimer = this.clock.setTimer(PROBE_TIMEOUT_MS, timeout);
    let failure: { error: unknown } | undefined;
    try {
      await this.database.ping();
    } catch (error) {
      failure = { error };
    }
    if (this.stopped) {
      return;
    }
    this.cancelTimer?.();
    if (failure === undefined) {
      this.regain();
    } else {
      this.lose('a ping failed', failure.error);
    }
    this.scheduleProbe();
  }

  private lose(reason: string, error?: unknown): void {
    if (this.lostAtMs !== undefined) {
      return;
    }
    this.lostAtMs = this.clock.now();
    this.logger.warn({ err: error }, `The database is unreachable: ${reason}`);
    this.changed(false);
  }

  private regain(): void {
    if (this.lostAtMs === undefined) {
      return;
    }
    const now = this.clock.now();
    const awayMs = now - this.lostAtMs;
    this.lostAtMs = undefined;
    this.logger.log({ away_ms: awayMs }, `The database is reachable again, after ${awayMs} ms`);
    this.changed(true);
  }

  /** A failing listener is logged and the others still hear: it must not stop the pings. */
  private changed(reachable: boolean): void {
    this.metrics?.databaseReachable.set(reachable ? 1 : 0);
    for (const listener of this.listeners) {
      try {
        listener(reachable);
      } catch (error) {
        this.logger.error({ err: error }, 'A database reachability listener failed');
      }
    }
  }
}

import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ManualClock } from '../../test/harness/manual-clock.js';
import { CloseCode } from '../common/errors/close-codes.js';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { DatabaseHealth, DatabasePing, PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS } from './database-health.js';

/** A database the test answers for: each ping waits until the test settles it. */
class FakeDatabase extends DatabasePing {
  readonly pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  pings = 0;

  ping(): Promise<unknown> {
    this.pings++;
    return new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  answer(): void {
    this.pending.shift()!.resolve();
  }

  fail(): void {
    this.pending.shift()!.reject(new Error('connection refused'));
  }
}

describe(DatabaseHealth.name, () => {
  let clock: ManualClock;
  let database: FakeDatabase;
  let health: DatabaseHealth;
  let changes: boolean[];

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    clock = new ManualClock();
    database = new FakeDatabase();
    health = new DatabaseHealth(database, clock);
    changes = [];
    health.onChange((reachable) => changes.push(reachable));
    health.onApplicationBootstrap();
  });

  afterEach(() => {
    health.beforeApplicationShutdown();
    jest.restoreAllMocks();
  });

  /** Lets the next ping start and answers it. */
  async function answeredPing(): Promise<void> {
    await clock.advance(PROBE_INTERVAL_MS);
    database.answer();
    await clock.advance(0);
  }

  /** Lets the next ping start and fails it. */
  async function failedPing(): Promise<void> {
    await clock.advance(PROBE_INTERVAL_MS);
    database.fail();
    await clock.advance(0);
  }

  it('is reachable from the start, and pings every interval while answered', async () => {
    expect(health.reachable).toBe(true);
    expect(() => health.assertReachable()).not.toThrow();
    for (let i = 0; i < 3; i++) {
      await answeredPing();
    }
    expect(database.pings).toBe(3);
    expect(health.reachable).toBe(true);
    expect(changes).toEqual([]);
  });

  it('turns unreachable at a failed ping and tells the listeners and the log once, however many pings fail', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    await answeredPing();
    await failedPing();
    expect(health.reachable).toBe(false);
    expect(changes).toEqual([false]);
    await failedPing();
    await failedPing();
    expect(database.pings).toBe(4);
    expect(changes).toEqual([false]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith({ err: expect.any(Error) }, 'The database is unreachable: a ping failed');
  });

  it('turns unreachable once a ping is unanswered for the timeout, and starts no other ping while it hangs', async () => {
    await clock.advance(PROBE_INTERVAL_MS);
    expect(database.pings).toBe(1);
    await clock.advance(PROBE_TIMEOUT_MS - 1);
    expect(health.reachable).toBe(true);
    await clock.advance(1);
    expect(health.reachable).toBe(false);
    expect(changes).toEqual([false]);

    await clock.advance(20 * PROBE_INTERVAL_MS);
    expect(database.pings).toBe(1);
    expect(changes).toEqual([false]);

    // Once the hung ping settles (here: fails), the pings go on.
    database.fail();
    await clock.advance(0);
    await clock.advance(PROBE_INTERVAL_MS);
    expect(database.pings).toBe(2);
    expect(changes).toEqual([false]);
  });

  it('gives a ping whose timeout fired late (a stalled event loop) one more timeout before calling the database lost', async () => {
    await clock.advance(PROBE_INTERVAL_MS);
    const startedAt = clock.now();
    // The loop was busy: the timeout's callback runs 400 ms after its time, the answer waiting unread behind it.
    const now = jest.spyOn(clock, 'now').mockImplementation(() => startedAt + PROBE_TIMEOUT_MS + 400);
    await clock.advance(PROBE_TIMEOUT_MS);
    now.mockRestore();
    expect(health.reachable).toBe(true);
    database.answer();
    await clock.advance(0);
    expect(changes).toEqual([]);

    // Late again, and then still unanswered for the extra timeout: lost.
    await clock.advance(PROBE_INTERVAL_MS);
    const again = clock.now();
    const late = jest.spyOn(clock, 'now').mockImplementation(() => again + PROBE_TIMEOUT_MS + 400);
    await clock.advance(PROBE_TIMEOUT_MS);
    late.mockRestore();
    await clock.advance(PROBE_TIMEOUT_MS - 1);
    expect(health.reachable).toBe(true);
    await clock.advance(1);
    expect(health.reachable).toBe(false);
    expect(changes).toEqual([false]);
  });

  it('turns reachable again at an answered ping: listeners and the log hear it once', async () => {
    const log = jest.spyOn(Logger.prototype, 'log');
    await failedPing();
    await failedPing();
    await answeredPing();
    expect(health.reachable).toBe(true);
    expect(changes).toEqual([false, true]);
    await answeredPing();
    expect(changes).toEqual([false, true]);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledWith(
      { away_ms: 2 * PROBE_INTERVAL_MS },
      `The database is reachable again, after ${2 * PROBE_INTERVAL_MS} ms`,
    );
  });

  it('turns reachable when a hung ping is answered at last', async () => {
    await clock.advance(PROBE_INTERVAL_MS + PROBE_TIMEOUT_MS + 1000);
    expect(health.reachable).toBe(false);
    database.answer();
    await clock.advance(0);
    expect(health.reachable).toBe(true);
    expect(changes).toEqual([false, true]);
  });

  it('refuses with service_unavailable (close 1013, HTTP 503) while unreachable', async () => {
    await failedPing();
    let thrown: unknown;
    try {
      health.assertReachable();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect(thrown).toMatchObject({ code: ErrorCode.ServiceUnavailable, closeCode: CloseCode.TryAgainLater, status: 503 });
    expect((thrown as DomainError).closeCode).toBe(1013);
  });

  it('stops telling a listener that unsubscribed, and a failing listener stops neither the others nor the pings', async () => {
    const unsubscribed: boolean[] = [];
    const unsubscribe = health.onChange((reachable) => unsubscribed.push(reachable));
    health.onChange(() => {
      throw new Error('listener bug');
    });
    await failedPing();
    unsubscribe();
    await answeredPing();
    expect(unsubscribed).toEqual([false]);
    expect(changes).toEqual([false, true]);
    await failedPing();
    expect(changes).toEqual([false, true, false]);
  });

  it('pings no more after shutdown and ignores the ping it was waiting for', async () => {
    await clock.advance(PROBE_INTERVAL_MS);
    health.beforeApplicationShutdown();
    database.fail();
    await clock.advance(10 * PROBE_INTERVAL_MS);
    expect(database.pings).toBe(1);
    expect(health.reachable).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });
});

import { randomBytes } from 'node:crypto';
import { getConnectionToken, MongooseModule } from '@nestjs/mongoose';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import { Clock } from '../../src/common/clock.js';
import { CommonModule } from '../../src/common/common.module.js';
import { DomainError, ErrorCode } from '../../src/common/errors/domain-error.js';
import { AppConfig, loadAppConfig, type QuotaWindow } from '../../src/config/app-config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import type { SubscriptionTier } from '../../src/users/user.schema.js';
import { LIVE_DUBBING_FEATURE } from '../../src/quota/quota-feature.js';
import { QuotaModule } from '../../src/quota/quota.module.js';
import { QuotaRepository, usageKey } from '../../src/quota/quota.repository.js';
import { QuotaService, type QuotaUser } from '../../src/quota/quota.service.js';
import { testEnvironment } from '../harness/app.js';
import { testDatabaseUri } from '../harness/database.js';
import { ManualClock } from '../harness/manual-clock.js';

/** Small limits so a test can use a whole window up: premium 2/3/10 minutes, family 4/6/20 (hour/day/month). */
const QUOTA_ENV = {
  QUOTA_PREMIUM_MINUTES_PER_HOUR: '2',
  QUOTA_PREMIUM_MINUTES_PER_DAY: '3',
  QUOTA_PREMIUM_MINUTES_PER_MONTH: '10',
  QUOTA_FAMILY_MINUTES_PER_HOUR: '4',
  QUOTA_FAMILY_MINUTES_PER_DAY: '6',
  QUOTA_FAMILY_MINUTES_PER_MONTH: '20',
};
const FEATURE = LIVE_DUBBING_FEATURE;

const at = (iso: string) => Date.parse(iso);

function quotaUser(tier: SubscriptionTier = 'premium'): QuotaUser {
  return { id: randomBytes(12).toString('hex'), tier };
}

describe(QuotaService.name, () => {
  const databaseUri = testDatabaseUri('quota');
  const instances: TestingModule[] = [];

  /** One service instance (its own connection) on the shared test database, reading time from `clock`. */
  async function startInstance(clock: ManualClock): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule, CommonModule, MongooseModule.forRoot(databaseUri), QuotaModule],
    })
      .overrideProvider(AppConfig)
      .useValue(loadAppConfig(testEnvironment(QUOTA_ENV)))
      .overrideProvider(Clock)
      .useValue(clock)
      .compile();
    await moduleRef.init();
    instances.push(moduleRef);
    return moduleRef;
  }

  async function setup(startIso = '2026-11-25T12:00:00Z') {
    const clock = new ManualClock(at(startIso));
    const instance = await startInstance(clock);
    const connection = instance.get<Connection>(getConnectionToken());
    return {
      clock,
      quota: instance.get(QuotaService),
      repository: instance.get(QuotaRepository),
      /** Another service instance sharing the database and the clock, as a second server would. */
      otherInstance: async () => (await startInstance(clock)).get(QuotaService),
      usedSeconds: async (user: QuotaUser, window: QuotaWindow, windowStartIso: string) => {
        const counter = await connection
          .collection<{ _id: string; used_seconds: number }>('live_quota_usage')
          .findOne({ _id: usageKey(user.id, FEATURE, window, at(windowStartIso)) });
        return counter?.used_seconds ?? 0;
      },
      storedSession: (sessionId: string) => connection.collection<{ _id: string }>('live_quota_sessions').findOne({ _id: sessionId }),
    };
  }

  async function startedSession(quota: QuotaService, user: QuotaUser): Promise<string> {
    const started = await quota.startSession(user, FEATURE);
    if (!started.allowed) {
      throw new Error('expected the session to start');
    }
    return started.sessionId;
  }

  afterEach(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.close()));
  });

  afterAll(async () => {
    const instance = await startInstance(new ManualClock());
    await instance.get<Connection>(getConnectionToken()).dropDatabase();
    await instance.close();
  });

  describe('check', () => {
    it('allows a premium user with the configured minutes in every window', async () => {
      const { quota } = await setup();
      expect(await quota.check(quotaUser('premium'), FEATURE)).toEqual({
        allowed: true,
        remaining: { hour: 2, day: 3, month: 10 },
        remainingSeconds: { hour: 120, day: 180, month: 600 },
      });
    });

    it('allows a family user with the family minutes', async () => {
      const { quota } = await setup();
      expect(await quota.check(quotaUser('family'), FEATURE)).toMatchObject({ allowed: true, remaining: { hour: 4, day: 6, month: 20 } });
    });

    it.each(['free', 'basic'] as const)('refuses a %s user, who has no minutes in any window', async (tier) => {
      const { quota } = await setup();
      expect(await quota.check(quotaUser(tier), FEATURE)).toEqual({
        allowed: false,
        remaining: { hour: 0, day: 0, month: 0 },
        remainingSeconds: { hour: 0, day: 0, month: 0 },
      });
    });

    it('opens no session for a user without quota', async () => {
      const { quota } = await setup();
      expect(await quota.startSession(quotaUser('basic'), FEATURE)).toMatchObject({ allowed: false });
    });
  });

  describe('recording', () => {
    it('opens an active session that has used nothing yet', async () => {
      const { quota, clock, storedSession } = await setup();
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      expect(await storedSession(sessionId)).toMatchObject({
        user_id: user.id,
        tier: 'premium',
        feature: 'live_dubbing',
        status: 'active',
        started_at: clock.date(),
        recorded_until: clock.date(),
        used_seconds: 0,
      });
    });

    it('counts the exact seconds since the session started in its hour, day and month', async () => {
      const { quota, clock, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(25_000);
      const result = await quota.record(sessionId);
      expect(result).toMatchObject({ exceeded: false, remainingSeconds: { hour: 95, day: 155, month: 575 } });
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(25);
      expect(await usedSeconds(user, 'day', '2026-11-25T00:00:00Z')).toBe(25);
      expect(await usedSeconds(user, 'month', '2026-11-01T00:00:00Z')).toBe(25);
      expect(await storedSession(sessionId)).toMatchObject({ recorded_until: clock.date(), used_seconds: 25 });
    });

    it('charges a started second once, not once per record', async () => {
      const { quota, clock, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(10_200);
      await quota.record(sessionId);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(11);
      await clock.advance(9_800);
      await quota.record(sessionId);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(20);
    });

    it('counts every concurrent session of one user, across instances, without losing an increment', async () => {
      const { quota, clock, otherInstance, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const other = await otherInstance();
      const user = quotaUser('family');
      const sessionIds = await Promise.all(Array.from({ length: 6 }, () => startedSession(quota, user)));
      await clock.advance(20_000);
      await Promise.all(sessionIds.map((sessionId, i) => (i % 2 === 0 ? quota : other).record(sessionId)));
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(120);
      expect(await usedSeconds(user, 'month', '2026-11-01T00:00:00Z')).toBe(120);
    });

    it('counts a span once when it is recorded again', async () => {
      const { quota, clock, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(30_000);
      await quota.record(sessionId);
      await quota.record(sessionId);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(30);
    });

    it('counts a span once when several instances record it at the same time', async () => {
      const { quota, clock, otherInstance, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const other = await otherInstance();
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(30_000);
      await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? quota : other).record(sessionId)));
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(30);
      expect(await storedSession(sessionId)).toMatchObject({ used_seconds: 30 });
    });

    it('counts only the new span when another instance recorded the session since this one did', async () => {
      const { quota, clock, otherInstance, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const other = await otherInstance();
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(10_000);
      await quota.record(sessionId);
      await clock.advance(10_000);
      await other.record(sessionId);
      await clock.advance(5_000);
      await quota.record(sessionId);
      await clock.advance(5_000);
      await quota.endSession(sessionId, 'completed');
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(30);
      expect(await storedSession(sessionId)).toMatchObject({ used_seconds: 30, status: 'completed' });
    });

    it('does not count a span again after a crash between claiming it and counting it', async () => {
      const { quota, clock, repository, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(10_000);
      const session = (await repository.findSession(sessionId))!;
      expect(await repository.claimSpan(session, { toMs: clock.now(), seconds: 10 })).toBe(true);
      await quota.record(sessionId);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(0);
      await clock.advance(5_000);
      await quota.record(sessionId);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(5);
    });

    it('splits a session that crosses midnight UTC between the two days and hours', async () => {
      const { quota, clock, usedSeconds } = await setup('2026-11-25T23:59:50Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(20_000);
      const result = await quota.record(sessionId);
      expect(await usedSeconds(user, 'day', '2026-11-25T00:00:00Z')).toBe(10);
      expect(await usedSeconds(user, 'day', '2026-11-26T00:00:00Z')).toBe(10);
      expect(await usedSeconds(user, 'hour', '2026-11-25T23:00:00Z')).toBe(10);
      expect(await usedSeconds(user, 'hour', '2026-11-26T00:00:00Z')).toBe(10);
      expect(await usedSeconds(user, 'month', '2026-11-01T00:00:00Z')).toBe(20);
      expect(result.remainingSeconds).toEqual({ hour: 110, day: 170, month: 580 });
    });

    it('rejects a record for a session that does not exist', async () => {
      const { quota } = await setup();
      await expect(quota.record('no-such-session')).rejects.toEqual(
        new DomainError(ErrorCode.NotFound, 'No quota session no-such-session'),
      );
    });
  });

  describe('recording a batch', () => {
    it('counts every session of the batch as its own record would, users and windows apart', async () => {
      const { quota, clock, usedSeconds, storedSession } = await setup('2026-11-25T12:59:50Z');
      const [alice, bob] = [quotaUser(), quotaUser('family')];
      const sessions = [await startedSession(quota, alice), await startedSession(quota, bob), await startedSession(quota, bob)];
      await clock.advance(25_000);
      const { results, failures } = await quota.recordAll(sessions);
      expect(failures.size).toBe(0);
      expect(results.get(sessions[0])).toMatchObject({ exceeded: false, remainingSeconds: { hour: 105, day: 155, month: 575 } });
      expect(results.get(sessions[2])).toMatchObject({ exceeded: false, remainingSeconds: { hour: 210, day: 310, month: 1150 } });
      expect(await usedSeconds(alice, 'hour', '2026-11-25T12:00:00Z')).toBe(10);
      expect(await usedSeconds(alice, 'hour', '2026-11-25T13:00:00Z')).toBe(15);
      expect(await usedSeconds(bob, 'hour', '2026-11-25T13:00:00Z')).toBe(30);
      expect(await usedSeconds(bob, 'day', '2026-11-25T00:00:00Z')).toBe(50);
      for (const sessionId of sessions) {
        expect(await storedSession(sessionId)).toMatchObject({ recorded_until: clock.date(), used_seconds: 25 });
      }
    });

    it('counts once a span that a single record of another instance already took, and the rest of the batch as usual', async () => {
      const { quota, clock, otherInstance, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const other = await otherInstance();
      const user = quotaUser('family');
      const [raced, plain] = [await startedSession(quota, user), await startedSession(quota, user)];
      await clock.advance(20_000);
      await other.record(raced);
      await clock.advance(5_000);
      const { results } = await quota.recordAll([raced, plain]);
      expect([...results.keys()].sort()).toEqual([raced, plain].sort());
      expect(await storedSession(raced)).toMatchObject({ recorded_until: clock.date(), used_seconds: 25 });
      expect(await storedSession(plain)).toMatchObject({ recorded_until: clock.date(), used_seconds: 25 });
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(50);
    });

    it('counts a span once when batches of two instances record it at the same time', async () => {
      const { quota, clock, otherInstance, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const other = await otherInstance();
      const user = quotaUser('family');
      const sessions = await Promise.all(Array.from({ length: 4 }, () => startedSession(quota, user)));
      await clock.advance(10_000);
      await Promise.all(sessions.map((sessionId) => other.record(sessionId)));
      await clock.advance(20_000);
      await Promise.all([quota.recordAll(sessions), other.recordAll(sessions), quota.recordAll(sessions)]);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(120);
    });

    it('reports a session that cannot be recorded and records the others', async () => {
      const { quota, clock, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(10_000);
      const { results, failures } = await quota.recordAll([sessionId, 'no-such-session']);
      expect(results.get(sessionId)).toMatchObject({ exceeded: false });
      expect(failures.get('no-such-session')).toBeInstanceOf(DomainError);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(10);
    });

    it('says when a session of the batch has used up a window', async () => {
      const { quota, clock } = await setup('2026-11-25T12:00:00Z');
      const sessionId = await startedSession(quota, quotaUser());
      await clock.advance(120_000);
      const { results } = await quota.recordAll([sessionId]);
      expect(results.get(sessionId)).toMatchObject({ exceeded: true, remainingSeconds: { hour: 0 } });
    });
  });

  describe('limits', () => {
    it('tells the caller when this session alone would use up the hour', async () => {
      const { quota } = await setup('2026-11-25T12:00:00Z');
      const started = await quota.startSession(quotaUser(), FEATURE);
      expect(started).toMatchObject({ allowed: true, runsOutAt: at('2026-11-25T12:02:00Z') });
    });

    it('reports exceeded once the hourly minutes are used, and refuses the user afterwards', async () => {
      const { quota, clock } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(60_000);
      expect(await quota.record(sessionId)).toMatchObject({
        exceeded: false,
        remaining: { hour: 1 },
        runsOutAt: at('2026-11-25T12:02:00Z'),
      });
      await clock.advance(60_000);
      expect(await quota.record(sessionId)).toMatchObject({ exceeded: true, remaining: { hour: 0, day: 1, month: 8 } });
      expect(await quota.check(user, FEATURE)).toMatchObject({ allowed: false, remainingSeconds: { hour: 0 } });
      expect(await quota.startSession(user, FEATURE)).toMatchObject({ allowed: false });
    });

    it('restores the hourly allowance in a new hour but not the daily one', async () => {
      const { quota, clock } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const first = await startedSession(quota, user);
      await clock.advance(120_000);
      await quota.endSession(first, 'completed');
      await clock.advance(at('2026-11-25T13:00:00Z') - clock.now());
      expect(await quota.check(user, FEATURE)).toMatchObject({ allowed: true, remaining: { hour: 2, day: 1 } });

      const second = await startedSession(quota, user);
      await clock.advance(60_000);
      expect(await quota.record(second)).toMatchObject({ exceeded: true, remaining: { hour: 1, day: 0 } });
      await quota.endSession(second, 'completed');
      await clock.advance(at('2026-11-25T14:00:00Z') - clock.now());
      expect(await quota.check(user, FEATURE)).toMatchObject({ allowed: false, remaining: { hour: 2, day: 0 } });
    });
  });

  describe('ending', () => {
    it('counts the last span, rounded up to the second, and marks the session completed', async () => {
      const { quota, clock, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(10_000);
      await quota.record(sessionId);
      await clock.advance(5_500);
      expect(await quota.endSession(sessionId, 'completed')).toEqual({ ended: true, status: 'completed', usedSeconds: 16, usedMs: 15_500 });
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(16);
      expect(await storedSession(sessionId)).toMatchObject({ status: 'completed', ended_at: clock.date(), used_seconds: 16 });
    });

    it('marks a session that ended in error with status error', async () => {
      const { quota, clock, storedSession } = await setup();
      const sessionId = await startedSession(quota, quotaUser());
      await clock.advance(3_000);
      await quota.endSession(sessionId, 'error');
      expect(await storedSession(sessionId)).toMatchObject({ status: 'error', used_seconds: 3 });
    });

    it('does nothing when a session is ended a second time', async () => {
      const { quota, clock, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(7_000);
      await quota.endSession(sessionId, 'completed');
      await clock.advance(30_000);
      expect(await quota.endSession(sessionId, 'error')).toEqual({ ended: false, status: 'completed', usedSeconds: 7, usedMs: 7_000 });
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(7);
      expect(await storedSession(sessionId)).toMatchObject({ status: 'completed', recorded_until: new Date(at('2026-11-25T12:00:07Z')) });
    });

    it('counts nothing when an ended session is recorded', async () => {
      const { quota, clock, usedSeconds } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(7_000);
      await quota.endSession(sessionId, 'completed');
      await clock.advance(30_000);
      expect(await quota.record(sessionId)).toMatchObject({ exceeded: false, runsOutAt: null });
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(7);
    });

    it('counts a span once when an end and records race on several instances', async () => {
      const { quota, clock, otherInstance, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const other = await otherInstance();
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(40_000);
      const results = await Promise.all([
        quota.record(sessionId),
        other.endSession(sessionId, 'completed'),
        other.record(sessionId),
        quota.endSession(sessionId, 'completed'),
      ]);
      expect([results[1], results[3]].filter((end) => end.ended)).toHaveLength(1);
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(40);
      expect(await storedSession(sessionId)).toMatchObject({ status: 'completed', used_seconds: 40 });
    });

    it('ends a session whose owner was lost at its last record, not at the time it is found', async () => {
      const { quota, clock, usedSeconds, storedSession } = await setup('2026-11-25T12:00:00Z');
      const user = quotaUser();
      const sessionId = await startedSession(quota, user);
      await clock.advance(10_000);
      await quota.record(sessionId);
      const lastRecord = clock.now();
      await clock.advance(90_000);
      expect(await quota.endSession(sessionId, 'error', { atMs: lastRecord })).toMatchObject({ ended: true, usedSeconds: 10 });
      expect(await usedSeconds(user, 'hour', '2026-11-25T12:00:00Z')).toBe(10);
      expect(await storedSession(sessionId)).toMatchObject({
        status: 'error',
        recorded_until: new Date(lastRecord),
        ended_at: clock.date(),
      });
    });
  });
});

import { randomBytes } from 'node:crypto';
import { SystemClock } from '../../src/common/clock.js';
import type { BetaSessionSignal } from '../../src/beta/sessions/beta-session-signals.js';
import { betaViewer, expectExactBooks } from '../harness/beta-books.js';
import { startBetaContext, type BetaContext } from '../harness/beta-context.js';
import { testDatabaseUri } from '../harness/database.js';
import { uniqueEmail } from '../harness/factories.js';
import { ManualClock } from '../harness/manual-clock.js';

describe('Beta credits', () => {
  const clock = new ManualClock();
  let ctx: BetaContext;

  beforeAll(async () => {
    ctx = await startBetaContext({ databaseUri: testDatabaseUri('beta'), clock });
  });

  afterAll(async () => {
    await ctx.connection.dropDatabase();
    await ctx.close();
  });

  it('grants the initial credits once however often a user is enrolled', async () => {
    const email = uniqueEmail();
    const results = await Promise.all([1, 2, 3].map(() => ctx.enrollment.enroll({ email, via: 'admin' })));
    expect(results.map((r) => r.balance.remainingCredits)).toEqual([500, 500, 500]);
    expect(await ctx.connection.collection('beta_credit_transactions').countDocuments({ email })).toBe(1);
  });

  it('keeps every key applied once however long the history: after 250 adjustments the enrolment and the first adjustment replay as no-ops', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    const adjustment = (i: number) => ({
      email: user.email,
      amount: 1,
      key: `many:${user.email}:${i}`,
      type: 'adjustment' as const,
      reason: 'small',
    });
    for (let i = 0; i < 250; i++) {
      await ctx.credits.change(adjustment(i));
    }
    expect((await ctx.enrollment.enroll({ email: user.email, via: 'cli', credits: 700 })).balance.remainingCredits).toBe(350);
    expect((await ctx.credits.change(adjustment(0))).remainingCredits).toBe(350);
    expect(await ctx.reconciler.reconcile({ repair: true, confirmMs: 10 })).toMatchObject({ drifts: [], repaired: 0 });
    expect((await ctx.credits.balance(user.email)).remainingCredits).toBe(350);
    expect(await ctx.connection.collection('beta_credit_transactions').countDocuments({ email: user.email })).toBe(251);
    await expectExactBooks(ctx);
  });

  it('treats grants and adjustments recorded before account sequences as applied, whatever the account remembers of their keys', async () => {
    const email = uniqueEmail();
    await ctx.connection.collection('beta_credit_transactions').insertOne({
      _id: `enrollment:${email}` as never,
      email,
      type: 'grant',
      amount: 500,
      reason: 'enrolment (admin)',
      created_at: clock.date(),
    });
    await ctx.connection.collection('beta_credits').insertOne({
      _id: email as never,
      version: 7,
      total_granted: 500,
      total_debited: 0,
      held: 0,
      sessions: {},
      active_sessions: 0,
      applied_keys: [],
    });
    expect((await ctx.enrollment.enroll({ email, via: 'admin' })).balance.remainingCredits).toBe(500);
    expect(
      (await ctx.credits.change({ email, amount: 20, key: `after:${email}`, type: 'adjustment', reason: 'goodwill' })).remainingCredits,
    ).toBe(520);
    expect(await ctx.connection.collection('beta_credit_transactions').countDocuments({ email })).toBe(2);
    await expectExactBooks(ctx);
  });

  it('lets exactly floor(B / E) of 50 concurrent session starts succeed and releases the holds when they end (I5)', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin' });
    const starts = await Promise.all(Array.from({ length: 50 }, () => ctx.sessions.start(user)));
    const started = starts.filter((start) => start.ok);
    expect(started).toHaveLength(8);
    expect(await ctx.credits.balance(user.email)).toMatchObject({ heldCredits: 480, availableCredits: 20, activeSessions: 8 });
    await Promise.all(started.map((start) => start.ok && ctx.sessions.end(start.sessionId, 'user_stopped')));
    expect(await ctx.credits.balance(user.email)).toMatchObject({ heldCredits: 0, remainingCredits: 500, activeSessions: 0 });
  });

  it('refuses a start the available balance cannot cover and creates no session', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 59 });
    expect(await ctx.sessions.start(user)).toEqual({ ok: false, remainingCredits: 59, estimatedCost: 60 });
    expect(await ctx.connection.collection('beta_sessions').countDocuments({ email: user.email })).toBe(0);
  });

  it('charges every started second once: ceil(duration) × rate (I3)', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin' });
    const start = await ctx.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(30_400);
    await ctx.checkpoint.tick();
    await ctx.checkpoint.tick();
    await clock.advance(12_300);
    const end = await ctx.sessions.end(start.sessionId, 'user_stopped');
    expect(end).toEqual({ remainingCredits: 500 - 43, sessionCharged: 43, ended: true });
    expect(await ctx.sessions.end(start.sessionId, 'error')).toMatchObject({ ended: false, sessionCharged: 43 });
    expect(await ctx.connection.collection('beta_sessions').findOne({ _id: start.sessionId as never })).toMatchObject({
      status: 'ended',
      end_reason: 'user_stopped',
      charged_credits: 43,
    });
    await expectExactBooks(ctx);
  });

  it('sends credits after each checkpoint and warnings once at 20, 10 and 5 % on the running balance', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 200 });
    const start = await ctx.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    const signals: BetaSessionSignal[] = [];
    ctx.signals.subscribe(start.sessionId, (signal) => signals.push(signal));
    const startedAt = clock.now();
    const times: Record<string, number> = {};
    ctx.signals.subscribe(start.sessionId, (signal) => {
      if (signal.type === 'credit_warning') times[signal.thresholdPercent] = clock.now() - startedAt;
    });
    for (let t = 0; t < 200; t += 30) {
      await clock.advance(30_000);
      await ctx.checkpoint.tick();
    }
    expect(signals.filter((s) => s.type === 'credits').slice(0, 2)).toEqual([
      { type: 'credits', sessionId: start.sessionId, remainingCredits: 170, sessionCharged: 30 },
      { type: 'credits', sessionId: start.sessionId, remainingCredits: 140, sessionCharged: 60 },
    ]);
    // 20 % of 200 = 40 credits left after 160 s; 10 % = 20 after 180 s; 5 % = 10 after 190 s.
    expect(times).toEqual({ 20: 160_000, 10: 180_000, 5: 190_000 });
    expect(
      signals
        .filter((s) => s.type === 'credit_warning')
        .map((s) => s.type === 'credit_warning' && [s.thresholdPercent, s.remainingCredits]),
    ).toEqual([
      [20, 40],
      [10, 20],
      [5, 10],
    ]);
    expect(signals.at(-1)).toMatchObject({ type: 'ended', reason: 'credits_exhausted', remainingCredits: 0, sessionCharged: 200 });
  });

  it('cuts a session off when its balance reaches 0, not at the next checkpoint (I4)', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 75 });
    const start = await ctx.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    let endedAfter: number | undefined;
    const startedAt = clock.now();
    ctx.signals.subscribe(start.sessionId, (signal) => {
      if (signal.type === 'ended') endedAfter = clock.now() - startedAt;
    });
    await clock.advance(30_000);
    await ctx.checkpoint.tick();
    await clock.advance(60_000);
    expect(endedAfter).toBe(75_000);
    expect(await ctx.credits.balance(user.email)).toMatchObject({ remainingCredits: 0, heldCredits: 0 });
  });

  it('extends a running session when credits are granted during it', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 60 });
    const start = await ctx.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    let endedAfter: number | undefined;
    const startedAt = clock.now();
    ctx.signals.subscribe(start.sessionId, (signal) => {
      if (signal.type === 'ended') endedAfter = clock.now() - startedAt;
    });
    await clock.advance(40_000);
    await ctx.credits.change({
      email: user.email,
      amount: 30,
      key: `top-up-${randomBytes(4).toString('hex')}`,
      type: 'adjustment',
      reason: 'goodwill',
    });
    await clock.advance(200_000);
    expect(endedAfter).toBe(90_000);
    expect(await ctx.credits.balance(user.email)).toMatchObject({ remainingCredits: 0, totalCredits: 90 });
  });

  it('drains one balance from two sessions with no overdraft and cuts both off when it is gone', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 130 });
    const a = await ctx.sessions.start(user);
    const b = await ctx.sessions.start(user);
    if (!a.ok || !b.ok) throw new Error('start refused');
    const ended: Record<string, number> = {};
    const startedAt = clock.now();
    for (const id of [a.sessionId, b.sessionId]) {
      ctx.signals.subscribe(id, (signal) => {
        if (signal.type === 'ended') ended[id] = clock.now() - startedAt;
      });
    }
    for (let i = 0; i < 6; i++) {
      await clock.advance(30_000);
      await ctx.checkpoint.tick();
    }
    const balance = await ctx.credits.balance(user.email);
    expect(balance).toMatchObject({ remainingCredits: 0, heldCredits: 0, activeSessions: 0 });
    const charged = await ctx.connection.collection('beta_sessions').find({ email: user.email }).toArray();
    expect(charged.reduce((sum, s) => sum + s.charged_credits, 0)).toBe(130);
    expect(Math.max(...Object.values(ended))).toBe(70_000);
  });

  it('ends the sessions of a revoked user at the next checkpoint', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin' });
    const start = await ctx.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(5_000);
    await ctx.enrollment.revoke(user.email);
    await clock.advance(25_000);
    await ctx.checkpoint.tick();
    expect(await ctx.connection.collection('beta_sessions').findOne({ _id: start.sessionId as never })).toMatchObject({
      status: 'ended',
      end_reason: 'beta_revoked',
      charged_credits: 30,
    });
  });

  it('refuses an adjustment that would take the balance below 0 (I1)', async () => {
    const user = betaViewer();
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    await expect(ctx.credits.change({ email: user.email, amount: -101, key: 'too-much', type: 'adjustment' })).rejects.toThrow(
      /only 100 available/,
    );
    expect(
      (await ctx.credits.change({ email: user.email, amount: -100, key: `all-${user.email}`, type: 'adjustment' })).remainingCredits,
    ).toBe(0);
  });
});

describe('Beta credits with real timers', () => {
  it('signals exhaustion 5 s ± 1 s after a session starts with 5 credits at 1 credit/s', async () => {
    const ctx = await startBetaContext({
      databaseUri: testDatabaseUri('beta_real'),
      clock: new SystemClock(),
      env: { BETA_PREAUTH_SECONDS: '5' },
    });
    try {
      const user = betaViewer();
      await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 5 });
      const startedAt = Date.now();
      const start = await ctx.sessions.start(user);
      if (!start.ok) throw new Error('start refused');
      const ended = await new Promise<BetaSessionSignal>((resolve) =>
        ctx.signals.subscribe(start.sessionId, (signal) => signal.type === 'ended' && resolve(signal)),
      );
      const elapsed = Date.now() - startedAt;
      expect(ended).toMatchObject({ reason: 'credits_exhausted', remainingCredits: 0, sessionCharged: 5 });
      expect(elapsed).toBeGreaterThanOrEqual(4_000);
      expect(elapsed).toBeLessThanOrEqual(6_000);
    } finally {
      await ctx.connection.dropDatabase();
      await ctx.close();
    }
  }, 15_000);

  it('cuts a session off 3 s ± 1 s after it starts when the only grant it can spend expires then', async () => {
    const ctx = await startBetaContext({ databaseUri: testDatabaseUri('beta_real_expiry'), clock: new SystemClock() });
    try {
      const user = betaViewer();
      await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 1 });
      await ctx.credits.change({ email: user.email, amount: -1, key: `spent:${user.email}`, type: 'adjustment', reason: 'spent' });
      const expiresAt = Date.now() + 3_000;
      await ctx.credits.grant({
        email: user.email,
        amount: 100,
        key: `event:${user.email}`,
        reason: 'event',
        expiresAt: new Date(expiresAt),
      });
      const start = await ctx.sessions.start(user);
      if (!start.ok) throw new Error('start refused');
      const ended = await new Promise<BetaSessionSignal>((resolve) =>
        ctx.signals.subscribe(start.sessionId, (signal) => signal.type === 'ended' && resolve(signal)),
      );
      const late = Date.now() - expiresAt;
      expect(ended).toMatchObject({ reason: 'credits_exhausted', remainingCredits: 0 });
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThanOrEqual(1_000);
    } finally {
      await ctx.connection.dropDatabase();
      await ctx.close();
    }
  }, 15_000);
});

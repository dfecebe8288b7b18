import { jest } from '@jest/globals';
import { CreditCheckpointService } from '../../src/beta/checkpoint/credit-checkpoint.service.js';
import { BetaCreditsService } from '../../src/beta/credits/beta-credits.service.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { SpeechToTextProvider } from '../../src/dubbing/providers/dubbing-providers.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { speech } from '../harness/audio.js';
import { anyUsageSummary, openSession, viewer, waitUntil } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';

/** Ending a session (docs/protocol.md, "How a session ends"), with the clock driven by the test: exact seconds, no waiting. */
describe('LiveDubbingGateway: a running session', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { QUOTA_PREMIUM_MINUTES_PER_HOUR: '2' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const betaSession = (id: string) => t.connection.collection('beta_sessions').findOne({ _id: id as never });
  const quotaSessions = (userId: string) => t.connection.collection('live_quota_sessions').find({ user_id: userId }).toArray();
  const liveRecord = (id: string) => t.connection.collection('live_sessions').findOne({ _id: id as never });
  const tick = () => t.app.get(CreditCheckpointService).tick();

  it('ends on stop: session_ended with the final charge, close 1000, beta user_stopped, quota completed', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(12_300);
    client.send({ type: 'stop' });
    expect(await client.next('session_ended')).toEqual({
      type: 'session_ended',
      reason: 'user_stopped',
      remaining_credits: 487,
      session_charged: 13,
      duration_ms: 12_300,
      charged_credits: 13,
      quota_used_seconds: 13,
    });
    expect(await client.waitClose()).toEqual({ code: 1000, reason: 'Session ended' });
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ status: 'ended', end_reason: 'user_stopped', charged_credits: 13 });
    expect(await quotaSessions(v.user.id)).toEqual([expect.objectContaining({ status: 'completed' })]);
  });

  it('ends on disconnect: beta user_stopped, quota completed', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(4_000);
    client.close();
    await waitUntil(async () => (await betaSession(ready.beta.session_id))?.status === 'ended');
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'user_stopped', charged_credits: 4 });
    await waitUntil(async () => (await quotaSessions(v.user.id))[0]?.status === 'completed');
  });

  it('sends credits at each checkpoint, each warning once, and closes 4402 the second the credits run out', async () => {
    const v = await viewer(t.app, { credits: 100 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(30_000);
    // A checkpoint charges a session up to when its client was last heard from: a quiet one, at its last ping.
    client.send({ type: 'ping' });
    await client.next('pong');
    await tick();
    expect(await client.next('credits')).toEqual({ type: 'credits', remaining_credits: 70, session_charged: 30 });
    await clock.advance(50_000);
    expect(await client.next('credit_warning')).toEqual({ type: 'credit_warning', remaining_credits: 20, threshold_percent: 20 });
    await clock.advance(10_000);
    expect(await client.next('credit_warning')).toEqual({ type: 'credit_warning', remaining_credits: 10, threshold_percent: 10 });
    await clock.advance(5_000);
    expect(await client.next('credit_warning')).toEqual({ type: 'credit_warning', remaining_credits: 5, threshold_percent: 5 });
    await clock.advance(4_000);
    expect(client.closed).toBeUndefined();
    await clock.advance(1_000);
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'credits_exhausted',
      message: 'Beta credits exhausted',
      upgrade_required: true,
      session_ended: true,
      duration_ms: 100_000,
      charged_credits: 100,
      remaining_credits: 0,
      quota_used_seconds: 100,
    });
    expect((await client.waitClose()).code).toBe(4402);
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'credits_exhausted', charged_credits: 100 });
    expect(client.messages.filter((m) => m.type === 'credit_warning')).toEqual([]);
  });

  it('lets an admin grant during the session extend it', async () => {
    const v = await viewer(t.app, { credits: 60 });
    const { client } = await openSession(t, v);
    await clock.advance(50_000);
    await t.app
      .get(BetaCreditsService)
      .change({ email: v.user.email, amount: 30, key: `grant-${v.user.id}`, type: 'adjustment', reason: 'extend' });
    await clock.advance(30_000);
    expect(client.closed).toBeUndefined();
    await clock.advance(10_000);
    expect((await client.waitClose()).code).toBe(4402);
  });

  it('spends a promotion first, moves on to the enrolment grant the second the promotion expires, and closes 4402 when that is spent', async () => {
    const v = await viewer(t.app, { credits: 60 });
    const credits = t.app.get(BetaCreditsService);
    const promotion = { key: `promo-${v.user.id}`, reason: 'promotion', priority: 0, expiresAt: new Date(clock.now() + 30_000) };
    await credits.grant({ email: v.user.email, amount: 200, ...promotion });
    const { client, ready } = await openSession(t, v);
    await clock.advance(30_000);
    // 30 s burnt the promotion; its 170 credits left are no longer the session's to spend.
    const grants = await credits.grants(v.user.email);
    expect(grants.map((grant) => [grant.reason, grant.status, grant.remaining])).toEqual([
      ['promotion', 'expired', 0],
      ['enrolment (admin)', 'active', 60],
    ]);
    expect(client.closed).toBeUndefined();
    await clock.advance(59_000);
    expect(client.closed).toBeUndefined();
    await clock.advance(1_000);
    expect(await client.next('error')).toMatchObject({
      code: 'credits_exhausted',
      duration_ms: 90_000,
      charged_credits: 90,
      remaining_credits: 0,
    });
    expect((await client.waitClose()).code).toBe(4402);
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'credits_exhausted', charged_credits: 90 });
    const debits = await t.connection.collection('beta_credit_transactions').find({ session_id: ready.beta.session_id }).toArray();
    const taken = (grant: string) =>
      debits
        .flatMap((debit) => debit.takes)
        .filter((part) => part.grant === grant)
        .reduce((sum, part) => sum + part.amount, 0);
    expect([taken(promotion.key), taken(`enrollment:${v.user.email}`)]).toEqual([30, 60]);
  });

  it('ends the session when the user is revoked, at the next checkpoint', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(10_000);
    await t.app.get(BetaEnrollmentService).revoke(v.user.email);
    await tick();
    expect(await client.next('error')).toMatchObject({ code: 'beta_revoked', session_ended: true });
    expect((await client.waitClose()).code).toBe(4033);
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'beta_revoked', charged_credits: 10 });
  });

  it('closes 4031 when the hourly quota is used up mid-session: beta quota_exceeded, quota completed', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(119_000);
    expect(client.closed).toBeUndefined();
    await clock.advance(1_000);
    expect(await client.next('error')).toMatchObject({ type: 'error', code: 'quota_exceeded', message: 'Live dubbing quota exceeded' });
    expect((await client.waitClose()).code).toBe(4031);
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'quota_exceeded', charged_credits: 120 });
    expect(await quotaSessions(v.user.id)).toEqual([expect.objectContaining({ status: 'completed' })]);
  });

  it('records all live sessions in one batch per interval, and ends together the sessions that use up the hour together', async () => {
    const v = await viewer(t.app);
    const first = await openSession(t, v);
    await clock.advance(4_000);
    const second = await openSession(t, v);
    await clock.advance(10_000);
    const [older, newer] = (await quotaSessions(v.user.id)).sort((a, b) => a.started_at.getTime() - b.started_at.getTime());
    expect(newer.recorded_until).toEqual(older.recorded_until);
    expect(older.used_seconds - newer.used_seconds).toBe(4);
    expect(newer.used_seconds).toBeGreaterThan(0);

    // Two minutes an hour between them: 4 s + 2 × 58 s.
    await clock.advance(44_000);
    expect([first.client.closed, second.client.closed]).toEqual([undefined, undefined]);
    await clock.advance(10_000);
    for (const { client } of [first, second]) {
      expect(await client.next('error')).toMatchObject({ code: 'quota_exceeded' });
      expect((await client.waitClose()).code).toBe(4031);
    }
    expect((await quotaSessions(v.user.id)).map((session) => session.status)).toEqual(['completed', 'completed']);
  });

  it('closes 4000 on a protocol violation mid-session: beta error, quota error', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    client.sendAudio(Buffer.alloc(3));
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'protocol_error',
      message: expect.stringMatching(/even|odd/i),
      ...anyUsageSummary(),
    });
    expect((await client.waitClose()).code).toBe(4000);
    // The error waits for the end's first writes only for its usage summary; the end is written regardless.
    await waitUntil(async () => (await liveRecord(ready.session_id))?.status === 'ended');
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'error' });
    expect(await quotaSessions(v.user.id)).toEqual([expect.objectContaining({ status: 'error' })]);
  });

  it('closes 1011 with internal_error and no internals when the pipeline fails: beta error, quota error', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const failing = jest
      .spyOn(t.app.get(SpeechToTextProvider), 'transcribe')
      .mockRejectedValue(new Error('provider secret sk-123 at /srv/app.js:10'));
    try {
      const { client, ready } = await openSession(t, v);
      for (const frame of speech()) client.sendAudio(frame);
      expect(await client.next('error')).toEqual({
        type: 'error',
        code: 'internal_error',
        message: 'Internal error',
        ...anyUsageSummary(),
      });
      expect((await client.waitClose()).code).toBe(1011);
      // The error waits for the end's first writes only for its usage summary; the end is written regardless.
      await waitUntil(async () => (await liveRecord(ready.session_id))?.status === 'ended');
      expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'error' });
      expect(await quotaSessions(v.user.id)).toEqual([expect.objectContaining({ status: 'error' })]);
    } finally {
      failing.mockRestore();
    }
  });
});

describe('LiveDubbingGateway: server shutdown', () => {
  it('charges to the instant, suspends the session and tells the client to reconnect (1012) with its resume token', async () => {
    const clock = new ManualClock();
    const t = await startTestApp({ clock });
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    const startedAt = clock.now();
    await clock.advance(7_500);
    await t.close({ dropDatabase: false });
    // Sent before the server closed, but it may still be in flight to this client when close() returns.
    expect(await client.next('reconnect')).toEqual({
      type: 'reconnect',
      resume_token: expect.stringMatching(/^[\w-]{43}$/),
      resume_within_ms: 20_000,
    });
    expect((await client.waitClose()).code).toBe(1012);
    const mongoose = (await import('mongoose')).default;
    const db = await mongoose.createConnection(t.databaseUri).asPromise();
    expect(await db.collection('beta_sessions').findOne({ _id: ready.beta.session_id as never })).toMatchObject({ status: 'suspended' });
    expect(await db.collection('live_sessions').findOne({ _id: ready.session_id as never })).toMatchObject({
      status: 'suspended',
      suspend_cause: 'server_shutdown',
      lost_at: new Date(startedAt + 7_500),
      resume_until: new Date(startedAt + 7_500 + 20_000),
    });
    expect(await db.collection('live_quota_sessions').findOne({ status: 'suspended' })).toMatchObject({
      recorded_until: new Date(startedAt + 7_500),
    });
    // Charged up to the instant (completed seconds); the hold stays with the suspended session.
    const account = await db.collection('beta_credits').findOne({ _id: v.user.email as never });
    expect(account).toMatchObject({ total_debited: 7, held: 60 });
    await db.dropDatabase();
    await db.close();
  });
});

describe('LiveDubbingGateway: real timers', () => {
  it('closes a session with 5 credits left with 4402 within 1 s of the 5th second', async () => {
    const t = await startTestApp({ env: { BETA_PREAUTH_SECONDS: '5', BETA_CHECKPOINT_INTERVAL_MS: '2000', WS_HEARTBEAT_MS: '1000' } });
    try {
      const v = await viewer(t.app, { credits: 5 });
      const startedAt = Date.now();
      const { client, ready } = await openSession(t, v);
      expect(ready.beta).toMatchObject({ remaining_credits: 5, estimated_cost: 5 });
      const closed = await client.waitClose(10_000);
      const elapsed = Date.now() - startedAt;
      expect(closed.code).toBe(4402);
      expect(elapsed).toBeGreaterThanOrEqual(4_000);
      expect(elapsed).toBeLessThanOrEqual(6_000);
      expect(await t.connection.collection('beta_credits').findOne({ _id: v.user.email as never })).toMatchObject({
        total_debited: 5,
        held: 0,
      });
    } finally {
      await t.close();
    }
  }, 20_000);
});

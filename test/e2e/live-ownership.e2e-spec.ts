import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { BetaSessionsRepository } from '../../src/beta/sessions/beta-sessions.repository.js';
import { CreditCheckpointService } from '../../src/beta/checkpoint/credit-checkpoint.service.js';
import { BetaCreditsService } from '../../src/beta/credits/beta-credits.service.js';
import { BetaSessionsService } from '../../src/beta/sessions/beta-sessions.service.js';
import { InstanceIdentity } from '../../src/common/instance-identity.js';
import { LiveSessionSweeper } from '../../src/live-dubbing/live-session-sweeper.js';
import { LiveSessionsRepository } from '../../src/live-dubbing/live-sessions.repository.js';
import { LiveSessionsService } from '../../src/live-dubbing/live-sessions.service.js';
import { QuotaService } from '../../src/quota/quota.service.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { expectExactBooks } from '../harness/beta-books.js';
import { startBetaContext } from '../harness/beta-context.js';
import { testDatabaseUri } from '../harness/database.js';
import { openSession, viewer, waitUntil } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import { TestWsClient } from '../harness/ws-client.js';

const HEARTBEAT_MS = 10_000;
const CHECKPOINT_MS = 30_000;

/** One owner per live session: its heartbeat, letting go of a session taken elsewhere, the lost-session sweep. */

/** What a session recorded by hand was opened on; its resume token is never used here. */
const OPENED_ON = () => ({ channelId: 'ch-1', sourceLang: 'he', targetLang: 'en', resumeTokenHash: randomUUID() });

describe(LiveSessionsService.name, () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });

  afterAll(async () => {
    await t.close();
  });

  /** A beta session started by an instance that then died: nothing on this one watches or charges it. */
  async function startOnDeadInstance(user: { id: string; email: string }, betaSessionId: string): Promise<void> {
    const dead = await startBetaContext({ databaseUri: t.databaseUri, clock, instanceId: 'instance-that-died' });
    await dead.sessions.start(user, 'live_dubbing', 1, betaSessionId);
    await dead.close();
  }

  const record = (id: string) => t.app.get(LiveSessionsRepository).find(id);
  const betaSession = (id: string) => t.connection.collection('beta_sessions').findOne({ _id: id as never });
  const quotaSession = (id: string) => t.connection.collection('live_quota_sessions').findOne({ _id: id as never });

  it('writes a heartbeat for the sessions it serves at every WS_HEARTBEAT_MS', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    const opened = (await record(ready.session_id))!;
    expect(opened).toMatchObject({ status: 'live', ownerInstanceId: t.app.get(InstanceIdentity).id, ownerEpoch: 0 });
    await clock.advance(HEARTBEAT_MS);
    expect((await record(ready.session_id))!.heartbeatAtMs).toBeGreaterThanOrEqual(opened.heartbeatAtMs + HEARTBEAT_MS);
    client.send({ type: 'stop' });
    await client.waitClose();
    expect(await record(ready.session_id)).toMatchObject({ status: 'ended', endCause: 'user_stopped' });
  });

  it('lets go of a session another instance took over: session_moved, close 4409, nothing charged after the takeover', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(5_000);
    const taken = await t.app
      .get(LiveSessionsRepository)
      .takeOverToEnd((await record(ready.session_id))!, 'another-instance', { cause: 'instance_lost', atMs: clock.now() });
    expect(taken).toBeDefined();
    await t.app.get(BetaSessionsService).end(ready.beta.session_id, 'instance_lost', clock.now());
    await clock.advance(HEARTBEAT_MS);
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'session_moved',
      message: 'This connection no longer holds the session',
    });
    expect((await client.waitClose()).code).toBe(4409);
    await clock.advance(CHECKPOINT_MS);
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ status: 'ended', end_reason: 'instance_lost', charged_credits: 5 });
    expect(await record(ready.session_id)).toMatchObject({ ownerInstanceId: 'another-instance', ownerEpoch: 1 });
  });

  it('sweeps a session its owner no longer heartbeats — this instance included — ended instance_lost at the last heartbeat, its quota session too', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const startedAt = clock.now();
    const betaSessionId = randomUUID();
    const quotaSessionId = randomUUID();
    const id = randomUUID();
    await t.app.get(LiveSessionsRepository).insert({
      id,
      userId: v.user.id,
      email: v.user.email,
      feature: 'live_dubbing',
      ownerInstanceId: t.app.get(InstanceIdentity).id,
      startedAtMs: startedAt,
      betaSessionId,
      quotaSessionId,
      ...OPENED_ON(),
    });
    await startOnDeadInstance(v.user, betaSessionId);
    await t.app.get(QuotaService).startSession({ id: v.user.id, tier: 'premium' }, 'live_dubbing', { sessionId: quotaSessionId });
    await clock.advance(20_000);
    await t.app.get(LiveSessionsRepository).heartbeat([{ id, epoch: 0 }], clock.now());
    await clock.advance(3 * CHECKPOINT_MS);
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(id)).toMatchObject({ status: 'live', ownerEpoch: 0 });
    await clock.advance(1);
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(id)).toMatchObject({ status: 'ended', endCause: 'instance_lost', endAtMs: startedAt + 20_000, ownerEpoch: 1 });
    expect(await betaSession(betaSessionId)).toMatchObject({ status: 'ended', end_reason: 'instance_lost', charged_credits: 20 });
    expect(await quotaSession(quotaSessionId)).toMatchObject({ status: 'error', used_seconds: 20 });
    expect(await t.app.get(BetaCreditsService).balance(v.user.email)).toMatchObject({ remainingCredits: 480, heldCredits: 0 });
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(id)).toMatchObject({ ownerEpoch: 1 });
  });

  it('finishes the end an owner recorded before it died: its cause and instant, not the last heartbeat', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const startedAt = clock.now();
    const [id, betaSessionId, quotaSessionId] = [randomUUID(), randomUUID(), randomUUID()];
    const records = t.app.get(LiveSessionsRepository);
    await records.insert({
      id,
      userId: v.user.id,
      email: v.user.email,
      feature: 'live_dubbing',
      ownerInstanceId: 'instance-that-died',
      startedAtMs: startedAt,
      betaSessionId,
      quotaSessionId,
      ...OPENED_ON(),
    });
    await startOnDeadInstance(v.user, betaSessionId);
    await clock.advance(7_500);
    await records.markEnding({ id, epoch: 0 }, { cause: 'user_stopped', atMs: clock.now() });
    await clock.advance(3 * CHECKPOINT_MS + 1);
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await betaSession(betaSessionId)).toMatchObject({ status: 'ended', end_reason: 'user_stopped', charged_credits: 8 });
    expect(await record(id)).toMatchObject({ status: 'ended', endCause: 'user_stopped', endAtMs: startedAt + 7_500 });
  });

  it.each([
    ['deactivated', { is_active: false }, 4001, 'unauthorized'],
    ['downgraded', { 'subscription.tier': 'basic' }, 4030, 'upgrade_required'],
    ['no longer subscribed', { 'subscription.status': 'canceled' }, 4030, 'upgrade_required'],
  ])('ends the session of a user %s mid-session at the next heartbeat, charged to that instant', async (_, change, closeCode, code) => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(HEARTBEAT_MS - 1);
    await t.connection.collection('users').updateOne({ email: v.user.email }, { $set: change });
    await clock.advance(1);
    expect(await client.next('error')).toMatchObject({ code, session_ended: true });
    expect((await client.waitClose()).code).toBe(closeCode);
    await waitUntil(async () => (await betaSession(ready.beta.session_id))?.status === 'ended');
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'access_revoked', charged_credits: 10 });
  });

  it('pings every live connection; one that leaves two pings unanswered is cut and charged up to when it was last heard from', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const client = await TestWsClient.connect(t.baseUrl, '/ws/live-dubbing', { autoPong: false });
    client.send({ type: 'auth', token: v.token, channel_id: v.channel.id, target_lang: 'en' });
    const ready = await client.next('ready');
    const startedAt = clock.now();
    await clock.advance(2_500);
    client.send({ type: 'ping' });
    await client.next('pong');
    await clock.advance(2 * HEARTBEAT_MS);
    expect(client.closed).toBeUndefined();
    // Not heard from since 2.5 s: a checkpoint now charges the 2 completed seconds up to then, not 20.
    await t.app.get(CreditCheckpointService).tick();
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ status: 'active', charged_credits: 2 });
    await clock.advance(HEARTBEAT_MS);
    expect((await client.waitClose()).code).toBe(1006);
    // Lost, not left: suspended from when it was last heard from, for the resume window from the third heartbeat,
    // which found the second ping unanswered.
    await waitUntil(async () => (await record(ready.session_id))?.status === 'suspended');
    expect(await record(ready.session_id)).toMatchObject({
      suspendCause: 'disconnected',
      lostAtMs: startedAt + 2_500,
      resumeUntilMs: startedAt + 3 * HEARTBEAT_MS + 20_000,
    });
    // The beta session is suspended by a write that follows the record's.
    await waitUntil(async () => (await betaSession(ready.beta.session_id))?.status === 'suspended');
    await clock.advance(startedAt + 3 * HEARTBEAT_MS + 20_000 - clock.now());
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(ready.session_id)).toMatchObject({ status: 'suspended' });
    // Not resumed in time: ended as the user leaving, charged up to the loss (3 started seconds), not to the window's end.
    await clock.advance(1);
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(ready.session_id)).toMatchObject({ status: 'ended', endCause: 'disconnected', endAtMs: startedAt + 2_500 });
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ status: 'ended', end_reason: 'user_stopped', charged_credits: 3 });
  });

  it('keeps a connection that answers the pings, however quiet it is', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client } = await openSession(t, v);
    for (let round = 0; round < 5; round++) {
      await clock.advance(HEARTBEAT_MS);
      // The client's pong travels over a real socket.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    client.send({ type: 'ping' });
    expect(await client.next('pong')).toEqual({ type: 'pong' });
    client.send({ type: 'stop' });
    expect(await client.next('session_ended')).toMatchObject({ session_charged: 50 });
  });

  it('sends a warning already due when the session starts right after ready', async () => {
    const v = await viewer(t.app, { credits: 500 });
    await t.app.get(BetaCreditsService).change({ email: v.user.email, amount: -410, key: `spend:${v.user.email}`, type: 'adjustment' });
    const client = await TestWsClient.connect(t.baseUrl);
    client.send({ type: 'auth', token: v.token, channel_id: v.channel.id, target_lang: 'en' });
    await client.waitFor(() => (client.messages.length >= 2 ? true : undefined), 5000, 'two messages');
    expect(client.messages.map((message) => message.type)).toEqual(['ready', 'credit_warning']);
    expect(client.messages[1]).toEqual({ type: 'credit_warning', remaining_credits: 90, threshold_percent: 20 });
    client.send({ type: 'stop' });
    await client.waitClose();
  });
});

describe('LiveSessionsService at shutdown', () => {
  it('suspends every live session (reconnect, 1012), closes one still opening 1012, and refuses sockets that connect after', async () => {
    const t = await startTestApp();
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    const opening = await TestWsClient.connect(t.baseUrl);
    await t.app.get(LiveSessionsService).beforeApplicationShutdown();
    expect(await client.next('reconnect')).toMatchObject({ resume_token: expect.any(String), resume_within_ms: 20_000 });
    expect((await client.waitClose()).code).toBe(1012);
    expect((await opening.waitClose()).code).toBe(1012);
    const late = await TestWsClient.connect(t.baseUrl);
    expect((await late.waitClose()).code).toBe(1012);
    expect(await t.connection.collection('beta_sessions').findOne({ _id: ready.beta.session_id as never })).toMatchObject({
      status: 'suspended',
    });
    await t.close();
  });
});

describe('Charging an owner that may no longer hold its sessions', () => {
  it('charges nothing past the instant the owner last proved it held them, at a checkpoint or at the cut-off', async () => {
    const clock = new ManualClock();
    const databaseUri = testDatabaseUri('charge_horizon');
    const ctx = await startBetaContext({ databaseUri, clock });
    const user = { id: randomUUID(), email: `horizon-${randomUUID()}@example.com` };
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 500 });
    const start = await ctx.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    const provenUntil = clock.now() + 12_000;
    let inDoubt = true;
    const online = { databaseReachable: () => true, holdSpent: () => {}, served: () => new Map() };
    ctx.sessions.useOwnership({ ...online, prove: () => Promise.resolve(provenUntil), inDoubt: () => inDoubt });
    await clock.advance(45_000);
    await ctx.checkpoint.tick();
    expect(await ctx.sessions.find(start.sessionId)).toMatchObject({ status: 'active', charged_credits: 12 });
    // The paid time (the 60-credit hold) runs out while in doubt: nothing is charged until the owner knows.
    await clock.advance(20_000);
    expect(await ctx.sessions.find(start.sessionId)).toMatchObject({ status: 'active', charged_credits: 12 });
    inDoubt = false;
    ctx.sessions.useOwnership({
      prove: () => Promise.resolve(Number.POSITIVE_INFINITY),
      ...online,
      inDoubt: () => inDoubt,
    });
    await clock.advance(1_000);
    await ctx.checkpoint.tick();
    expect(await ctx.sessions.find(start.sessionId)).toMatchObject({ charged_credits: 66 });
    await ctx.sessions.end(start.sessionId, 'user_stopped');
    await ctx.connection.dropDatabase();
    await ctx.close();
  });
});

describe('Holding credits for a session whose record cannot be written', () => {
  it('releases the hold again, so the credits are not held for a session that never ran', async () => {
    const clock = new ManualClock();
    const ctx = await startBetaContext({ databaseUri: testDatabaseUri('hold_release'), clock });
    const user = { id: randomUUID(), email: `hold-${randomUUID()}@example.com` };
    await ctx.enrollment.enroll({ email: user.email, via: 'admin', credits: 500 });
    const insert = jest.spyOn(ctx.module.get(BetaSessionsRepository), 'insert').mockRejectedValueOnce(new Error('database went away'));
    await expect(ctx.sessions.start(user)).rejects.toThrow('database went away');
    insert.mockRestore();
    expect(await ctx.credits.balance(user.email)).toMatchObject({ remainingCredits: 500, heldCredits: 0, activeSessions: 0 });
    await expectExactBooks(ctx);
    await ctx.connection.dropDatabase();
    await ctx.close();
  });
});

import { LiveSessionSweeper } from '../../src/live-dubbing/live-session-sweeper.js';
import { LiveSessionsRepository } from '../../src/live-dubbing/live-sessions.repository.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { openSession, resumeSession, viewer, waitUntil, type Viewer } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';

const HEARTBEAT_MS = 10_000;
const RESUME_WINDOW_MS = 20_000;

/**
 * Resuming a session (docs/protocol.md, "Resuming a session") on one instance, on an exact clock: a lost connection
 * suspends the session, a resume token brings it back on a new connection, and the suspension is never charged.
 * Resumes across instances, restarts and crashes are in resume-faults.e2e-spec.ts.
 */
describe('Resuming a live session', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });

  afterAll(async () => {
    await t.close();
  });

  const record = (id: string) => t.app.get(LiveSessionsRepository).find(id);
  const count = (collection: string, filter: object) => t.connection.collection(collection).countDocuments(filter);

  /** Opens a session, is heard from 4 s later, then loses the connection: suspended, charged up to those 4 s. */
  async function openAndLose(v: Viewer) {
    const { client, ready } = await openSession(t, v);
    const startedAt = clock.now();
    await clock.advance(4_000);
    client.send({ type: 'ping' });
    await client.next('pong');
    await clock.advance(500);
    client.drop();
    await waitUntil(async () => (await record(ready.session_id))?.status === 'suspended');
    return { ready, startedAt };
  }

  it('resumes after a blip: same session, same beta session and hold, a new token; the suspension is not charged', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { ready, startedAt } = await openAndLose(v);
    expect(await record(ready.session_id)).toMatchObject({
      lostAtMs: startedAt + 4_000,
      resumeUntilMs: startedAt + 4_500 + RESUME_WINDOW_MS,
    });
    await clock.advance(3_000);
    const { client, reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({
      type: 'ready',
      resumed: true,
      session_id: ready.session_id,
      // The 4 s before the loss were charged at the suspension; the grant and the rate are the session's own.
      beta: { session_id: ready.beta.session_id, estimated_cost: 60, remaining_credits: 496, granted_credits: 500, credits_per_second: 1 },
      resume_token: expect.stringMatching(/^[\w-]{43}$/),
    });
    expect(reply.resume_token).not.toBe(ready.resume_token);
    // No new rate-limit slot, no new hold, no new beta or quota session.
    expect(await t.connection.collection('ws_connection_opens').findOne({ _id: v.user.id as never })).toMatchObject({
      opened_at: [expect.any(Number)],
    });
    expect(await count('beta_sessions', { email: v.user.email })).toBe(1);
    expect(await count('live_quota_sessions', { user_id: v.user.id })).toBe(1);
    expect(await t.connection.collection('beta_credits').findOne({ _id: v.user.email as never })).toMatchObject({ held: 60 });
    expect(await record(ready.session_id)).toMatchObject({ status: 'live', ownerEpoch: 2 });
    await clock.advance(5_000);
    client.send({ type: 'stop' });
    // Connected 4 s, then 5 s: 9 credits, not the 12.5 s since the start.
    expect(await client.next('session_ended')).toMatchObject({ reason: 'user_stopped', session_charged: 9, remaining_credits: 491 });
    expect(await t.connection.collection('beta_sessions').findOne({ _id: ready.beta.session_id })).toMatchObject({
      status: 'ended',
      charged_credits: 9,
    });
    expect(await t.connection.collection('live_quota_sessions').findOne({ user_id: v.user.id })).toMatchObject({
      status: 'completed',
      used_seconds: 9,
    });
  });

  it('resumes a session outside Beta 500: no beta session, quota going on', async () => {
    const v = await viewer(t.app);
    const { ready } = await openAndLose(v);
    expect(ready.beta).toBeNull();
    await clock.advance(2_000);
    const { client, reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({ type: 'ready', resumed: true, session_id: ready.session_id, beta: null });
    await clock.advance(3_000);
    client.send({ type: 'stop' });
    expect(await client.next('session_ended')).toMatchObject({ reason: 'user_stopped', charged_credits: 0, quota_used_seconds: 7 });
  });

  it('refuses garbage, used, expired and another user’s tokens with resume_failed and 4410, changing nothing', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const other = await viewer(t.app, { credits: 500 });
    const { ready } = await openAndLose(v);
    const before = await record(ready.session_id);
    for (const [who, token] of [
      [v, 'garbage'],
      [v, 'x'.repeat(43)],
      [other, ready.resume_token],
    ] as const) {
      const { client, reply } = await resumeSession(t, who, token);
      expect(reply).toMatchObject({ type: 'error', code: 'resume_failed' });
      expect((await client.waitClose()).code).toBe(4410);
    }
    expect(await record(ready.session_id)).toEqual(before);
    const { client: resumed, reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({ type: 'ready', resumed: true });
    // The token worked once.
    const again = await resumeSession(t, v, ready.resume_token);
    expect(again.reply).toMatchObject({ type: 'error', code: 'resume_failed' });
    expect((await again.client.waitClose()).code).toBe(4410);
    resumed.drop();
    await waitUntil(async () => (await record(ready.session_id))?.status === 'suspended');
    // Past the window, even a fresh token is refused, and the sweep ends the session at the loss.
    await clock.advance(RESUME_WINDOW_MS + 1);
    const late = await resumeSession(t, v, reply.resume_token);
    expect(late.reply).toMatchObject({ type: 'error', code: 'resume_failed' });
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(ready.session_id)).toMatchObject({ status: 'ended', endCause: 'disconnected' });
    // Connected 4 s before the first loss and 0 s after the resume.
    expect(await t.connection.collection('beta_sessions').findOne({ _id: ready.beta.session_id })).toMatchObject({
      end_reason: 'user_stopped',
      charged_credits: 4,
    });
  });

  it('of two resumes racing with one token, exactly one wins', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { ready } = await openAndLose(v);
    const replies = await Promise.all([resumeSession(t, v, ready.resume_token), resumeSession(t, v, ready.resume_token)]);
    expect(replies.map(({ reply }) => reply.type).sort()).toEqual(['error', 'ready']);
    const loser = replies.find(({ reply }) => reply.type === 'error')!;
    expect(loser.reply.code).toBe('resume_failed');
    expect((await loser.client.waitClose()).code).toBe(4410);
    const winner = replies.find(({ reply }) => reply.type === 'ready')!;
    winner.client.send({ type: 'stop' });
    expect(await winner.client.next('session_ended')).toMatchObject({ session_charged: 4 });
  });

  it('takes over a session whose connection has not been found lost yet: the old one gets 4409, charged to the last heartbeat', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client: old, ready } = await openSession(t, v);
    const startedAt = clock.now();
    await clock.advance(HEARTBEAT_MS + 2_000);
    const lastHeartbeat = (await record(ready.session_id))!.heartbeatAtMs;
    expect(lastHeartbeat).toBeGreaterThan(startedAt);
    const { client, reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({ type: 'ready', resumed: true, session_id: ready.session_id });
    expect(await old.next('error')).toMatchObject({ code: 'session_moved' });
    expect((await old.waitClose()).code).toBe(4409);
    await clock.advance(3_000);
    client.send({ type: 'stop' });
    // Up to the heartbeat the takeover read, then 3 s: what came after that heartbeat goes unbilled.
    expect(await client.next('session_ended')).toMatchObject({ session_charged: Math.ceil((lastHeartbeat - startedAt) / 1000) + 3 });
  });

  it('charges no gap for a resumer that died between taking the session and moving its credits: the sweep moves them', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { ready, startedAt } = await openAndLose(v);
    await clock.advance(6_000);
    const records = t.app.get(LiveSessionsRepository);
    const resumedAt = clock.now();
    const taken = await records.takeOverToResume((await record(ready.session_id))!, {
      instanceId: 'resumer-that-died',
      atMs: resumedAt,
      cutAtMs: startedAt + 4_000,
      tokenHash: 'hash-of-a-token-nobody-received',
    });
    expect(taken).toMatchObject({ status: 'live', resumed: { atMs: resumedAt, cutAtMs: startedAt + 4_000 } });
    await clock.advance(3 * 30_000 + 1);
    await t.app.get(LiveSessionSweeper).sweep();
    expect(await record(ready.session_id)).toMatchObject({ status: 'ended', endCause: 'instance_lost', endAtMs: resumedAt });
    // Connected 4 s, then none after the resume (the resumer's last heartbeat was the resume itself).
    expect(await t.connection.collection('beta_sessions').findOne({ _id: ready.beta.session_id })).toMatchObject({
      end_reason: 'instance_lost',
      charged_credits: 4,
    });
  });

  it('ends a session whose client closed the socket (a close frame): nothing to resume', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(2_000);
    client.close();
    await waitUntil(async () => (await record(ready.session_id))?.status === 'ended');
    const { reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({ type: 'error', code: 'resume_failed' });
  });
});

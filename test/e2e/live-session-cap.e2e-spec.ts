import { randomUUID } from 'node:crypto';
import { LiveSessionsRepository } from '../../src/live-dubbing/live-sessions.repository.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { authMessage, openSession, resumeSession, viewer, waitUntil, type Viewer } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import { TestWsClient } from '../harness/ws-client.js';

const HEARTBEAT_MS = 10_000;

/**
 * At most LIVE_MAX_SESSIONS_PREMIUM (2) / _FAMILY (4) sessions, live or suspended, per user (docs/protocol.md,
 * "Opening a session", step 5b), on one instance with an exact clock. Openings racing across two instances are in
 * live-session-cap-race.e2e-spec.ts.
 */
describe('Concurrent sessions per user', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { WS_CONNECTIONS_PER_MINUTE: '100' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const record = (id: string) => t.app.get(LiveSessionsRepository).find(id);

  /** Opens a session and resolves with the refusal (error and close code), or the client once `ready` arrived. */
  async function tryOpen(v: Viewer, path?: string) {
    const client = await TestWsClient.connect(t.baseUrl, path);
    client.send(authMessage(v));
    const reply = await client.next();
    if (reply.type === 'ready') {
      return { client, ready: reply };
    }
    return { client, error: reply, closed: await client.waitClose() };
  }

  async function stop(client: TestWsClient) {
    client.send({ type: 'stop' });
    await client.next('session_ended');
    await client.waitClose();
  }

  it('refuses a Premium user’s third session with too_many_sessions, close 4032, counted across both gateways', async () => {
    const v = await viewer(t.app);
    const first = await openSession(t, v);
    const second = await tryOpen(v, '/ws/live-subtitles');
    expect(second.ready).toBeDefined();
    const third = await tryOpen(v);
    expect(third.error).toMatchObject({ type: 'error', code: 'too_many_sessions', max_sessions: 2 });
    expect(third.closed?.code).toBe(4032);
    await stop(first.client);
    await stop(second.client);
  });

  it('admits a new session once one of the user’s sessions ended', async () => {
    const v = await viewer(t.app);
    const first = await openSession(t, v);
    const second = await openSession(t, v);
    expect((await tryOpen(v)).closed?.code).toBe(4032);
    await stop(first.client);
    const third = await tryOpen(v);
    expect(third.ready).toBeDefined();
    await stop(second.client);
    await stop(third.client);
  });

  it('lets a Family user hold 4 sessions, not 5', async () => {
    const v = await viewer(t.app, { tier: 'family' });
    const opened = [];
    for (let i = 0; i < 4; i++) {
      opened.push(await openSession(t, v));
    }
    const fifth = await tryOpen(v);
    expect(fifth.error).toMatchObject({ code: 'too_many_sessions', max_sessions: 4 });
    expect(fifth.closed?.code).toBe(4032);
    for (const { client } of opened) {
      await stop(client);
    }
  });

  it('counts a suspended session; an opening over the cap ends the oldest suspended one, charged up to its loss, and is admitted', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const older = await openSession(t, v);
    const startedAt = clock.now();
    await clock.advance(3_000);
    older.client.send({ type: 'ping' });
    await older.client.next('pong');
    older.client.drop();
    await waitUntil(async () => (await record(older.ready.session_id))?.status === 'suspended');
    await clock.advance(1_000);
    const newer = await openSession(t, v);
    newer.client.drop();
    await waitUntil(async () => (await record(newer.ready.session_id))?.status === 'suspended');
    await clock.advance(1_000);
    const third = await tryOpen(v);
    expect(third.ready).toBeDefined();
    expect(await record(older.ready.session_id)).toMatchObject({ status: 'ended', endCause: 'disconnected', endAtMs: startedAt + 3_000 });
    expect(await t.connection.collection('beta_sessions').findOne({ _id: older.ready.beta.session_id })).toMatchObject({
      status: 'ended',
      charged_credits: 3,
    });
    expect(await record(newer.ready.session_id)).toMatchObject({ status: 'suspended' });
    // Still two, one of them suspended: a fourth opening ends that one too.
    const fourth = await tryOpen(v);
    expect(fourth.ready).toBeDefined();
    expect(await record(newer.ready.session_id)).toMatchObject({ status: 'ended', endCause: 'disconnected' });
    expect((await tryOpen(v)).closed?.code).toBe(4032);
    await stop(third.client!);
    await stop(fourth.client!);
  });

  it('does not count a session whose owner has not heartbeated for two WS_HEARTBEAT_MS, nor an opening that never wrote its record', async () => {
    const v = await viewer(t.app);
    const [dead, neverWritten] = [randomUUID(), randomUUID()];
    await t.app.get(LiveSessionsRepository).insert({
      id: dead,
      userId: v.user.id,
      email: v.user.email,
      feature: 'live_dubbing',
      ownerInstanceId: 'instance-that-died',
      startedAtMs: clock.now(),
      quotaSessionId: randomUUID(),
      channelId: v.channel.id,
      sourceLang: 'he',
      targetLang: 'en',
      resumeTokenHash: randomUUID(),
    });
    await t.connection.collection('live_user_slots').insertOne({
      _id: v.user.id as never,
      version: 0,
      slots: [
        { session_id: dead, taken_at: clock.now() },
        { session_id: neverWritten, taken_at: clock.now() },
      ],
    });
    expect((await tryOpen(v)).closed?.code).toBe(4032);
    await clock.advance(2 * HEARTBEAT_MS + 1);
    const first = await tryOpen(v);
    expect(first.ready).toBeDefined();
    // The dead instance's session keeps its place, should it come back; the opening that never wrote a record does not.
    const slots = await t.connection.collection('live_user_slots').findOne({ _id: v.user.id as never });
    expect(slots!.slots.map((slot: { session_id: string }) => slot.session_id)).toEqual([dead, first.ready.session_id]);
    const second = await tryOpen(v);
    expect(second.ready).toBeDefined();
    expect((await tryOpen(v)).closed?.code).toBe(4032);
    await stop(first.client);
    await stop(second.client);
    await t.connection.collection('live_sessions').updateOne({ _id: dead as never }, { $set: { status: 'ended' } });
  });

  it('does not count a resume as a new session', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const first = await openSession(t, v);
    const second = await openSession(t, v);
    second.client.drop();
    // Suspended once its quota session is too: a resume before then would find it still running.
    await waitUntil(() => t.connection.collection('live_quota_sessions').findOne({ user_id: v.user.id, status: 'suspended' }));
    const resumed = await resumeSession(t, v, second.ready.resume_token);
    expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true, session_id: second.ready.session_id });
    expect((await tryOpen(v)).closed?.code).toBe(4032);
    await stop(first.client);
    await stop(resumed.client);
  });
});

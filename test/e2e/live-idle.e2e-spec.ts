import { LiveSessionsRepository } from '../../src/live-dubbing/live-sessions.repository.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { silence } from '../harness/audio.js';
import { openSession, resumeSession, viewer, waitUntil } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import type { TestWsClient } from '../harness/ws-client.js';

const IDLE_TIMEOUT_MS = 30_000;

/** Idle sessions (docs/protocol.md, "Idle sessions") on an exact clock: only audio frames keep a session from ending 4408. */
describe('Live session idle protection', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { WS_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) } });
  });

  afterAll(async () => {
    await t.close();
  });

  const betaSession = (id: string) => t.connection.collection('beta_sessions').findOne({ _id: id as never });
  const quotaSession = (userId: string) => t.connection.collection('live_quota_sessions').findOne({ user_id: userId });
  const sent = (client: TestWsClient, type: string) => client.messages.filter((message) => message.type === type);

  /** Advances the clock in audio-frame steps of `stepMs`, one silent frame each (silence is still audio). */
  async function talk(client: TestWsClient, ms: number, stepMs = 1_000): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
      client.sendAudio(silence(100));
      // The frame reaches the server before the clock moves on.
      client.send({ type: 'ping' });
      await client.next('pong');
      await clock.advance(stepMs);
    }
  }

  it('warns 10 s before the timeout and ends idle_timeout at it: close 4408, charged to that instant', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(IDLE_TIMEOUT_MS - 10_001);
    expect(sent(client, 'idle_warning')).toEqual([]);
    await clock.advance(1);
    expect(await client.next('idle_warning')).toEqual({ type: 'idle_warning', seconds_left: 10 });
    await clock.advance(9_999);
    expect(client.closed).toBeUndefined();
    await clock.advance(1);
    expect(await client.next('session_ended')).toMatchObject({ type: 'session_ended', reason: 'idle_timeout', session_charged: 30 });
    expect(await client.waitClose()).toEqual({ code: 4408, reason: 'Idle timeout' });
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ status: 'ended', end_reason: 'idle_timeout', charged_credits: 30 });
    expect(await quotaSession(v.user.id)).toMatchObject({ status: 'completed', used_seconds: 30 });
  });

  it('counts audio frames, not pings: each frame restarts the idle clock', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    // A minute of audio, one frame a second: never idle.
    await talk(client, 60_000);
    expect(sent(client, 'idle_warning')).toEqual([]);
    // Then pings only, every second: they keep the connection, not the session.
    for (let elapsed = 0; elapsed < IDLE_TIMEOUT_MS - 10_000; elapsed += 1_000) {
      client.send({ type: 'ping' });
      await client.next('pong');
      await clock.advance(1_000);
    }
    expect(await client.next('idle_warning')).toEqual({ type: 'idle_warning', seconds_left: 10 });
    // Audio after the warning restarts the clock: a new warning, a full timeout later.
    client.sendAudio(silence(100));
    client.send({ type: 'ping' });
    await client.next('pong');
    await clock.advance(IDLE_TIMEOUT_MS - 10_000 - 1);
    expect(sent(client, 'idle_warning')).toEqual([]);
    await clock.advance(1);
    expect(await client.next('idle_warning')).toEqual({ type: 'idle_warning', seconds_left: 10 });
    await clock.advance(10_000);
    expect((await client.waitClose()).code).toBe(4408);
    // Charged from the start (80 s before the last frame) to the timeout 30 s after it.
    await waitUntil(async () => (await betaSession(ready.beta.session_id))?.status === 'ended');
    expect(await betaSession(ready.beta.session_id)).toMatchObject({ end_reason: 'idle_timeout', charged_credits: 110 });
  });

  it('restarts the idle clock at a resume', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(15_000);
    client.drop();
    await waitUntil(async () => (await t.app.get(LiveSessionsRepository).find(ready.session_id))?.status === 'suspended');
    const { client: resumed, reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({ type: 'ready', resumed: true });
    // 15 s idle before the loss do not count: the warning comes 20 s after the resume, the end 30 s after it.
    await clock.advance(IDLE_TIMEOUT_MS - 10_001);
    expect(sent(resumed, 'idle_warning')).toEqual([]);
    await clock.advance(1);
    expect(await resumed.next('idle_warning')).toEqual({ type: 'idle_warning', seconds_left: 10 });
    await clock.advance(10_000);
    expect(await resumed.next('session_ended')).toMatchObject({ reason: 'idle_timeout' });
    expect((await resumed.waitClose()).code).toBe(4408);
  });
});

/** The same on the real clock, with a timeout under 20 s: the warning comes halfway. */
describe('Live session idle protection, in real time', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { WS_IDLE_TIMEOUT_MS: '1500' } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('warns after 0.75 s and ends 4408 after 1.5 s of no audio', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client } = await openSession(t, v);
    const readyAt = Date.now();
    expect(await client.next('idle_warning', 5_000)).toEqual({ type: 'idle_warning', seconds_left: 1 });
    const warnedAfter = Date.now() - readyAt;
    expect(await client.next('session_ended', 5_000)).toMatchObject({ reason: 'idle_timeout' });
    expect((await client.waitClose()).code).toBe(4408);
    const endedAfter = Date.now() - readyAt;
    // `ready` reached the client a little after the server armed the timer; the end waits for its writes.
    expect(warnedAfter).toBeGreaterThanOrEqual(650);
    expect(warnedAfter).toBeLessThan(1_400);
    expect(endedAfter).toBeGreaterThanOrEqual(1_400);
    expect(endedAfter).toBeLessThan(3_000);
  });
});

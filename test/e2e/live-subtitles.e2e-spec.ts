import { startTestApp, type TestApp } from '../harness/app.js';
import { speech } from '../harness/audio.js';
import { authMessage, viewer, waitUntil } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import { TestWsClient } from '../harness/ws-client.js';

describe('LiveSubtitlesGateway', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });

  afterAll(async () => {
    await t.close();
  });

  async function openSubtitles(v: Awaited<ReturnType<typeof viewer>>) {
    const client = await TestWsClient.connect(t.baseUrl, '/ws/live-subtitles');
    client.send(authMessage(v));
    return { client, ready: await client.next('ready') };
  }

  it('sends transcripts and translations but no audio, charging the subtitles rate under its own quota feature', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSubtitles(v);
    expect(ready.beta).toMatchObject({ remaining_credits: 500, estimated_cost: 30, granted_credits: 500, credits_per_second: 0.5 });
    for (const frame of speech()) client.sendAudio(frame);
    expect(await client.next('transcript')).toMatchObject({ loopback: true });
    expect(await client.next('translation')).toMatchObject({ target_lang: 'en' });
    await clock.advance(9_200);
    client.send({ type: 'stop' });
    expect(await client.next('session_ended')).toEqual({
      type: 'session_ended',
      reason: 'user_stopped',
      remaining_credits: 495,
      session_charged: 5,
      // 9.2 s at half a credit a second: 5 credits (every started second), 10 quota seconds.
      duration_ms: 9_200,
      charged_credits: 5,
      quota_used_seconds: 10,
    });
    expect(client.audio).toEqual([]);
    const session = await t.connection.collection('beta_sessions').findOne({ _id: ready.beta.session_id });
    expect(session).toMatchObject({ feature: 'live_subtitles', rate: 0.5, charged_credits: 5 });
    expect(await t.connection.collection('live_quota_sessions').findOne({ user_id: v.user.id })).toMatchObject({
      feature: 'live_subtitles',
      status: 'completed',
    });
  });

  it('uses the same opening checks as live dubbing', async () => {
    const v = await viewer(t.app, { tier: 'free' });
    const client = await TestWsClient.connect(t.baseUrl, '/ws/live-subtitles');
    client.send(authMessage(v));
    expect((await client.waitClose()).code).toBe(4030);
  });

  it('keeps a dubbing and a subtitles session of one user apart', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const subtitles = await openSubtitles(v);
    const dubbing = await TestWsClient.connect(t.baseUrl);
    dubbing.send(authMessage(v));
    const dubbingReady = await dubbing.next('ready');
    expect(dubbingReady.beta.estimated_cost).toBe(60);
    await clock.advance(10_000);
    subtitles.client.close();
    dubbing.send({ type: 'stop' });
    expect(await dubbing.next('session_ended')).toMatchObject({ session_charged: 10 });
    await waitUntil(
      async () => (await t.connection.collection('beta_sessions').findOne({ _id: subtitles.ready.beta.session_id }))?.status === 'ended',
    );
    expect(await t.connection.collection('beta_sessions').findOne({ _id: subtitles.ready.beta.session_id })).toMatchObject({
      charged_credits: 5,
    });
  });
});

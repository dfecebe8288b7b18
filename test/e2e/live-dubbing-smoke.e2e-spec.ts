import { startTestApp, type TestApp } from '../harness/app.js';
import { createChannel, createUserWithToken } from '../harness/factories.js';
import { TestWsClient } from '../harness/ws-client.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { speech } from '../harness/audio.js';

describe('LiveDubbingGateway smoke', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('opens a beta session, dubs audio and ends on stop', async () => {
    const { user, token } = await createUserWithToken(t.app, { tier: 'premium' });
    await t.app.get(BetaEnrollmentService).enroll({ email: user.email, via: 'admin' });
    const channel = await createChannel(t.app);
    const client = await TestWsClient.connect(t.baseUrl);
    client.send({ type: 'auth', token, channel_id: channel.id, target_lang: 'en' });
    const ready = await client.next('ready');
    expect(ready).toMatchObject({
      type: 'ready',
      beta: { remaining_credits: 500, estimated_cost: 60 },
      audio: { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 },
    });
    for (const frame of speech()) {
      client.sendAudio(frame);
    }
    const transcript = await client.next('transcript');
    expect(transcript).toMatchObject({ type: 'transcript', loopback: true, text: expect.stringMatching(/^\[loopback\]/) });
    expect(await client.next('translation')).toMatchObject({
      type: 'translation',
      segment_id: transcript.segment_id,
      target_lang: 'en',
      loopback: true,
    });
    await client.waitFor(() => (client.audio.length > 0 ? true : undefined), 5000, 'dubbed audio');
    expect(client.audio[0].length % 2).toBe(0);
    client.send({ type: 'ping' });
    expect(await client.next('pong')).toEqual({ type: 'pong' });
    client.send({ type: 'stop' });
    const ended = await client.next('session_ended');
    expect(ended).toMatchObject({ type: 'session_ended', reason: 'user_stopped' });
    expect(await client.waitClose()).toEqual({ code: 1000, reason: 'Session ended' });
  });
});

import { startTestApp, type TestApp } from '../harness/app.js';
import { createChannel, createUserWithToken } from '../harness/factories.js';
import { TestWsClient } from '../harness/ws-client.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { frames, silence, speech, tone } from '../harness/audio.js';

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

  it('sends back each segment’s own audio, byte for byte, while sessions share and reuse segment memory', async () => {
    const channel = await createChannel(t.app);
    const bursts = (base: number) => [0, 1, 2, 3, 4].map((index) => tone(600, base + 700 * index));
    const clients = await Promise.all(
      [2000, 9000].map(async (base) => {
        const { token } = await createUserWithToken(t.app, { tier: 'premium' });
        const client = await TestWsClient.connect(t.baseUrl);
        client.send({ type: 'auth', token, channel_id: channel.id, target_lang: 'en' });
        await client.next('ready');
        return { client, expected: bursts(base) };
      }),
    );
    for (const { client, expected } of clients) {
      for (const frame of frames(Buffer.concat(expected.flatMap((burst) => [silence(200), burst, silence(500)])))) {
        client.sendAudio(frame);
      }
    }
    for (const { client, expected } of clients) {
      await client.waitFor(() => (client.audio.length >= expected.length ? true : undefined), 5000, 'every dubbed segment');
      expect(client.audio.map((audio, index) => audio.equals(expected[index]))).toEqual(expected.map(() => true));
      client.send({ type: 'stop' });
      await client.waitClose();
    }
  });
});

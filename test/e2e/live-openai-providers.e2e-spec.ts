import { inspect } from 'node:util';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { startTestApp, type TestApp } from '../harness/app.js';
import { speech } from '../harness/audio.js';
import { FakeOpenAiServer } from '../harness/fake-openai-server.js';
import { anyUsageSummary, authMessage, openSession, viewer, waitUntil } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import { TestWsClient } from '../harness/ws-client.js';

const API_KEY = 'sk-e2e-live-7d3f9b21c0aa';

/** Both live gateways through DUBBING_PROVIDER=openai, pointed at the fake server, on the real clock. */
describe('Live gateways with the OpenAI-compatible providers', () => {
  let server: FakeOpenAiServer;
  let t: TestApp;
  const logged: string[] = [];

  beforeAll(async () => {
    server = await FakeOpenAiServer.start({ apiKey: API_KEY });
    t = await startTestApp({
      env: {
        DUBBING_PROVIDER: 'openai',
        OPENAI_BASE_URL: `${server.baseUrl}/v1`,
        OPENAI_API_KEY: API_KEY,
        OPENAI_MAX_RETRIES: '1',
        OPENAI_TIMEOUT_MS: '3000',
      },
    });
    for (const level of ['log', 'warn', 'error', 'debug', 'verbose'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => void logged.push(inspect(args, { depth: 10 })));
    }
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await t.close();
    await server.close();
  });

  beforeEach(() => {
    server.reset();
    logged.length = 0;
  });

  afterEach(() => {
    expect(logged.filter((line) => line.includes(API_KEY))).toEqual([]);
  });

  it('dubs speech through the three OpenAI endpoints: transcript, translation, then dubbed audio at 16 kHz', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client } = await openSession(t, v);
    for (const frame of speech()) client.sendAudio(frame);
    const transcript = await client.next('transcript');
    expect(transcript).toMatchObject({ segment_id: 1, loopback: false, text: expect.stringMatching(/^heard segment-1\.wav, \d+ ms$/) });
    const translation = await client.next('translation');
    expect(translation).toEqual({
      type: 'translation',
      segment_id: 1,
      text: `[en] ${transcript.text}`,
      target_lang: 'en',
      loopback: false,
      latency_ms: expect.any(Number),
    });
    expect(translation.latency_ms).toBeGreaterThanOrEqual(transcript.latency_ms);
    await client.waitFor(() => client.audio[0], 5000, 'dubbed audio');
    // The fake speaks 50 ms per character at 24 kHz (1 200 samples); the client gets the same 50 ms at 16 kHz (800 samples).
    expect(client.audio[0].length).toBe(translation.text.length * 800 * 2);
    client.send({ type: 'stop' });
    expect(await client.next('session_ended')).toMatchObject({ reason: 'user_stopped' });
    expect(server.problems()).toEqual([]);
    expect(server.requests.map((request) => request.route)).toEqual(['transcriptions', 'chat', 'speech']);
  });

  it('gives subtitles through the OpenAI endpoints without ever calling text-to-speech', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const client = await TestWsClient.connect(t.baseUrl, '/ws/live-subtitles');
    client.send(authMessage(v));
    await client.next('ready');
    for (const frame of speech()) client.sendAudio(frame);
    expect(await client.next('transcript')).toMatchObject({ loopback: false, latency_ms: expect.any(Number) });
    expect(await client.next('translation')).toMatchObject({ text: expect.stringMatching(/^\[en\] heard segment-1\.wav/) });
    client.send({ type: 'stop' });
    await client.next('session_ended');
    expect(client.audio).toEqual([]);
    expect(server.requestsTo('speech')).toEqual([]);
    expect(server.problems()).toEqual([]);
  });

  it('retries a provider that answers 429 once, and the session goes on', async () => {
    server.plan('chat', { kind: 'status', status: 429, retryAfter: '0' });
    const v = await viewer(t.app, { credits: 500 });
    const { client } = await openSession(t, v);
    for (const frame of speech()) client.sendAudio(frame);
    expect(await client.next('translation')).toMatchObject({ segment_id: 1 });
    client.send({ type: 'stop' });
    await client.next('session_ended');
    expect(server.requestsTo('chat')).toHaveLength(2);
  });

  it('ends the session with speech_service_unavailable and 1011 when a provider keeps failing, quoting nothing internal', async () => {
    server.plan('transcriptions', { kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    for (const frame of speech()) client.sendAudio(frame);
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'speech_service_unavailable',
      message: 'The speech service is unavailable; please try again later',
      session_ended: true,
      ...anyUsageSummary(),
    });
    expect(await client.waitClose()).toEqual({ code: 1011, reason: 'Speech service unavailable' });
    // The error waits for the end's first writes only for its usage summary; the end is written regardless.
    await waitUntil(async () => (await t.connection.collection('live_sessions').findOne({ _id: ready.session_id }))?.status === 'ended');
    expect(await t.connection.collection('beta_sessions').findOne({ _id: ready.beta.session_id })).toMatchObject({
      status: 'ended',
      end_reason: 'error',
    });
    expect(await t.connection.collection('live_quota_sessions').findOne({ user_id: v.user.id })).toMatchObject({ status: 'error' });
    expect(logged.some((line) => line.includes('Speech-to-text provider failed after 2 attempt(s): HTTP 503'))).toBe(true);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^dubbing_provider_requests_total\{stage="speech_to_text",outcome="failed"\} 1$/m);
    expect(metrics).toMatch(/^live_dubbing_errors_total\{code="speech_service_unavailable"\} 1$/m);
  });

  it('ends the session the same way when the key is refused, and neither logs nor sends the key the server echoed', async () => {
    const strict = await FakeOpenAiServer.start({ apiKey: 'sk-the-right-key' });
    const app = await startTestApp({
      env: { DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: strict.baseUrl, OPENAI_API_KEY: API_KEY },
    });
    try {
      const v = await viewer(app.app, { credits: 500 });
      const { client } = await openSession(app, v);
      for (const frame of speech()) client.sendAudio(frame);
      expect(await client.next('error')).toMatchObject({ code: 'speech_service_unavailable' });
      expect((await client.waitClose()).code).toBe(1011);
      expect(JSON.stringify(client.messages)).not.toContain(API_KEY);
      expect(logged.some((line) => line.includes('refused the API key (HTTP 401); check OPENAI_API_KEY'))).toBe(true);
    } finally {
      await app.close();
      await strict.close();
    }
  });
});

describe('Live gateways with the OpenAI-compatible providers: credits', () => {
  const clock = new ManualClock();
  let server: FakeOpenAiServer;
  let t: TestApp;

  beforeAll(async () => {
    server = await FakeOpenAiServer.start({ apiKey: API_KEY });
    t = await startTestApp({
      clock,
      env: { DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: API_KEY },
    });
  });

  afterAll(async () => {
    await t.close();
    await server.close();
  });

  it('charges each gateway at its own feature rate while the providers dub and subtitle in order', async () => {
    const dubber = await viewer(t.app, { credits: 500 });
    const reader = await viewer(t.app, { credits: 500 });
    const dubbing = await openSession(t, dubber);
    const subtitles = await TestWsClient.connect(t.baseUrl, '/ws/live-subtitles');
    subtitles.send(authMessage(reader));
    const subtitlesReady = await subtitles.next('ready');
    for (const frame of speech()) {
      dubbing.client.sendAudio(frame);
      subtitles.sendAudio(frame);
    }
    for (const client of [dubbing.client, subtitles]) {
      expect(await client.next('transcript')).toMatchObject({ segment_id: 1, loopback: false });
      expect(await client.next('translation')).toMatchObject({ segment_id: 1, loopback: false });
    }
    await dubbing.client.waitFor(() => dubbing.client.audio[0], 5000, 'dubbed audio');

    await clock.advance(9_200);
    dubbing.client.send({ type: 'stop' });
    subtitles.send({ type: 'stop' });
    // 9.2 s is charged as 10 started seconds: 1 credit each for dubbing, 0.5 each (rounded up) for subtitles.
    expect(await dubbing.client.next('session_ended')).toMatchObject({ session_charged: 10, remaining_credits: 490 });
    expect(await subtitles.next('session_ended')).toMatchObject({ session_charged: 5, remaining_credits: 495 });
    expect(subtitles.audio).toEqual([]);
    const sessions = t.connection.collection('beta_sessions');
    expect(await sessions.findOne({ _id: dubbing.ready.beta.session_id })).toMatchObject({ feature: 'live_dubbing', rate: 1 });
    expect(await sessions.findOne({ _id: subtitlesReady.beta.session_id })).toMatchObject({ feature: 'live_subtitles', rate: 0.5 });
    expect(server.requestsTo('speech')).toHaveLength(1);
    expect(server.problems()).toEqual([]);
  });
});

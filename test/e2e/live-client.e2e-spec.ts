import WebSocket from 'ws';
import {
  createRestClient,
  LiveDubbingClient,
  LiveDubbingError,
  LiveSubtitlesClient,
  RestError,
  type ClientState,
  type EndedEvent,
  type LiveDubbingClientOptions,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import type { ReadyMessage, RetryEvent } from '../../src/client/index.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { speech } from '../harness/audio.js';
import { startCluster } from '../harness/cluster.js';
import type { DatabaseContext } from '../harness/database-context.js';
import { sleep, viewer, waitUntil, type Viewer } from '../harness/live.js';
import { FAULT_ENV, stopAllProcesses, withInstanceLogs } from '../harness/processes.js';

const TEST_TIMEOUT_MS = 60_000;

/** The client library in Node: the `ws` package's WebSocket, the real clock. */
function clientFor(url: LiveDubbingClientOptions['url'], v: Viewer, options: Partial<LiveDubbingClientOptions> = {}) {
  const client = new LiveDubbingClient({ url, token: v.token, WebSocket: WebSocket as unknown as WebSocketConstructor, ...options });
  const seen = {
    states: [] as ClientState[],
    ready: [] as ReadyMessage[],
    retries: [] as RetryEvent[],
    ended: [] as EndedEvent[],
    transcripts: 0,
    translations: 0,
    audio: 0,
  };
  client.on('state', (state) => seen.states.push(state));
  client.on('ready', (ready) => seen.ready.push(ready));
  client.on('retry', (retry) => seen.retries.push(retry));
  client.on('ended', (ended) => seen.ended.push(ended));
  client.on('transcript', () => seen.transcripts++);
  client.on('translation', () => seen.translations++);
  client.on('audio', (pcm) => {
    expect(pcm).toBeInstanceOf(ArrayBuffer);
    seen.audio++;
  });
  return { client, seen };
}

/** The network goes away under the client: its socket ends without a close frame (the server sees a blip). */
function cutNetwork(client: LiveDubbingClient): void {
  (client.connection!.socket as unknown as WebSocket).terminate();
}

const request = (v: Viewer) => ({ channel_id: v.channel.id, target_lang: 'en' });

/**
 * The client library (src/client, docs/protocol.md "Client library") against the real application over a real port,
 * with the `ws` package's WebSocket: opening, audio, stopping with the usage summary, resuming by itself after a lost
 * connection, refusals as typed errors, and the REST client.
 */
describe('Client library against one instance', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  async function ledger(betaSessionId: string, userId: string) {
    const debits = await t.connection.collection('beta_credit_transactions').find({ type: 'debit', session_id: betaSessionId }).toArray();
    const quota = await t.connection.collection('live_quota_sessions').find({ user_id: userId }).toArray();
    return {
      charged_credits: debits.reduce((sum, debit) => sum - (debit.amount as number), 0),
      quota_used_seconds: quota.reduce((sum, session) => sum + (session.used_seconds as number), 0),
    };
  }

  it('opens, streams speech, gets transcripts, translations and dubbed audio, and stops with the usage summary of the ledger', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, seen } = clientFor(t.baseUrl, v);
    const ready = await client.open(request(v));
    expect(ready).toMatchObject({ type: 'ready', session_id: expect.any(String), beta: { remaining_credits: 500 } });
    expect(seen.states).toEqual(['connecting', 'authenticating', 'live']);
    expect(client.state).toBe('live');
    for (const frame of speech()) {
      expect(client.sendAudio(frame)).toBe(true);
    }
    await waitUntil(async () => seen.audio > 0 && seen.transcripts > 0 && seen.translations > 0);
    await expect(client.ping()).resolves.toEqual({ type: 'pong' });
    const ended = await client.stop();
    expect(ended).toMatchObject({ type: 'session_ended', reason: 'user_stopped', duration_ms: expect.any(Number) });
    expect(ended).toMatchObject(await ledger(ready.beta!.session_id, v.user.id));
    await waitUntil(async () => client.state === 'ended');
    expect(seen.ended).toEqual([
      expect.objectContaining({
        reason: 'session_ended',
        action: 'ended',
        sessionId: ready.session_id,
        close: { code: 1000, reason: 'Session ended' },
      }),
    ]);
  });

  it('resumes by itself after the network drops: the same session, charged once for the time connected', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, seen } = clientFor(t.baseUrl, v);
    const openedAt = Date.now();
    const ready = await client.open(request(v));
    await sleep(1200);
    // Audio while resuming is dropped, not buffered.
    const sentWhileResuming: boolean[] = [];
    client.on('state', (state) => state === 'resuming' && sentWhileResuming.push(client.sendAudio(speech()[0])));
    cutNetwork(client);
    await waitUntil(async () => seen.ready.length === 2, 10_000);
    expect(sentWhileResuming).toEqual([false]);
    expect(client.droppedAudioFrames).toBe(1);
    expect(seen.ready).toHaveLength(2);
    expect(seen.ready[1]).toMatchObject({ resumed: true, session_id: ready.session_id, beta: { session_id: ready.beta!.session_id } });
    expect(client.resumeToken).toBe(seen.ready[1].resume_token);
    expect(seen.ready[1].resume_token).not.toBe(ready.resume_token);
    await sleep(800);
    const ended = await client.stop();
    const elapsedSeconds = Math.ceil((Date.now() - openedAt) / 1000);
    expect(ended).toMatchObject(await ledger(ready.beta!.session_id, v.user.id));
    // One beta session, one quota session, never more than the time since the opening.
    expect(await t.connection.collection('beta_sessions').countDocuments({ email: v.user.email })).toBe(1);
    // Charged at most once for each started second connected over both connections, never for the gap (a resume that
    // finds the session still live cuts its charge at the last heartbeat; the quota may count up to its last record).
    expect(ended.duration_ms).toBeGreaterThanOrEqual(800);
    expect(ended.charged_credits).toBeGreaterThanOrEqual(1);
    expect(ended.charged_credits).toBeLessThanOrEqual(Math.ceil(ended.duration_ms! / 1000));
    expect(ended.charged_credits).toBeLessThanOrEqual(elapsedSeconds);
    expect(seen.states).toEqual(['connecting', 'authenticating', 'live', 'resuming', 'live', 'ended']);
  });

  it('rejects a refused opening with the error code and close code, and does not retry it', async () => {
    const v = await viewer(t.app);
    const { client, seen } = clientFor(t.baseUrl, v);
    const error: LiveDubbingError = await client.open({ channel_id: 'no-such-channel', target_lang: 'en' }).catch((e) => e);
    expect(error).toBeInstanceOf(LiveDubbingError);
    expect({ code: error.code, closeCode: error.closeCode, action: error.action }).toEqual({
      code: 'channel_unavailable',
      closeCode: 4004,
      action: 'ended',
    });
    expect(seen.retries).toEqual([]);
  });

  it('4410 on a resume token that is not valid: rejects with the open_new action; openNewOnResumeFailed opens a new session', async () => {
    const v = await viewer(t.app);
    const { client } = clientFor(t.baseUrl, v);
    const error: LiveDubbingError = await client.resume('x'.repeat(43)).catch((e) => e);
    expect({ code: error.code, closeCode: error.closeCode, action: error.action }).toEqual({
      code: 'resume_failed',
      closeCode: 4410,
      action: 'open_new',
    });

    const fresh = clientFor(t.baseUrl, v, { openNewOnResumeFailed: true });
    const ready = await fresh.client.resume('x'.repeat(43), request(v));
    expect(ready.resumed).toBeUndefined();
    expect(fresh.client.state).toBe('live');
    await fresh.client.stop();
  });

  it('speaks to the subtitles gateway', async () => {
    const v = await viewer(t.app);
    const client = new LiveSubtitlesClient({ url: t.baseUrl, token: v.token, WebSocket: WebSocket as unknown as WebSocketConstructor });
    const transcripts: string[] = [];
    client.on('transcript', (message) => transcripts.push(message.text));
    await client.open(request(v));
    expect(client.connection!.url).toBe(`${t.baseUrl.replace('http', 'ws')}/ws/live-subtitles`);
    for (const frame of speech()) {
      client.sendAudio(frame);
    }
    await waitUntil(async () => transcripts.length > 0);
    await expect(client.stop()).resolves.toMatchObject({ reason: 'user_stopped' });
  });

  it('reads the channels and the credits over REST, and reports a refusal with its status and body', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const rest = createRestClient({ baseUrl: t.baseUrl, token: v.token });
    const channels = [];
    for (let cursor: string | undefined, page = 0; page < 50; page++) {
      const found = await rest.channels(cursor, 100);
      channels.push(...found.channels);
      if (found.next_cursor === null) {
        break;
      }
      cursor = found.next_cursor;
    }
    expect(channels).toContainEqual({
      id: v.channel.id,
      name: v.channel.name,
      source_language: v.channel.sourceLanguage,
      dubbing_languages: v.channel.dubbingLanguages,
    });
    expect(await rest.credits()).toEqual({
      is_beta_user: true,
      total_credits: 500,
      granted_credits: 500,
      remaining_credits: 500,
      held_credits: 0,
      available_credits: 500,
      active_sessions: 0,
      grants: [{ id: `enrollment:${v.user.email}`, remaining: 500, priority: 10 }],
      next_expiry: null,
    });
    const refused: RestError = await createRestClient({ baseUrl: t.baseUrl, token: 'not-a-token' })
      .credits()
      .catch((e) => e);
    expect(refused).toBeInstanceOf(RestError);
    expect({ status: refused.status, code: refused.code }).toEqual({ status: 401, code: 'unauthorized' });
  });
});

/** Real service instances on an embedded database process of their own: a rolling restart and a database outage. */
describe('Client library across real processes', () => {
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  it(
    'moves to the other instance by itself on a rolling restart (reconnect, 1012): the same session, charged as the ledger says',
    () =>
      withInstanceLogs(async () => {
        const cluster = await startCluster(['a', 'b'], { ...FAULT_ENV, WS_RESUME_WINDOW_MS: '10000' }, 'client');
        ctx = cluster.ctx;
        const [a, b] = cluster.instances;
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, seen } = clientFor([a.baseUrl, b.baseUrl], v);
        const reconnects: unknown[] = [];
        client.on('reconnect', (message) => reconnects.push(message));
        const ready = await client.open(request(v));
        expect(client.connection!.url).toBe(a.wsUrl('/ws/live-dubbing'));
        await sleep(1500);

        const exit = a.stop();
        await waitUntil(async () => seen.ready.length === 2, 15_000);
        expect(reconnects).toEqual([{ type: 'reconnect', resume_token: expect.any(String), resume_within_ms: 10_000 }]);
        expect(seen.ready[1]).toMatchObject({ resumed: true, session_id: ready.session_id });
        expect(client.connection!.url).toBe(b.wsUrl('/ws/live-dubbing'));
        expect(seen.states).toEqual(['connecting', 'authenticating', 'live', 'resuming', 'live']);
        await exit;

        await sleep(1000);
        const ended = await client.stop();
        expect(ended.charged_credits).toBe(await ctx.debited(ready.beta!.session_id));
        expect(ended.charged_credits).toBeGreaterThanOrEqual(2);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'takes a silent connection for lost when its pings go unanswered (the instance paused), and resumes on the other instance',
    () =>
      withInstanceLogs(async () => {
        const cluster = await startCluster(['a', 'b'], FAULT_ENV, 'client');
        ctx = cluster.ctx;
        const [a, b] = cluster.instances;
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, seen } = clientFor([a.baseUrl, b.baseUrl], v, { pingIntervalMs: 500, pongTimeoutMs: 1000 });
        const ready = await client.open(request(v));
        await sleep(1000);
        a.pause();
        try {
          await waitUntil(async () => seen.ready.length === 2, 10_000);
        } finally {
          a.resume();
        }
        expect(seen.ready[1]).toMatchObject({ resumed: true, session_id: ready.session_id });
        expect(client.connection!.url).toBe(b.wsUrl('/ws/live-dubbing'));
        expect(seen.states).toEqual(['connecting', 'authenticating', 'live', 'resuming', 'live']);
        await sleep(500);
        const ended = await client.stop();
        expect(ended.charged_credits).toBe(await ctx.debited(ready.beta!.session_id));
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'retries an opening refused 1013 while the database is unreachable, and opens once it is back',
    () =>
      withInstanceLogs(async () => {
        const cluster = await startCluster(['a'], FAULT_ENV, 'client');
        ctx = cluster.ctx;
        const [a] = cluster.instances;
        const v = await viewer(ctx.app);
        cluster.database.freeze();
        // The instance finds its database unreachable within a ping interval and a ping timeout (1.25 s).
        await sleep(2000);
        const { client, seen } = clientFor(a.baseUrl, v);
        const errors: string[] = [];
        client.on('error', (error) => errors.push(error.code));
        const opened = client.open(request(v));
        await waitUntil(async () => seen.retries.length >= 2, 10_000);
        cluster.database.thaw();
        const ready = await opened;
        expect(ready).toMatchObject({ type: 'ready', session_id: expect.any(String) });
        expect(errors.length).toBeGreaterThanOrEqual(2);
        expect(new Set(errors)).toEqual(new Set(['service_unavailable']));
        expect(seen.retries.every((retry) => retry.kind === 'open' && retry.close?.code === 1013)).toBe(true);
        await expect(client.stop()).resolves.toMatchObject({ reason: 'user_stopped' });
      }),
    TEST_TIMEOUT_MS,
  );
});

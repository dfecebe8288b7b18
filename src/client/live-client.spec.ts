import type { ReadyMessage } from '../protocol/index.js';
import { backoffDelay } from './backoff.js';
import type { SocketCloseEvent, SocketMessageEvent, Timers, WebSocketLike } from './environment.js';
import { LiveDubbingError } from './errors.js';
import {
  gatewayUrl,
  LiveDubbingClient,
  LiveSubtitlesClient,
  type ClientState,
  type EndedEvent,
  type LiveDubbingClientOptions,
} from './live-client.js';

/** Timers on a clock that moves only when told to, so that every backoff delay is checked exactly. */
class FakeTimers implements Timers {
  private at = 1_000_000;
  private nextId = 1;
  private readonly due = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.at;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.due.set(id, { at: this.at + delayMs, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  get pending(): number[] {
    return [...this.due.values()].map((timer) => timer.at - this.at);
  }

  /** Moves the clock by `ms`, firing what falls due in order. */
  advance(ms: number): void {
    const until = this.at + ms;
    for (;;) {
      const next = [...this.due.entries()].filter(([, timer]) => timer.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined) {
        break;
      }
      this.due.delete(next[0]);
      this.at = next[1].at;
      next[1].callback();
    }
    this.at = until;
  }
}

/** A WebSocket the test plays the server of: it opens, sends and closes when the test says. */
class FakeSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: SocketMessageEvent) => void) | null = null;
  onclose: ((event: SocketCloseEvent) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: (string | ArrayBuffer | ArrayBufferView)[] = [];
  closedByClient?: { code?: number; reason?: string };

  constructor(
    readonly url: string,
    readonly createdAt: number,
  ) {}

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 1) {
      throw new Error('not open');
    }
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  /** The JSON messages the client sent. */
  get messages(): any[] {
    return this.sent.filter((data): data is string => typeof data === 'string').map((text) => JSON.parse(text));
  }

  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  receiveAudio(bytes: number[]): void {
    this.onmessage?.({ data: new Uint8Array(bytes).buffer });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const ready = (overrides: Partial<ReadyMessage> = {}): ReadyMessage => ({
  type: 'ready',
  session_id: 'session-1',
  resume_token: 'rt-1',
  beta: null,
  audio: { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 },
  quota: { hour: 60, day: 240, month: 3000 },
  ...overrides,
});

const REQUEST = { channel_id: 'news-il', target_lang: 'en' };

function setup(options: Partial<LiveDubbingClientOptions> = {}) {
  const timers = new FakeTimers();
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(url: string) {
      super(url, timers.now());
      sockets.push(this);
    }
  };
  const client = new LiveDubbingClient({
    url: 'http://gateway.test',
    token: 'jwt',
    WebSocket,
    timers,
    random: () => 0.5,
    ...options,
  });
  const states: ClientState[] = [];
  const ended: EndedEvent[] = [];
  client.on('state', (state) => states.push(state));
  client.on('ended', (event) => ended.push(event));
  const last = () => sockets[sockets.length - 1];
  /** Lets the token promise settle, then the fake server accepts and answers `auth`. */
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { client, timers, sockets, last, states, ended, flush };
}

/** Opens a session through `setup`'s fake server. */
async function live(options: Partial<LiveDubbingClientOptions> = {}) {
  const s = setup(options);
  const opened = s.client.open(REQUEST);
  s.last().accept();
  await s.flush();
  s.last().receive(ready());
  await opened;
  return s;
}

describe('backoff', () => {
  it('tries at once, then after 0.5 s, 1 s, 2 s, 4 s and at most every 5 s (docs/protocol.md, "Backoff")', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelay(attempt, () => 0.5))).toEqual([
      0, 500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
  });

  it('spreads each delay over ±20 % by default', () => {
    expect([1, 4, 8].map((attempt) => backoffDelay(attempt, () => 0))).toEqual([400, 3200, 4000]);
    expect([1, 4, 8].map((attempt) => backoffDelay(attempt, () => 0.999999))).toEqual([600, 4800, 6000]);
    expect(backoffDelay(2, () => 0, { initialDelayMs: 100, maxDelayMs: 150, jitter: 0 })).toBe(150);
  });
});

describe('gatewayUrl', () => {
  it('turns a base URL into the gateway URL, and keeps one that has its path', () => {
    expect(gatewayUrl('http://127.0.0.1:3000', '/ws/live-dubbing')).toBe('ws://127.0.0.1:3000/ws/live-dubbing');
    expect(gatewayUrl('https://dub.example/', '/ws/live-subtitles')).toBe('wss://dub.example/ws/live-subtitles');
    expect(gatewayUrl('wss://dub.example/ws/live-dubbing', '/ws/live-subtitles')).toBe('wss://dub.example/ws/live-dubbing');
    expect(() => gatewayUrl('ftp://x', '/ws/live-dubbing')).toThrow(TypeError);
  });
});

describe('LiveDubbingClient', () => {
  it('opens: connecting, authenticating, live; the auth message carries the request; resolves with ready', async () => {
    const s = setup();
    const opened = s.client.open({ ...REQUEST, source_lang: 'he' });
    expect(s.client.state).toBe('connecting');
    expect(s.last().url).toBe('ws://gateway.test/ws/live-dubbing');
    s.last().accept();
    expect(s.last().binaryType).toBe('arraybuffer');
    await s.flush();
    expect(s.client.state).toBe('authenticating');
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', channel_id: 'news-il', target_lang: 'en', source_lang: 'he' }]);
    s.last().receive(ready());
    await expect(opened).resolves.toMatchObject({ type: 'ready', session_id: 'session-1' });
    expect(s.states).toEqual(['connecting', 'authenticating', 'live']);
    expect(s.client.resumeToken).toBe('rt-1');
    expect(s.client.sessionId).toBe('session-1');
  });

  it('uses the subtitles path for LiveSubtitlesClient', () => {
    const sockets: string[] = [];
    const client = new LiveSubtitlesClient({
      url: 'http://gateway.test',
      token: 'jwt',
      WebSocket: class extends FakeSocket {
        constructor(url: string) {
          super(url, 0);
          sockets.push(url);
        }
      },
    });
    void client.open(REQUEST);
    expect(sockets).toEqual(['ws://gateway.test/ws/live-subtitles']);
  });

  it('emits typed events: transcripts, translations, dubbed audio, credits, warnings; ping resolves with pong', async () => {
    const s = await live();
    const seen: unknown[] = [];
    for (const type of ['transcript', 'translation', 'credits', 'credit_warning', 'idle_warning'] as const) {
      s.client.on(type, (message) => seen.push(message.type));
    }
    s.client.on('audio', (pcm) => seen.push(Array.from(new Uint8Array(pcm))));
    const off = s.client.on('transcript', () => seen.push('again'));
    off();
    s.last().receive({
      type: 'transcript',
      segment_id: 1,
      text: 'hola',
      language: 'es',
      is_final: true,
      loopback: false,
      start_ms: 0,
      end_ms: 900,
      latency_ms: 5,
    });
    s.last().receive({ type: 'translation', segment_id: 1, text: 'hello', target_lang: 'en', loopback: false, latency_ms: 9 });
    s.last().receiveAudio([1, 2, 3, 4]);
    s.last().receive({ type: 'credits', remaining_credits: 470, session_charged: 30 });
    s.last().receive({ type: 'credit_warning', remaining_credits: 100, threshold_percent: 20 });
    s.last().receive({ type: 'idle_warning', seconds_left: 10 });
    const pong = s.client.ping();
    expect(s.last().messages.at(-1)).toEqual({ type: 'ping' });
    s.last().receive({ type: 'pong' });
    await expect(pong).resolves.toEqual({ type: 'pong' });
    expect(seen).toEqual(['transcript', 'translation', [1, 2, 3, 4], 'credits', 'credit_warning', 'idle_warning']);
  });

  it('sends audio and flush while live', async () => {
    const s = await live();
    const frame = new Uint8Array(3200);
    expect(s.client.sendAudio(frame)).toBe(true);
    expect(s.client.flush()).toBe(true);
    expect(s.last().sent.slice(1)).toEqual([frame, JSON.stringify({ type: 'flush' })]);
  });

  it('stop resolves with session_ended and its usage summary; the end is final', async () => {
    const s = await live();
    const stopped = s.client.stop();
    expect(s.last().messages.at(-1)).toEqual({ type: 'stop' });
    const summary = {
      type: 'session_ended',
      reason: 'user_stopped',
      duration_ms: 12300,
      charged_credits: 13,
      remaining_credits: 487,
      quota_used_seconds: 13,
    };
    s.last().receive(summary);
    await expect(stopped).resolves.toEqual(summary);
    s.last().serverClose(1000, 'Session ended');
    expect(s.ended).toEqual([
      {
        reason: 'session_ended',
        action: 'ended',
        sessionId: 'session-1',
        sessionEnded: summary,
        close: { code: 1000, reason: 'Session ended' },
      },
    ]);
    expect(s.client.state).toBe('ended');
    expect(s.sockets).toHaveLength(1);
  });

  it('rejects a refused opening with a typed error carrying the code and the close code; no retry', async () => {
    const s = setup();
    const opened = s.client.open(REQUEST);
    s.last().accept();
    await s.flush();
    s.last().receive({ type: 'error', code: 'channel_unavailable', message: 'Channel unavailable', channel_id: 'news-il' });
    s.last().serverClose(4004, 'Channel unavailable');
    const error: LiveDubbingError = await opened.catch((e) => e);
    expect(error).toBeInstanceOf(LiveDubbingError);
    expect({ code: error.code, closeCode: error.closeCode, action: error.action, channel: error.error?.channel_id }).toEqual({
      code: 'channel_unavailable',
      closeCode: 4004,
      action: 'ended',
      channel: 'news-il',
    });
    expect(s.ended[0]).toMatchObject({ reason: 'error', action: 'ended', close: { code: 4004 } });
    s.timers.advance(60_000);
    expect(s.sockets).toHaveLength(1);
  });

  it.each([1007, 1008, 1009, 1011, 4000, 4001, 4003, 4029, 4030, 4031, 4032, 4033, 4402, 4408])(
    'ends a live session closed %i without retrying',
    async (code) => {
      const s = await live();
      s.last().serverClose(code);
      expect(s.client.state).toBe('ended');
      expect(s.ended).toEqual([expect.objectContaining({ action: 'ended', close: { code, reason: '' } })]);
      s.timers.advance(120_000);
      expect(s.sockets).toHaveLength(1);
    },
  );

  it('retries an opening refused 1013 with backoff, the same auth each time, then opens', async () => {
    const s = setup();
    const opened = s.client.open(REQUEST);
    for (const delay of [500, 1000, 2000]) {
      s.last().accept();
      await s.flush();
      s.last().receive({ type: 'error', code: 'service_unavailable', message: 'The service cannot reach its database; try again shortly' });
      s.last().serverClose(1013, 'Service unavailable');
      expect(s.client.state).toBe('connecting');
      expect(s.timers.pending).toEqual([delay]);
      const before = s.sockets.length;
      s.timers.advance(delay - 1);
      expect(s.sockets).toHaveLength(before);
      s.timers.advance(1);
      expect(s.sockets).toHaveLength(before + 1);
    }
    s.last().accept();
    await s.flush();
    s.last().receive(ready());
    await expect(opened).resolves.toMatchObject({ session_id: 'session-1' });
    expect(s.sockets.map((socket) => socket.messages)).toEqual(
      Array(4).fill([{ type: 'auth', token: 'jwt', channel_id: 'news-il', target_lang: 'en' }]),
    );
  });

  it('gives up an opening refused 1013 once the retry window is over', async () => {
    const s = setup({ retryWindowMs: 3000 });
    const opened = s.client.open(REQUEST);
    // Attempts at 0, 500 and 1 500 ms; the next would be at 3 500 ms.
    for (let i = 0; i < 3; i++) {
      s.last().accept();
      await s.flush();
      s.last().serverClose(1013);
      s.timers.advance(s.timers.pending[0] ?? 0);
    }
    expect(s.sockets.map((socket) => socket.createdAt - s.sockets[0].createdAt)).toEqual([0, 500, 1500]);
    await expect(opened).rejects.toMatchObject({ code: 'window_over', closeCode: 1013 });
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'window_over', action: 'ended' })]);
  });

  it('connects again with the same auth after 1012 without reconnect during the opening (the instance was shutting down)', async () => {
    const s = setup({ url: ['http://a.test', 'http://b.test'] });
    void s.client.open(REQUEST);
    s.last().serverClose(1012, 'Server restarting: reconnect to another instance');
    s.timers.advance(500);
    expect(s.sockets.map((socket) => socket.url)).toEqual(['ws://a.test/ws/live-dubbing', 'ws://b.test/ws/live-dubbing']);
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', channel_id: 'news-il', target_lang: 'en' }]);
  });

  it('resumes at once after a lost connection (1006) with the latest token, dropping audio meanwhile', async () => {
    const s = await live();
    s.last().serverClose(1006);
    expect(s.client.state).toBe('resuming');
    expect(s.sockets).toHaveLength(2);
    expect(s.client.sendAudio(new Uint8Array(3200))).toBe(false);
    expect(s.client.flush()).toBe(false);
    await expect(s.client.ping()).rejects.toMatchObject({ code: 'not_live' });
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', resume_token: 'rt-1' }]);
    expect(s.last().sent).toHaveLength(1);
    s.last().receive(ready({ resumed: true, resume_token: 'rt-2' }));
    expect(s.client.state).toBe('live');
    expect(s.client.resumeToken).toBe('rt-2');
    expect(s.client.droppedAudioFrames).toBe(1);
    expect(s.client.sendAudio(new Uint8Array(3200))).toBe(true);
    expect(s.states).toEqual(['connecting', 'authenticating', 'live', 'resuming', 'live']);
  });

  it('backs off between failed resumes: at once, 0.5 s, 1 s, 2 s, 4 s, 5 s, 5 s', async () => {
    const s = await live({ resumeWindowMs: 60_000 });
    const lostAt = s.timers.now();
    s.last().serverClose(1006);
    for (let i = 0; i < 6; i++) {
      // The instance is unreachable: the socket never opens.
      s.last().serverClose(1006);
      s.timers.advance(s.timers.pending[0]);
    }
    expect(s.sockets.slice(1).map((socket) => socket.createdAt - lostAt)).toEqual([0, 500, 1500, 3500, 7500, 12_500, 17_500]);
  });

  it('stops resuming once the window is over: ended, open_new', async () => {
    const s = await live({ resumeWindowMs: 10_000 });
    s.last().serverClose(1006);
    for (let i = 0; i < 10; i++) {
      s.last().serverClose(1006);
      s.timers.advance(s.timers.pending[0] ?? 0);
    }
    // At 0, 0.5, 1.5, 3.5 and 7.5 s; the next, at 12.5 s, would be past the window.
    expect(s.sockets).toHaveLength(6);
    expect(s.client.state).toBe('ended');
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'window_over', action: 'open_new', sessionId: 'session-1' })]);
  });

  it('resumes after reconnect and 1012 on the next instance, with the reconnect token, within resume_within_ms', async () => {
    const s = await live({ url: ['http://a.test', 'http://b.test'] });
    const reconnects: unknown[] = [];
    s.client.on('reconnect', (message) => reconnects.push(message));
    s.last().receive({ type: 'reconnect', resume_token: 'rt-shutdown', resume_within_ms: 4000 });
    s.last().serverClose(1012, 'Server restarting: reconnect');
    expect(reconnects).toHaveLength(1);
    expect(s.last().url).toBe('ws://b.test/ws/live-dubbing');
    // b refuses to answer in time: attempts at 0, 0.5, 1.5 s; 3.5 s is within 4 s; 7.5 s is not.
    for (let i = 0; i < 5; i++) {
      s.last().serverClose(1006);
      s.timers.advance(s.timers.pending[0] ?? 0);
    }
    expect(s.sockets.slice(1).map((socket) => socket.url)).toEqual([
      'ws://b.test/ws/live-dubbing',
      'ws://a.test/ws/live-dubbing',
      'ws://b.test/ws/live-dubbing',
      'ws://a.test/ws/live-dubbing',
    ]);
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'window_over', action: 'open_new' })]);
  });

  it('resumes after 4503 with the error’s token, and keeps trying while the database is away (1013 moves the window on)', async () => {
    const s = await live();
    s.last().receive({ type: 'error', code: 'service_unavailable', message: 'x', resume_token: 'rt-db', resume_within_ms: 2000 });
    s.last().serverClose(4503, 'Service unavailable');
    expect(s.client.resumeToken).toBe('rt-db');
    // 20 s of refusals: past the 2 s window, but each 1013 says the window has not started.
    const started = s.timers.now();
    while (s.timers.now() - started < 20_000) {
      s.last().accept();
      await s.flush();
      expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', resume_token: 'rt-db' }]);
      s.last().receive({ type: 'error', code: 'service_unavailable', message: 'x' });
      s.last().serverClose(1013);
      expect(s.client.state).toBe('resuming');
      s.timers.advance(s.timers.pending[0]);
    }
    s.last().accept();
    await s.flush();
    s.last().receive(ready({ resumed: true, resume_token: 'rt-3' }));
    expect(s.client.state).toBe('live');
  });

  it('resumes with the new token of a 1013 error that carries one (a resume suspended again)', async () => {
    const s = await live();
    s.last().serverClose(1006);
    s.last().accept();
    await s.flush();
    s.last().receive({ type: 'error', code: 'service_unavailable', message: 'x', resume_token: 'rt-again', resume_within_ms: 20_000 });
    s.last().serverClose(1013);
    s.timers.advance(500);
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', resume_token: 'rt-again' }]);
  });

  it('asks the token function for every auth and rotates resume tokens across resumes', async () => {
    let issued = 0;
    const s = await live({ token: async () => `jwt-${++issued}` });
    expect(s.sockets[0].messages[0].token).toBe('jwt-1');
    for (const [n, token] of [
      [2, 'rt-1'],
      [3, 'rt-2'],
    ] as const) {
      s.last().serverClose(1006);
      s.last().accept();
      await s.flush();
      expect(s.last().messages).toEqual([{ type: 'auth', token: `jwt-${n}`, resume_token: token }]);
      s.last().receive(ready({ resumed: true, resume_token: `rt-${n}` }));
    }
    expect(s.client.resumeToken).toBe('rt-3');
  });

  it('4409: ended with the stop action, no resume; a pending stop rejects', async () => {
    const s = await live();
    const stopped = s.client.stop();
    s.last().receive({ type: 'error', code: 'session_moved', message: 'This connection no longer holds the session' });
    s.last().serverClose(4409);
    await expect(stopped).rejects.toMatchObject({ code: 'session_moved', closeCode: 4409, action: 'stop' });
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'error', action: 'stop' })]);
    s.timers.advance(60_000);
    expect(s.sockets).toHaveLength(1);
  });

  it('4410 on a resume: ended with the open_new action', async () => {
    const s = await live();
    s.last().serverClose(1006);
    s.last().accept();
    await s.flush();
    s.last().receive({ type: 'error', code: 'resume_failed', message: 'This session cannot be resumed; open a new session' });
    s.last().serverClose(4410);
    expect(s.ended).toEqual([
      expect.objectContaining({ reason: 'error', action: 'open_new', error: expect.objectContaining({ code: 'resume_failed' }) }),
    ]);
    s.timers.advance(60_000);
    expect(s.sockets).toHaveLength(2);
  });

  it('4410 with openNewOnResumeFailed: opens a new session on the same channel by itself', async () => {
    const s = await live({ openNewOnResumeFailed: true });
    s.last().serverClose(1006);
    s.last().serverClose(4410);
    expect(s.client.state).toBe('connecting');
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', channel_id: 'news-il', target_lang: 'en' }]);
    s.last().receive(ready({ session_id: 'session-2', resume_token: 'rt-new' }));
    expect(s.client.state).toBe('live');
    expect(s.client.sessionId).toBe('session-2');
    expect(s.ended).toEqual([]);
  });

  it('resume(token) rejects with resume_failed on 4410', async () => {
    const s = setup();
    const resumed = s.client.resume('stale');
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', resume_token: 'stale' }]);
    s.last().receive({ type: 'error', code: 'resume_failed', message: 'x' });
    s.last().serverClose(4410);
    await expect(resumed).rejects.toMatchObject({ code: 'resume_failed', closeCode: 4410, action: 'open_new' });
  });

  it('a stop asked while resuming is sent once the session is live again', async () => {
    const s = await live();
    s.last().serverClose(1006);
    const stopped = s.client.stop();
    s.last().accept();
    await s.flush();
    s.last().receive(ready({ resumed: true, resume_token: 'rt-2' }));
    expect(s.last().messages.at(-1)).toEqual({ type: 'stop' });
    s.last().receive({
      type: 'session_ended',
      reason: 'user_stopped',
      duration_ms: 1000,
      charged_credits: 1,
      remaining_credits: 9,
      quota_used_seconds: 1,
    });
    await expect(stopped).resolves.toMatchObject({ reason: 'user_stopped' });
  });

  it('does not resume with autoResume off', async () => {
    const s = await live({ autoResume: false });
    s.last().serverClose(1006);
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'closed', action: 'ended' })]);
    expect(s.sockets).toHaveLength(1);
  });

  it('close() closes the socket (the session ends on the server) and cancels a scheduled resume', async () => {
    const s = await live();
    s.last().serverClose(1006);
    s.last().serverClose(1006);
    expect(s.timers.pending).toEqual([500]);
    s.client.close();
    expect(s.timers.pending).toEqual([]);
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'client_closed' })]);
    const t = await live();
    t.client.close();
    expect(t.sockets[0].closedByClient).toEqual({ code: 1000, reason: 'Client closed' });
  });

  it('pings a quiet connection and resumes on a new one when no pong comes, closing the silent one only once live again', async () => {
    const s = await live({ pingIntervalMs: 1000, pongTimeoutMs: 500 });
    const first = s.last();
    s.timers.advance(600);
    first.receive({ type: 'credits', remaining_credits: 1, session_charged: 1 });
    // Heard from 600 ms in: quiet for 1 s at 1.6 s.
    s.timers.advance(999);
    expect(first.messages.at(-1)).toEqual({ type: 'auth', token: 'jwt', channel_id: 'news-il', target_lang: 'en' });
    s.timers.advance(1);
    expect(first.messages.at(-1)).toEqual({ type: 'ping' });
    first.receive({ type: 'pong' });
    s.timers.advance(1000);
    expect(first.messages.filter((m) => m.type === 'ping')).toHaveLength(2);
    s.timers.advance(499);
    expect(s.sockets).toHaveLength(1);
    s.timers.advance(1);
    // No pong within 500 ms: the session is resumed on a new connection; the silent one is not closed (that would end it).
    expect(s.sockets).toHaveLength(2);
    expect(s.client.state).toBe('resuming');
    expect(first.closedByClient).toBeUndefined();
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt', resume_token: 'rt-1' }]);
    s.last().receive(ready({ resumed: true, resume_token: 'rt-2' }));
    expect(first.closedByClient).toEqual({ code: 1000, reason: 'Replaced by a resumed connection' });
    // What the silent connection reports later changes nothing.
    first.serverClose(4409);
    expect(s.client.state).toBe('live');
  });

  it('tries a resume refused 4001 once more with a token asked anew', async () => {
    let issued = 0;
    const s = await live({ token: () => `jwt-${++issued}` });
    s.last().serverClose(1006);
    s.last().accept();
    await s.flush();
    s.last().receive({ type: 'error', code: 'unauthorized', message: 'Invalid token' });
    s.last().serverClose(4001);
    s.timers.advance(500);
    s.last().accept();
    await s.flush();
    expect(s.last().messages).toEqual([{ type: 'auth', token: 'jwt-3', resume_token: 'rt-1' }]);
    s.last().serverClose(4001);
    expect(s.ended).toEqual([expect.objectContaining({ reason: 'closed', action: 'ended', close: { code: 4001, reason: '' } })]);
  });

  it('ignores what an abandoned connection reports', async () => {
    const s = await live();
    const first = s.last();
    s.client.close();
    first.receive({ type: 'transcript' });
    first.serverClose(1006);
    expect(s.sockets).toHaveLength(1);
  });
});

import { CloseCode, closeActionOf, type CloseAction } from '../protocol/close-codes.js';
import type {
  AuthOpenMessage,
  AuthResumeMessage,
  CreditWarningMessage,
  CreditsMessage,
  ErrorMessage,
  IdleWarningMessage,
  PongMessage,
  ReadyMessage,
  ReconnectMessage,
  ServerMessage,
  SessionEndedMessage,
  TranscriptMessage,
  TranslationMessage,
} from '../protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { LiveDubbingConnection, type CloseInfo, type ConnectionStats } from './connection.js';
import { Emitter } from './emitter.js';
import { defaultWebSocket, resolveToken, systemTimers, type Timers, type TokenSource, type WebSocketConstructor } from './environment.js';
import { LiveDubbingError } from './errors.js';

/** The gateways' paths (docs/protocol.md, "Endpoints"). */
export const LIVE_DUBBING_PATH = '/ws/live-dubbing';
export const LIVE_SUBTITLES_PATH = '/ws/live-subtitles';

/**
 * - `idle`: nothing opened yet;
 * - `connecting`: opening a session: the socket is connecting (again, after a 1013 refusal);
 * - `authenticating`: opening a session: `auth` sent, waiting for `ready`;
 * - `live`: `ready` came; audio is sent;
 * - `resuming`: the connection was lost or the instance restarts: resuming the session on a new connection
 *   (docs/protocol.md, "Resuming a session"); audio is dropped meanwhile;
 * - `ended`: the session ended, or could not be opened or resumed (the `ended` event says why).
 */
export type ClientState = 'idle' | 'connecting' | 'authenticating' | 'live' | 'resuming' | 'ended';

/** What an opening asks for (docs/protocol.md, "Opening a session"). */
export interface OpenRequest {
  channel_id: string;
  target_lang: string;
  source_lang?: string;
}

/** Where the next connection goes: the previous one's URL and close, so that a provider can move instances. */
export interface UrlContext {
  kind: 'open' | 'resume';
  /** 0 for the first connection of an opening or a resume, then 1, 2, … */
  attempt: number;
  previousUrl?: string;
  previousClose?: CloseInfo;
}

/**
 * A gateway URL, several (each new connection after the first goes to the next one, round robin, so that a resume
 * after a restart or a lost instance lands on another), or a function choosing one for each connection. A URL
 * `ws(s)://` or `http(s)://` (turned into `ws(s)://`); without a path, the client's `path` is appended.
 */
export type UrlSource = string | readonly string[] | ((context: UrlContext) => string);

export interface LiveDubbingClientOptions {
  url: UrlSource;
  /** Appended to a URL without a path: `/ws/live-dubbing` (`LiveSubtitlesClient`: `/ws/live-subtitles`). */
  path?: string;
  /** An access token, or a function returning one (called for every `auth`, so a refreshed token serves a resume). */
  token: TokenSource;
  /** Default: `globalThis.WebSocket`. In Node 20, pass the `ws` package's `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Default: the global `setTimeout`, `clearTimeout` and `Date.now`. */
  timers?: Timers;
  /** A number in [0, 1) for the backoff's jitter. Default `Math.random`. */
  random?: () => number;
  backoff?: BackoffOptions;
  /** Resume a suspended session and retry refused (1013) openings by itself. Default true. */
  autoResume?: boolean;
  /**
   * How long to keep resuming after a connection lost without a close frame (1006), when the server's window is not
   * known: the server counts `WS_RESUME_WINDOW_MS` from when it notices the loss, which may be tens of seconds later.
   * Default 60 000 ms. After `reconnect` or 4503, the message's `resume_within_ms` is the window.
   */
  resumeWindowMs?: number;
  /**
   * Send `ping` when nothing was heard from the server for this long, and take the connection for dead when nothing
   * (a `pong` or any frame) comes `pongTimeoutMs` after it: the session is then resumed on a new connection, the old
   * one left open until `ready` (a close frame would end the session; docs/protocol.md, "When to resume"). For a
   * browser, which cannot see the server's WebSocket pings. Default 0: off.
   */
  pingIntervalMs?: number;
  /** Default 5 000 ms. */
  pongTimeoutMs?: number;
  /** How long an opening refused 1013 (or cut off before `ready`) is tried again. Default 30 000 ms; 0: not at all. */
  retryWindowMs?: number;
  /**
   * After 4410 (the session cannot be resumed), open a new session on the same channel and languages by itself: a
   * `ready` without `resumed` and with a new `session_id` follows. Default false: the client ends, with the `open_new`
   * action for the page to decide.
   */
  openNewOnResumeFailed?: boolean;
}

export interface RetryEvent {
  kind: 'open' | 'resume';
  attempt: number;
  delayMs: number;
  /** The close that led to this attempt. */
  close?: CloseInfo;
}

/** The session's end: the last event. */
export interface EndedEvent {
  /**
   * - `session_ended`: the session ended normally (`stop`, `idle_timeout`): `sessionEnded` holds the usage summary;
   * - `error`: the server sent an `error` and closed (a refusal, or an error that ended the session);
   * - `closed`: the socket closed without a message and nothing can be resumed (1007, 1008, 1009, …);
   * - `window_over`: the resumes (or an opening's retries) ran out of time;
   * - `client_closed`: `close()` was called.
   */
  reason: 'session_ended' | 'error' | 'closed' | 'window_over' | 'client_closed';
  /** What a client does now (docs/protocol.md, "Close codes"): `ended`, `stop` (4409) or `open_new` (4410). */
  action: CloseAction;
  sessionId?: string;
  sessionEnded?: SessionEndedMessage;
  error?: ErrorMessage;
  close?: CloseInfo;
}

export interface LiveDubbingEvents {
  state: ClientState;
  /** Each `ready`: the opening's, then one per resume (`resumed: true`). */
  ready: ReadyMessage;
  transcript: TranscriptMessage;
  translation: TranslationMessage;
  /** Dubbed audio (`/ws/live-dubbing`): PCM s16le, mono, 16 kHz, one segment per frame. */
  audio: ArrayBuffer;
  credits: CreditsMessage;
  credit_warning: CreditWarningMessage;
  idle_warning: IdleWarningMessage;
  pong: PongMessage;
  /** The instance is shutting down; the client resumes elsewhere by itself. */
  reconnect: ReconnectMessage;
  /** Every `error` message, those the client recovers from (1013, 4503) included. */
  error: ErrorMessage;
  session_ended: SessionEndedMessage;
  /** Every text message, before its own event. */
  message: ServerMessage;
  /** A new connection is about to be made after a close (a retry or a resume). */
  retry: RetryEvent;
  ended: EndedEvent;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that does not await it (a fire-and-forget stop) must not get an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** One connection of the session: what it saw decides what comes after its close. */
interface Attempt {
  kind: 'open' | 'resume';
  connection?: LiveDubbingConnection;
  live: boolean;
  reconnect?: ReconnectMessage;
  error?: ErrorMessage;
  sessionEnded?: SessionEndedMessage;
}

/** An opening or a resume in progress, over as many connections as its window allows. */
interface Recovery {
  kind: 'open' | 'resume';
  attempt: number;
  deadline: number;
  windowMs: number;
  /** A suspension for the database (4503): its window starts once the database is back, so a 1013 moves it on. */
  extendOnRefusal: boolean;
  /** A resume refused 4001 was tried again with a token asked anew. */
  tokenRefreshed?: boolean;
}

/** `ws://host:port/path` from a base or full URL. */
export function gatewayUrl(url: string, path: string): string {
  const ws = url.replace(/^http(s?):\/\//, 'ws$1://');
  const match = /^wss?:\/\/[^/?#]+(\/[^?#]*)?/.exec(ws);
  if (match === null) {
    throw new TypeError(`Not a WebSocket or HTTP URL: ${url}`);
  }
  const hasPath = match[1] !== undefined && match[1] !== '/';
  return hasPath ? ws : match[0].replace(/\/$/, '') + path + ws.slice(match[0].length);
}

/**
 * A live session on `/ws/live-dubbing` (or `/ws/live-subtitles`, with `path` or `LiveSubtitlesClient`), across as
 * many connections as it takes (docs/protocol.md, "Client library"): `open()` resolves with `ready`; audio goes out
 * with `sendAudio()` while the session is live; `stop()` resolves with `session_ended` and its usage summary.
 *
 * What the client does after each close is docs/protocol.md's "Close codes" and "When to resume":
 * - 1006 (lost, no close frame), 1012 after `reconnect`, 4503: resume with the latest `resume_token`, at once, then
 *   with backoff and jitter, until the window is over (`resume_within_ms`, or `resumeWindowMs` after a 1006);
 * - 1013, or 1012 without `reconnect`, on an opening or a resume: the same step again, with backoff; a 1013 whose
 *   error carries a `resume_token` suspended the session again: resume with that token;
 * - 4409: ended, action `stop` (the session moved to another connection; its token is spent);
 * - 4410: ended, action `open_new` (or a new session is opened, with `openNewOnResumeFailed`);
 * - every other code: ended, no retry.
 *
 * While resuming, `sendAudio()` drops the audio and returns false: nothing is buffered (the server does not want
 * audio from before `ready` anyway, docs/protocol.md, "The resume").
 */
export class LiveDubbingClient {
  private readonly events = new Emitter<LiveDubbingEvents>();
  private readonly WebSocket: WebSocketConstructor;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly path: string;
  private currentState: ClientState = 'idle';
  private request?: OpenRequest;
  private current?: Attempt;
  private recovery?: Recovery;
  private timer?: unknown;
  private pingTimer?: unknown;
  private pongTimer?: unknown;
  private lastHeardAt = 0;
  /** Connections given up for dead but not closed: a close frame would end the session. Closed once it is live again. */
  private abandoned: LiveDubbingConnection[] = [];
  private pendingOpen?: Deferred<ReadyMessage>;
  private pendingStop?: Deferred<SessionEndedMessage>;
  private stopRequested = false;
  private pendingPongs: Deferred<PongMessage>[] = [];
  private urlIndex = -1;
  private lastUrl?: string;
  private lastClose?: CloseInfo;
  private token?: string;
  private id?: string;
  private totals: ConnectionStats = { messagesReceived: 0, bytesReceived: 0 };
  /** Audio frames `sendAudio()` dropped because the session was not live (resuming, or ended). */
  droppedAudioFrames = 0;

  constructor(private readonly options: LiveDubbingClientOptions) {
    this.WebSocket = options.WebSocket ?? defaultWebSocket();
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? Math.random;
    this.path = options.path ?? LIVE_DUBBING_PATH;
  }

  get state(): ClientState {
    return this.currentState;
  }

  /** The latest resume token: from `ready`, `reconnect`, or an error that carried one. */
  get resumeToken(): string | undefined {
    return this.token;
  }

  get sessionId(): string | undefined {
    return this.id;
  }

  /** The connection in use, if any (tests reach its socket to cut the network). */
  get connection(): LiveDubbingConnection | undefined {
    return this.current?.connection;
  }

  /** What all the session's connections received. */
  get stats(): ConnectionStats {
    const now = this.current?.connection?.stats;
    return {
      messagesReceived: this.totals.messagesReceived + (now?.messagesReceived ?? 0),
      bytesReceived: this.totals.bytesReceived + (now?.bytesReceived ?? 0),
    };
  }

  on<K extends keyof LiveDubbingEvents>(type: K, handler: (event: LiveDubbingEvents[K]) => void): () => void {
    return this.events.on(type, handler);
  }

  /** Opens a session; resolves with `ready`, rejects with a `LiveDubbingError` (the refusal's code and close code). */
  open(request: OpenRequest): Promise<ReadyMessage> {
    if (this.currentState !== 'idle' && this.currentState !== 'ended') {
      return Promise.reject(new LiveDubbingError('busy', `A session is ${this.currentState}`));
    }
    this.reset();
    this.request = { ...request };
    return this.begin('open', this.options.retryWindowMs ?? 30_000);
  }

  /**
   * Resumes a session whose resume token was kept (a page reloaded, say); resolves with `ready` (`resumed: true`).
   * With `request`, `openNewOnResumeFailed` can open a new session on a 4410.
   */
  resume(resumeToken: string, request?: OpenRequest): Promise<ReadyMessage> {
    if (this.currentState !== 'idle' && this.currentState !== 'ended') {
      return Promise.reject(new LiveDubbingError('busy', `A session is ${this.currentState}`));
    }
    this.reset();
    this.request = request === undefined ? undefined : { ...request };
    this.token = resumeToken;
    return this.begin('resume', this.options.resumeWindowMs ?? 60_000);
  }

  /**
   * Sends audio (PCM s16le, mono, 16 kHz; 100-ms frames of 3 200 bytes are typical) when the session is live. Returns
   * false, dropping the frame, otherwise: while resuming audio is not buffered.
   */
  sendAudio(pcm: ArrayBuffer | ArrayBufferView): boolean {
    const connection = this.liveConnection();
    if (connection === undefined) {
      this.droppedAudioFrames++;
      return false;
    }
    connection.sendAudio(pcm);
    return true;
  }

  /** Ends the speech segment in progress now (docs/protocol.md, "Messages"); false when not live. */
  flush(): boolean {
    const connection = this.liveConnection();
    connection?.send({ type: 'flush' });
    return connection !== undefined;
  }

  /** Sends `ping`; resolves with the next `pong`, rejects if the connection closes first or the session is not live. */
  ping(): Promise<PongMessage> {
    const connection = this.liveConnection();
    if (connection === undefined) {
      return Promise.reject(new LiveDubbingError('not_live', `The session is ${this.currentState}`));
    }
    const pong = deferred<PongMessage>();
    this.pendingPongs.push(pong);
    connection.send({ type: 'ping' });
    return pong.promise;
  }

  /**
   * Ends the session; resolves with `session_ended` (its usage summary: duration, credits charged, balance, quota
   * seconds). While the session is opening or resuming, the stop is sent once it is live again. Rejects when the
   * session ends otherwise (an error, 4410, the window over).
   */
  stop(): Promise<SessionEndedMessage> {
    if (this.pendingStop !== undefined) {
      return this.pendingStop.promise;
    }
    if (this.currentState === 'idle' || this.currentState === 'ended') {
      return Promise.reject(new LiveDubbingError('not_live', `The session is ${this.currentState}`));
    }
    this.pendingStop = deferred();
    this.stopRequested = true;
    this.liveConnection()?.send({ type: 'stop' });
    return this.pendingStop.promise;
  }

  /**
   * Closes the connection at once, without `stop`: the server ends the session `disconnected`, charged up to the close
   * (docs/protocol.md, "How a session ends"). Stops any resume or retry.
   */
  close(): void {
    if (this.currentState === 'idle' || this.currentState === 'ended') {
      return;
    }
    const attempt = this.current;
    this.current = undefined;
    if (attempt?.connection !== undefined) {
      this.forget(attempt.connection);
      attempt.connection.close(1000, 'Client closed');
    }
    this.end({ reason: 'client_closed', action: 'ended' });
  }

  private reset(): void {
    this.token = undefined;
    this.id = undefined;
    this.stopRequested = false;
    this.pendingStop = undefined;
    this.lastClose = undefined;
  }

  private begin(kind: 'open' | 'resume', windowMs: number): Promise<ReadyMessage> {
    this.pendingOpen = deferred();
    const promise = this.pendingOpen.promise;
    this.recovery = { kind, attempt: 0, deadline: this.timers.now() + windowMs, windowMs, extendOnRefusal: false };
    this.connect();
    return promise;
  }

  private liveConnection(): LiveDubbingConnection | undefined {
    const connection = this.current?.connection;
    return this.currentState === 'live' && connection?.isOpen ? connection : undefined;
  }

  private setState(state: ClientState): void {
    if (state !== this.currentState) {
      this.currentState = state;
      this.events.emit('state', state);
    }
  }

  private nextUrl(recovery: Recovery): string {
    const source = this.options.url;
    let url: string;
    if (typeof source === 'function') {
      url = source({ kind: recovery.kind, attempt: recovery.attempt, previousUrl: this.lastUrl, previousClose: this.lastClose });
    } else if (typeof source === 'string') {
      url = source;
    } else {
      if (source.length === 0) {
        throw new TypeError('No gateway URL');
      }
      this.urlIndex = (this.urlIndex + 1) % source.length;
      url = source[this.urlIndex];
    }
    return gatewayUrl(url, this.path);
  }

  private connect(): void {
    const recovery = this.recovery!;
    this.setState(recovery.kind === 'open' ? 'connecting' : 'resuming');
    const attempt: Attempt = { kind: recovery.kind, live: false };
    this.current = attempt;
    try {
      const url = this.nextUrl(recovery);
      this.lastUrl = url;
      attempt.connection = new LiveDubbingConnection(url, this.WebSocket, {
        open: () => void this.authenticate(attempt),
        message: (message) => this.receive(attempt, message),
        audio: (pcm) => {
          if (attempt === this.current) {
            this.lastHeardAt = this.timers.now();
            this.events.emit('audio', pcm);
          }
        },
        close: (info) => this.closed(attempt, info),
      });
    } catch (error) {
      this.current = undefined;
      this.end({ reason: 'error', action: 'ended' }, new LiveDubbingError('connection_closed', String(error), { cause: error }));
    }
  }

  private async authenticate(attempt: Attempt): Promise<void> {
    if (attempt.kind === 'open' && attempt === this.current) {
      this.setState('authenticating');
    }
    let token: string;
    try {
      token = await resolveToken(this.options.token);
    } catch (error) {
      if (attempt === this.current) {
        this.current = undefined;
        this.forget(attempt.connection!);
        attempt.connection!.close(1000, 'No token');
        this.end(
          { reason: 'error', action: 'ended' },
          new LiveDubbingError('token_unavailable', 'The token function failed', { cause: error }),
        );
      }
      return;
    }
    const connection = attempt.connection!;
    if (attempt !== this.current || !connection.isOpen) {
      return;
    }
    if (attempt.kind === 'open') {
      const { channel_id, target_lang, source_lang } = this.request!;
      const auth: AuthOpenMessage = { type: 'auth', token, channel_id, target_lang };
      if (source_lang !== undefined) {
        auth.source_lang = source_lang;
      }
      connection.send(auth);
    } else {
      const auth: AuthResumeMessage = { type: 'auth', token, resume_token: this.token! };
      connection.send(auth);
    }
  }

  private receive(attempt: Attempt, message: ServerMessage): void {
    if (attempt !== this.current) {
      return;
    }
    this.lastHeardAt = this.timers.now();
    this.events.emit('message', message);
    switch (message.type) {
      case 'ready':
        attempt.live = true;
        this.token = message.resume_token;
        this.id = message.session_id;
        this.recovery = undefined;
        this.setState('live');
        this.events.emit('ready', message);
        this.pendingOpen?.resolve(message);
        this.pendingOpen = undefined;
        this.closeAbandoned();
        this.startPings(attempt);
        if (this.stopRequested) {
          attempt.connection!.send({ type: 'stop' });
        }
        return;
      case 'reconnect':
        attempt.reconnect = message;
        this.token = message.resume_token;
        this.events.emit('reconnect', message);
        return;
      case 'error':
        attempt.error = message;
        if (message.resume_token !== undefined) {
          this.token = message.resume_token;
        }
        this.events.emit('error', message);
        return;
      case 'session_ended':
        attempt.sessionEnded = message;
        this.events.emit('session_ended', message);
        this.pendingStop?.resolve(message);
        return;
      case 'pong':
        this.pendingPongs.shift()?.resolve(message);
        this.events.emit('pong', message);
        return;
      case 'transcript':
        this.events.emit('transcript', message);
        return;
      case 'translation':
        this.events.emit('translation', message);
        return;
      case 'credits':
        this.events.emit('credits', message);
        return;
      case 'credit_warning':
        this.events.emit('credit_warning', message);
        return;
      case 'idle_warning':
        this.events.emit('idle_warning', message);
        return;
    }
  }

  /** What to do after a close: docs/protocol.md, "Close codes" and "When to resume". */
  private closed(attempt: Attempt, close: CloseInfo): void {
    if (attempt !== this.current) {
      return;
    }
    this.current = undefined;
    this.stopPings();
    this.lastClose = close;
    this.addStats(attempt.connection!);
    for (const pong of this.pendingPongs.splice(0)) {
      pong.reject(new LiveDubbingError('connection_closed', 'The connection closed before the pong', { closeCode: close.code }));
    }
    const ended = (reason: EndedEvent['reason'], action: CloseAction) =>
      this.end({ reason, action, close, error: attempt.error, sessionEnded: attempt.sessionEnded });
    if (attempt.sessionEnded !== undefined) {
      return ended('session_ended', 'ended');
    }
    const action = closeActionOf(close.code);
    const fallback = attempt.error !== undefined ? 'error' : 'closed';
    if (this.options.autoResume === false) {
      return ended(fallback, action === 'resume' || action === 'retry' ? 'ended' : action);
    }
    const resumeWindow = this.options.resumeWindowMs ?? 60_000;
    switch (close.code) {
      case CloseCode.Abnormal:
        return attempt.live ? this.startResume(resumeWindow, false, close) : this.retry(close);
      case CloseCode.ServiceRestart:
        if (attempt.reconnect !== undefined) {
          return this.startResume(attempt.reconnect.resume_within_ms, false, close);
        }
        // Without `reconnect` no session was live on this socket: the same `auth` again (a live one: resume anyway).
        return attempt.live ? this.startResume(resumeWindow, false, close) : this.retry(close);
      case CloseCode.TryAgainLater:
        if (attempt.error?.resume_token !== undefined) {
          // A resume that had taken the session was suspended again: the error's token replaces the old one.
          return this.startResume(attempt.error.resume_within_ms ?? resumeWindow, true, close);
        }
        return this.retry(close);
      case CloseCode.SuspendedUnavailable:
        return this.startResume(attempt.error?.resume_within_ms ?? resumeWindow, true, close);
      case CloseCode.Unauthorized:
        // A resume refused 4001 changed nothing: with a token function, once more with a token asked anew.
        if (attempt.kind === 'resume' && typeof this.options.token === 'function' && this.recovery && !this.recovery.tokenRefreshed) {
          this.recovery.tokenRefreshed = true;
          return this.retry(close);
        }
        return ended(fallback, action);
      case CloseCode.ResumeFailed:
        if (this.options.openNewOnResumeFailed && this.request !== undefined && !this.stopRequested) {
          this.token = undefined;
          this.id = undefined;
          this.recovery = {
            kind: 'open',
            attempt: 0,
            deadline: this.timers.now() + (this.options.retryWindowMs ?? 30_000),
            windowMs: 0,
            extendOnRefusal: false,
          };
          this.pendingOpen ??= deferred();
          return this.schedule(0, close);
        }
        return ended(fallback, 'open_new');
      default:
        return ended(fallback, action === 'resume' || action === 'retry' ? 'ended' : action);
    }
  }

  /** The session was suspended: resume it, at once, then with backoff until `windowMs` from now is over. */
  private startResume(windowMs: number, extendOnRefusal: boolean, close: CloseInfo): void {
    const deadline = this.timers.now() + windowMs;
    if (this.recovery?.kind === 'resume') {
      // A resume attempt found the session suspended again: a new window, the backoff going on.
      this.recovery.deadline = Math.max(this.recovery.deadline, deadline);
      this.recovery.windowMs = windowMs;
      this.recovery.extendOnRefusal = extendOnRefusal;
      return this.retry(close);
    }
    this.recovery = { kind: 'resume', attempt: 0, deadline, windowMs, extendOnRefusal };
    this.setState('resuming');
    this.schedule(0, close);
  }

  /** The same step (opening or resume) again after a backoff, if its window allows. */
  private retry(close: CloseInfo): void {
    const recovery = this.recovery;
    const now = this.timers.now();
    if (recovery === undefined) {
      return this.end({ reason: 'closed', action: 'ended', close });
    }
    recovery.attempt++;
    const delayMs = backoffDelay(recovery.attempt, this.random, this.options.backoff);
    if (recovery.extendOnRefusal && close.code === CloseCode.TryAgainLater) {
      // While the database is away a resume is refused 1013, and the session's window starts only once it is back
      // (docs/protocol.md, "When the database is unreachable"): not before now, so the next attempt is within it.
      recovery.deadline = Math.max(recovery.deadline, now + Math.max(recovery.windowMs, delayMs));
    }
    if (now + delayMs > recovery.deadline) {
      // A session not resumed in its window is gone: a new one is what is left to open.
      return this.end({ reason: 'window_over', action: recovery.kind === 'resume' ? 'open_new' : 'ended', close });
    }
    this.schedule(delayMs, close);
  }

  private schedule(delayMs: number, close: CloseInfo): void {
    const recovery = this.recovery!;
    this.setState(recovery.kind === 'open' ? 'connecting' : 'resuming');
    this.events.emit('retry', { kind: recovery.kind, attempt: recovery.attempt, delayMs, close });
    if (delayMs === 0) {
      this.connect();
      return;
    }
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.recovery === recovery) {
        this.connect();
      }
    }, delayMs);
  }

  private end(event: Omit<EndedEvent, 'sessionId'>, failure?: LiveDubbingError): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.stopPings();
    this.closeAbandoned();
    this.recovery = undefined;
    const ended: EndedEvent = { ...event, sessionId: this.id };
    const error = failure ?? errorOf(ended);
    this.setState('ended');
    this.pendingOpen?.reject(error);
    this.pendingOpen = undefined;
    if (ended.sessionEnded !== undefined) {
      this.pendingStop?.resolve(ended.sessionEnded);
    } else {
      this.pendingStop?.reject(error);
    }
    for (const pong of this.pendingPongs.splice(0)) {
      pong.reject(error);
    }
    this.events.emit('ended', ended);
  }

  /** Pings a live connection that went quiet; one that stays silent is taken for lost (as a 1006) and the session resumed. */
  private startPings(attempt: Attempt): void {
    const intervalMs = this.options.pingIntervalMs ?? 0;
    if (intervalMs <= 0) {
      return;
    }
    const pongTimeoutMs = this.options.pongTimeoutMs ?? 5000;
    this.stopPings();
    this.lastHeardAt = this.timers.now();
    const tick = () => {
      this.pingTimer = undefined;
      if (attempt !== this.current || !attempt.live) {
        return;
      }
      const quietMs = this.timers.now() - this.lastHeardAt;
      if (quietMs >= intervalMs && this.pongTimer === undefined) {
        attempt.connection!.send({ type: 'ping' });
        const pingedAt = this.timers.now();
        this.pongTimer = this.timers.setTimeout(() => {
          this.pongTimer = undefined;
          if (attempt === this.current && this.lastHeardAt < pingedAt) {
            this.lost(attempt);
          }
        }, pongTimeoutMs);
      }
      this.pingTimer = this.timers.setTimeout(tick, Math.max(1, intervalMs - (quietMs >= intervalMs ? 0 : quietMs)));
    };
    this.pingTimer = this.timers.setTimeout(tick, intervalMs);
  }

  private stopPings(): void {
    for (const timer of [this.pingTimer, this.pongTimer]) {
      if (timer !== undefined) {
        this.timers.clearTimeout(timer);
      }
    }
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }

  /** A live connection went silent: resumed on a new one without closing it (a close frame would end the session). */
  private lost(attempt: Attempt): void {
    this.current = undefined;
    this.stopPings();
    const connection = attempt.connection!;
    this.forget(connection);
    this.abandoned.push(connection);
    const close = { code: CloseCode.Abnormal, reason: 'No pong' };
    this.lastClose = close;
    for (const pong of this.pendingPongs.splice(0)) {
      pong.reject(new LiveDubbingError('connection_closed', 'The connection went silent', { closeCode: close.code }));
    }
    if (this.options.autoResume === false) {
      connection.close(1000, 'No pong');
      this.abandoned.pop();
      return this.end({ reason: 'closed', action: 'ended', close });
    }
    this.startResume(this.options.resumeWindowMs ?? 60_000, false, close);
  }

  private closeAbandoned(): void {
    for (const connection of this.abandoned.splice(0)) {
      connection.close(1000, 'Replaced by a resumed connection');
    }
  }

  private forget(connection: LiveDubbingConnection): void {
    this.addStats(connection);
    connection.detach();
  }

  private addStats(connection: LiveDubbingConnection): void {
    this.totals.messagesReceived += connection.stats.messagesReceived;
    this.totals.bytesReceived += connection.stats.bytesReceived;
    connection.stats.messagesReceived = 0;
    connection.stats.bytesReceived = 0;
  }
}

function errorOf(ended: EndedEvent): LiveDubbingError {
  const details = { closeCode: ended.close?.code, closeReason: ended.close?.reason, error: ended.error, action: ended.action };
  if (ended.error !== undefined) {
    return new LiveDubbingError(ended.error.code, ended.error.message, details);
  }
  switch (ended.reason) {
    case 'window_over':
      return new LiveDubbingError('window_over', `Gave up after close ${ended.close?.code}: the window is over`, details);
    case 'client_closed':
      return new LiveDubbingError('client_closed', 'The client closed the session', details);
    default:
      return new LiveDubbingError(
        'connection_closed',
        `The connection closed: ${ended.close?.code} ${ended.close?.reason ?? ''}`.trim(),
        details,
      );
  }
}

/** The same client on `/ws/live-subtitles` (transcripts and translations, no dubbed audio). */
export class LiveSubtitlesClient extends LiveDubbingClient {
  constructor(options: LiveDubbingClientOptions) {
    super({ path: LIVE_SUBTITLES_PATH, ...options });
  }
}

/**
 * What differs between a browser and Node, injected into the client library so that it bundles for a browser and is
 * tested exactly: the WebSocket constructor, `fetch`, timers, the clock and the random source for jitter. Nothing in
 * src/client imports Node (`ws`, `Buffer`, `node:*`) or Nest.
 */

/** A handler type compared bivariantly, so that both the browser's and the `ws` package's handler types fit. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface SocketMessageEvent {
  /** A string for a text frame; an ArrayBuffer for a binary one (`binaryType = 'arraybuffer'`). */
  data: unknown;
}

export interface SocketCloseEvent {
  code: number;
  reason: string;
}

/**
 * The browser WebSocket API the library uses. The browser's `WebSocket` and the `ws` package's `WebSocket` (in Node)
 * both fit.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<SocketMessageEvent> | null;
  onclose: Handler<SocketCloseEvent> | null;
  onerror: Handler<unknown> | null;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN`: the same number in every implementation. */
export const SOCKET_OPEN = 1;

/** A `setTimeout`/`clearTimeout` pair and a clock; the browser's and Node's globals by default. */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const systemTimers: Timers = {
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/** The global WebSocket (browsers, Node ≥ 22), or an error saying to pass one (in Node 20: the `ws` package's). */
export function defaultWebSocket(): WebSocketConstructor {
  const found = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (found === undefined) {
    throw new TypeError('No global WebSocket: pass the `WebSocket` option (in Node, the `ws` package’s WebSocket)');
  }
  return found;
}

/** An access token, or a function returning one, called for every `auth` (so a refreshed token is used on a resume). */
export type TokenSource = string | (() => string | Promise<string>);

export async function resolveToken(token: TokenSource): Promise<string> {
  return typeof token === 'function' ? await token() : token;
}

import type { ClientMessage, ServerMessage } from '../protocol/index.js';
import { SOCKET_OPEN, type WebSocketConstructor, type WebSocketLike } from './environment.js';

/** How a socket closed. `code` 1006 means the connection was lost without a close frame (docs/protocol.md, "Close codes"). */
export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectionHandlers {
  /** The socket is open: time to send `auth`. */
  open?(): void;
  /** A text frame, parsed. It is not checked against the schemas: the server's messages are trusted to follow them. */
  message?(message: ServerMessage): void;
  /** A binary frame: dubbed audio (docs/protocol.md, "Audio"). */
  audio?(pcm: ArrayBuffer): void;
  /** A text frame that is not a JSON object with a string `type`; the server never sends one. */
  invalid?(text: string): void;
  /** The socket closed (once); `1006` when it was lost or could not connect. */
  close?(info: CloseInfo): void;
}

/** What a connection has received, for a load generator to count without looking at each frame. */
export interface ConnectionStats {
  messagesReceived: number;
  /** Text frames count their length in UTF-16 code units (bytes, for the server's ASCII JSON); binary frames their bytes. */
  bytesReceived: number;
}

/**
 * One WebSocket to a live gateway (docs/protocol.md, "Endpoints"), low level: typed messages out, parsed messages and
 * binary frames in, how it closed. No state machine, no retries: `LiveDubbingClient` builds those on it, and the tests
 * use it to drive the protocol step by step.
 */
export class LiveDubbingConnection {
  readonly socket: WebSocketLike;
  readonly stats: ConnectionStats = { messagesReceived: 0, bytesReceived: 0 };
  /** Set once the socket closed. */
  closed?: CloseInfo;
  private everOpened = false;

  constructor(
    readonly url: string,
    WebSocket: WebSocketConstructor,
    private readonly handlers: ConnectionHandlers = {},
  ) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = 'arraybuffer';
    this.socket.onopen = () => {
      this.everOpened = true;
      this.handlers.open?.();
    };
    this.socket.onmessage = (event) => this.receive(event.data);
    this.socket.onclose = (event) => this.finish({ code: event.code, reason: event.reason });
    // An error is always followed by a close.
    this.socket.onerror = () => undefined;
  }

  /**
   * Connects, resolving once the socket is open; rejects with the close info when it closes first (refused, no
   * server, closed at once with 1008 or 1012 on connect).
   */
  static connect(url: string, WebSocket: WebSocketConstructor, handlers: ConnectionHandlers = {}): Promise<LiveDubbingConnection> {
    return new Promise((resolve, reject) => {
      const connection = new LiveDubbingConnection(url, WebSocket, {
        ...handlers,
        open: () => {
          handlers.open?.();
          resolve(connection);
        },
        close: (info) => {
          handlers.close?.(info);
          reject(Object.assign(new Error(`WebSocket closed before it opened: ${info.code} ${info.reason}`), { close: info }));
        },
      });
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === SOCKET_OPEN;
  }

  /** Whether the socket ever opened (a close before it did is a failure to connect). */
  get opened(): boolean {
    return this.everOpened;
  }

  /** Sends one message of the protocol as a text frame. */
  send(message: ClientMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Sends a text frame as is (tests of what the server refuses). */
  sendText(text: string): void {
    this.socket.send(text);
  }

  /** Sends audio: PCM s16le, mono, 16 kHz (docs/protocol.md, "Audio"), as one binary frame. */
  sendAudio(pcm: ArrayBuffer | ArrayBufferView): void {
    this.socket.send(pcm);
  }

  /** Closes with a close frame: the server ends a live session `disconnected` (docs/protocol.md, "How a session ends"). */
  close(code?: number, reason?: string): void {
    if (code === undefined) {
      this.socket.close();
    } else {
      this.socket.close(code, reason);
    }
  }

  /** Forgets the socket's handlers, so that it reports nothing more (an abandoned connection). */
  detach(): void {
    this.socket.onopen = null;
    this.socket.onmessage = null;
    this.socket.onclose = null;
    this.socket.onerror = () => undefined;
  }

  private receive(data: unknown): void {
    this.stats.messagesReceived++;
    if (typeof data === 'string') {
      this.stats.bytesReceived += data.length;
      let message: unknown;
      try {
        message = JSON.parse(data);
      } catch {
        message = undefined;
      }
      if (typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string') {
        this.handlers.message?.(message as ServerMessage);
      } else {
        this.handlers.invalid?.(data);
      }
    } else if (data instanceof ArrayBuffer) {
      this.stats.bytesReceived += data.byteLength;
      this.handlers.audio?.(data);
    } else if (ArrayBuffer.isView(data)) {
      // A socket left with another binaryType (`ws`'s nodebuffer): the frame's own bytes.
      this.stats.bytesReceived += data.byteLength;
      this.handlers.audio?.(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    }
  }

  private finish(info: CloseInfo): void {
    if (this.closed !== undefined) {
      return;
    }
    this.closed = info;
    this.handlers.close?.(info);
  }
}

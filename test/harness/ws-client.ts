import WebSocket from 'ws';
import { LiveDubbingConnection, type CloseInfo, type WebSocketConstructor } from '../../src/client/index.js';
import { serverMessageProblem } from './protocol-validator.js';

export type Closed = CloseInfo;

/** The `ws` package's WebSocket, leaving the server's pings unanswered: a connection gone dead. */
class DeadWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { autoPong: false });
  }
}

/**
 * A real client, on the client library's low-level connection (src/client, `LiveDubbingConnection`) over the `ws`
 * package, that records what the server sends, for step-by-step protocol tests. Tests that need raw bytes on the wire
 * use raw-ws-client.ts.
 */
export class TestWsClient {
  readonly messages: any[] = [];
  readonly audio: Buffer[] = [];
  closed?: Closed;
  /** The first server message that broke the protocol (AsyncAPI document): the next wait fails with it. */
  violation?: string;
  /** Set once `connect` resolved. */
  connection!: LiveDubbingConnection;
  private waiters: (() => void)[] = [];

  private constructor() {}

  /** The underlying `ws` socket (a test may `terminate()` it, or read its `readyState`). */
  get socket(): WebSocket {
    return this.connection.socket as unknown as WebSocket;
  }

  /** `autoPong: false` makes a client whose connection went dead: it leaves the server's pings unanswered. */
  static async connect(baseUrl: string, path = '/ws/live-dubbing', options: { autoPong?: boolean } = {}): Promise<TestWsClient> {
    const client = new TestWsClient();
    const Socket = (options.autoPong === false ? DeadWebSocket : WebSocket) as unknown as WebSocketConstructor;
    const url = baseUrl.replace(/^http/, 'ws') + path;
    client.connection = await LiveDubbingConnection.connect(url, Socket, {
      message: (message) => {
        client.messages.push(message);
        client.violation ??= serverMessageProblem(message, url);
        client.wake();
      },
      invalid: (text) => {
        client.messages.push(text);
        client.violation ??= `the server sent ${JSON.stringify(text)}: not a JSON message with a type`;
        client.wake();
      },
      audio: (pcm) => {
        client.audio.push(Buffer.from(pcm));
        client.wake();
      },
      close: (info) => {
        client.closed = info;
        client.wake();
      },
    });
    return client;
  }

  send(message: unknown): void {
    this.connection.sendText(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendAudio(frame: Buffer): void {
    this.connection.sendAudio(frame);
  }

  /** The next message of `type` (or any message), waiting up to `timeoutMs`. */
  async next(type?: string, timeoutMs = 10_000): Promise<any> {
    const found = await this.waitFor(
      () => this.messages.find((message) => type === undefined || message.type === type),
      timeoutMs,
      `message ${type ?? ''}`,
    );
    this.messages.splice(this.messages.indexOf(found), 1);
    return found;
  }

  waitClose(timeoutMs = 10_000): Promise<Closed> {
    return this.waitFor(() => this.closed, timeoutMs, 'close');
  }

  /** A close frame without a status code. */
  close(): void {
    this.connection.close();
  }

  /** The network goes away: the connection ends without a close frame, as the server sees a blip. */
  drop(): void {
    this.socket.terminate();
  }

  async waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.violation !== undefined) {
        throw new Error(this.violation);
      }
      const value = probe();
      if (value !== undefined) {
        return value;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages)} closed=${JSON.stringify(this.closed)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(200, deadline - Date.now() + 1));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter();
    }
  }
}

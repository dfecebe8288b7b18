import WebSocket from 'ws';
import { serverMessageProblem } from './protocol-validator.js';

export interface Closed {
  code: number;
  reason: string;
}

/** A real `ws` client that records what the server sends, for step-by-step protocol tests. */
export class TestWsClient {
  readonly messages: any[] = [];
  readonly audio: Buffer[] = [];
  closed?: Closed;
  /** The first server message that broke the protocol (AsyncAPI document): the next wait fails with it. */
  violation?: string;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.audio.push(data);
      } else {
        this.messages.push(JSON.parse(data.toString()));
        this.violation ??= serverMessageProblem(this.messages.at(-1), socket.url);
      }
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => this.wake());
  }

  /** `autoPong: false` makes a client whose connection went dead: it leaves the server's pings unanswered. */
  static connect(baseUrl: string, path = '/ws/live-dubbing', options: { autoPong?: boolean } = {}): Promise<TestWsClient> {
    const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, options);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new TestWsClient(socket)));
      socket.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendAudio(frame: Buffer): void {
    this.socket.send(frame, { binary: true });
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

  close(): void {
    this.socket.close();
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

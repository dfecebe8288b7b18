import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { serverMessageProblem } from './protocol-validator.js';
import type { Closed } from './ws-client.js';

export const Opcode = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8 } as const;

/**
 * A WebSocket client that writes frames byte for byte as a test says, including what a well-behaved client never
 * sends: a header declaring more bytes than ever follow, a message cut into many fragments, text that is not UTF-8.
 * Frames are masked with a zero key (legal, and the payload goes out as it is). It records the server's text
 * messages and its close frame.
 */
export class RawWsClient {
  readonly messages: any[] = [];
  closed?: Closed;
  /** The TCP connection ended (with or without a close frame). */
  ended = false;
  /** The first server message that broke the protocol (AsyncAPI document): the next wait fails with it. */
  violation?: string;
  private received = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(
    readonly socket: Socket,
    head: Buffer,
    private readonly path: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
    if (head.length > 0) {
      this.read(head);
    }
  }

  static connect(baseUrl: string, path = '/ws/live-dubbing', headers: Record<string, string> = {}): Promise<RawWsClient> {
    const url = new URL(path, baseUrl);
    return new Promise((resolve, reject) => {
      const upgrade = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
          ...headers,
        },
      });
      upgrade.once('upgrade', (_response, socket: Socket, head: Buffer) => resolve(new RawWsClient(socket, head, url.pathname)));
      upgrade.once('response', (response) => reject(new Error(`the server answered ${response.statusCode}, not an upgrade`)));
      upgrade.once('error', reject);
      upgrade.end();
    });
  }

  /** The bytes of one masked client frame (header and payload). */
  static frame(opcode: number, payload: Buffer, fin = true): Buffer {
    return Buffer.concat([RawWsClient.header(opcode, payload.length, fin), payload]);
  }

  /** A masked client frame header declaring `length` payload bytes; with a zero mask the payload follows as it is. */
  static header(opcode: number, length: number, fin = true): Buffer {
    const first = (fin ? 0x80 : 0) | opcode;
    const mask = Buffer.alloc(4);
    if (length < 126) {
      return Buffer.concat([Buffer.from([first, 0x80 | length]), mask]);
    }
    if (length < 65536) {
      const header = Buffer.from([first, 0x80 | 126, 0, 0]);
      header.writeUInt16BE(length, 2);
      return Buffer.concat([header, mask]);
    }
    const header = Buffer.from([first, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.writeBigUInt64BE(BigInt(length), 2);
    return Buffer.concat([header, mask]);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) {
      this.socket.write(bytes);
    }
  }

  sendText(text: string | Buffer): void {
    this.write(RawWsClient.frame(Opcode.Text, typeof text === 'string' ? Buffer.from(text) : text));
  }

  sendBinary(payload: Buffer): void {
    this.write(RawWsClient.frame(Opcode.Binary, payload));
  }

  /**
   * Writes `totalBytes` of payload from one reused chunk, waiting for the socket to drain between writes, so the
   * client itself never holds more than a chunk. Stops early if the connection ends.
   */
  async stream(totalBytes: number, chunk: Buffer): Promise<number> {
    let written = 0;
    while (written < totalBytes && !this.ended && !this.socket.destroyed) {
      const piece = totalBytes - written >= chunk.length ? chunk : chunk.subarray(0, totalBytes - written);
      written += piece.length;
      if (!this.socket.write(piece)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.on('drain', done);
          this.socket.on('close', done);
        });
      }
    }
    return written;
  }

  /** The server's close frame, or 1006 (abnormal) if the connection ended without one. */
  async waitClose(timeoutMs = 10_000): Promise<Closed> {
    const deadline = Date.now() + timeoutMs;
    while (this.closed === undefined && !this.ended) {
      this.throwViolation();
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for close; got ${JSON.stringify(this.messages)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.throwViolation();
    return this.closed ?? { code: 1006, reason: '' };
  }

  /** The next text message of `type` from the server. */
  async next(type: string, timeoutMs = 10_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.throwViolation();
      const found = this.messages.find((message) => message.type === type);
      if (found !== undefined) {
        this.messages.splice(this.messages.indexOf(found), 1);
        return found;
      }
      if (this.ended || this.closed !== undefined || Date.now() > deadline) {
        throw new Error(`no ${type} message; got ${JSON.stringify(this.messages)} closed=${JSON.stringify(this.closed)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private throwViolation(): void {
    if (this.violation !== undefined) {
      throw new Error(this.violation);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Server frames are unmasked and, from this server, never fragmented. */
  private read(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    for (;;) {
      if (this.received.length < 2) {
        break;
      }
      const opcode = this.received[0] & 0x0f;
      let length = this.received[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.received.length < 4) break;
        length = this.received.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.received.length < 10) break;
        length = Number(this.received.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.received.length < offset + length) {
        break;
      }
      const payload = this.received.subarray(offset, offset + length);
      this.received = this.received.subarray(offset + length);
      if (opcode === Opcode.Text) {
        this.messages.push(JSON.parse(payload.toString()));
        this.violation ??= serverMessageProblem(this.messages.at(-1), this.path);
      } else if (opcode === Opcode.Close) {
        this.closed = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString() };
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter();
    }
  }
}

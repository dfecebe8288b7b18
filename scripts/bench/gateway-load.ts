import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

/**
 * The gateway benchmark's load generator, run in its own process so its CPU and heap are not the
 * server's. Driven over IPC by gateway-bench.ts:
 *   { type: 'open', url, auths }  → opens one socket per auth message at once, replies { type: 'ready', readyMs, failures }
 *   { type: 'stream', durationMs } → every socket streams 100-ms PCM frames in real time, replies { type: 'streamed', ... }
 *   { type: 'close' }              → sends stop, waits for every close, replies { type: 'closed', closeCodes }
 */

export const FRAME_MS = 100;
const SAMPLE_RATE_HZ = 16_000;
const FRAME_BYTES = (SAMPLE_RATE_HZ * 2 * FRAME_MS) / 1000;

export type LoadCommand = { type: 'open'; url: string; auths: object[] } | { type: 'stream'; durationMs: number } | { type: 'close' };

export type LoadReport =
  | { type: 'ready'; readyMs: number[]; failures: string[] }
  | {
      type: 'streamed';
      framesSent: number;
      framesLate: number;
      messagesReceived: number;
      bytesReceived: number;
      unexpectedCloses: number[];
    }
  | { type: 'closed'; closeCodes: Record<number, number> };

interface Client {
  socket: WebSocket;
  messages: number;
  bytes: number;
  closed?: number;
}

/** Speech-like audio: 1.2 s of a 220 Hz tone, then 0.6 s of silence, so voice activity finds segments. */
function speechCycle(): Buffer {
  const voicedSamples = 1.2 * SAMPLE_RATE_HZ;
  const pcm = Buffer.alloc(1.8 * SAMPLE_RATE_HZ * 2);
  for (let i = 0; i < voicedSamples; i++) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / SAMPLE_RATE_HZ)), i * 2);
  }
  return pcm;
}

const clients: Client[] = [];

function send(report: LoadReport): void {
  process.send!(report);
}

function openAll(url: string, auths: object[]): Promise<void> {
  const readyMs: number[] = [];
  const failures: string[] = [];
  return new Promise((resolve) => {
    let pending = auths.length;
    const settle = () => {
      if (--pending === 0) {
        send({ type: 'ready', readyMs, failures });
        resolve();
      }
    };
    for (const auth of auths) {
      const started = performance.now();
      const client: Client = { socket: new WebSocket(url), messages: 0, bytes: 0 };
      clients.push(client);
      let opened = false;
      client.socket.on('open', () => client.socket.send(JSON.stringify(auth)));
      client.socket.on('message', (data: Buffer, isBinary) => {
        client.messages++;
        client.bytes += data.length;
        if (!opened && !isBinary) {
          const message = JSON.parse(data.toString()) as { type: string; message?: string };
          if (message.type === 'ready') {
            opened = true;
            readyMs.push(performance.now() - started);
            settle();
          } else if (message.type === 'error') {
            opened = true;
            failures.push(message.message ?? 'error');
            settle();
          }
        }
      });
      client.socket.on('close', (code) => {
        client.closed = code;
        if (!opened) {
          opened = true;
          failures.push(`closed ${code}`);
          settle();
        }
      });
      client.socket.on('error', () => undefined);
    }
  });
}

/** Each client sends a frame every 100 ms on its own schedule (staggered), correcting for timer drift. */
function streamAll(durationMs: number): Promise<void> {
  const cycle = speechCycle();
  const frames = durationMs / FRAME_MS;
  let framesSent = 0;
  let framesLate = 0;
  const before = clients.map((client) => ({ messages: client.messages, bytes: client.bytes }));
  return new Promise((resolve) => {
    let running = clients.length;
    clients.forEach((client, index) => {
      const start = performance.now() + (index * FRAME_MS) / clients.length;
      let frame = 0;
      const tick = () => {
        if (client.closed !== undefined || frame >= frames) {
          if (--running === 0) {
            send({
              type: 'streamed',
              framesSent,
              framesLate,
              messagesReceived: clients.reduce((sum, c, i) => sum + c.messages - before[i].messages, 0),
              bytesReceived: clients.reduce((sum, c, i) => sum + c.bytes - before[i].bytes, 0),
              unexpectedCloses: clients.flatMap((c) => (c.closed === undefined ? [] : [c.closed])),
            });
            resolve();
          }
          return;
        }
        const offset = (frame * FRAME_BYTES) % cycle.length;
        client.socket.send(cycle.subarray(offset, offset + FRAME_BYTES), { binary: true });
        framesSent++;
        frame++;
        const due = start + frame * FRAME_MS;
        const wait = due - performance.now();
        if (wait < -FRAME_MS) {
          framesLate++;
        }
        setTimeout(tick, Math.max(0, wait));
      };
      setTimeout(tick, Math.max(0, start - performance.now()));
    });
  });
}

async function closeAll(): Promise<void> {
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.closed !== undefined) {
            resolve();
            return;
          }
          client.socket.once('close', () => resolve());
          client.socket.send(JSON.stringify({ type: 'stop' }));
        }),
    ),
  );
  const closeCodes: Record<number, number> = {};
  for (const client of clients) {
    closeCodes[client.closed!] = (closeCodes[client.closed!] ?? 0) + 1;
  }
  clients.length = 0;
  send({ type: 'closed', closeCodes });
}

process.on('message', (command: LoadCommand) => {
  switch (command.type) {
    case 'open':
      void openAll(command.url, command.auths);
      break;
    case 'stream':
      void streamAll(command.durationMs);
      break;
    case 'close':
      void closeAll();
      break;
  }
});

import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { LiveDubbingClient, LiveDubbingError, type WebSocketConstructor } from '../../src/client/index.js';

/**
 * The gateway benchmark's load generator, run in its own process so its CPU and heap are not the server's. Each
 * session is a client of the client library (src/client, docs/protocol.md "Client library") over the `ws` package,
 * without automatic resumes or retries: a close is counted, not hidden. Driven over IPC by gateway.bench.ts:
 *   { type: 'open', urls, auths } → opens one session per auth message at once, the i-th on urls[i % urls.length]
 *                                   (round-robin over the instances), replies { type: 'ready', readyMs, failures, refusedOn, cpuMicros }
 *   { type: 'stream', durationMs } → every session streams 100-ms PCM frames in real time, replies { type: 'streamed', ... }
 *   { type: 'close' }              → stops every session, waits for every close, replies { type: 'closed', closeCodes }
 */

export const FRAME_MS = 100;
const SAMPLE_RATE_HZ = 16_000;
const FRAME_BYTES = (SAMPLE_RATE_HZ * 2 * FRAME_MS) / 1000;

export type LoadCommand = { type: 'open'; urls: string[]; auths: object[] } | { type: 'stream'; durationMs: number } | { type: 'close' };

export type LoadReport =
  /** `refusedOn[i]`: the openings on urls[i] that failed. */
  /** `cpuMicros`: this process's CPU time from the first opening to the last answer. */
  | { type: 'ready'; readyMs: number[]; failures: string[]; refusedOn: number[]; cpuMicros: number }
  | {
      type: 'streamed';
      framesSent: number;
      framesLate: number;
      messagesReceived: number;
      bytesReceived: number;
      unexpectedCloses: number[];
    }
  | { type: 'closed'; closeCodes: Record<number, number> };

/** The fields of an auth message the benchmark hands over (the echo baseline's has only `type`). */
interface Auth {
  token?: string;
  channel_id?: string;
  target_lang?: string;
  source_lang?: string;
}

interface Session {
  client: LiveDubbingClient;
  /** The close code, once the session ended. */
  closed?: number;
  ended: Promise<void>;
}

/**
 * Speech-like audio: 1.2 s of a 220 Hz tone, then 0.6 s of silence, so voice activity finds segments; cut once into
 * the 100-ms frames every session sends, so streaming allocates no frame.
 */
function speechFrames(): Buffer[] {
  const voicedSamples = 1.2 * SAMPLE_RATE_HZ;
  const pcm = Buffer.alloc(1.8 * SAMPLE_RATE_HZ * 2);
  for (let i = 0; i < voicedSamples; i++) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / SAMPLE_RATE_HZ)), i * 2);
  }
  const frames: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += FRAME_BYTES) {
    frames.push(pcm.subarray(offset, offset + FRAME_BYTES));
  }
  return frames;
}

const sessions: Session[] = [];

function send(report: LoadReport): void {
  process.send!(report);
}

function openAll(urls: string[], auths: object[]): Promise<void> {
  const readyMs: number[] = [];
  const cpuAtStart = process.cpuUsage();
  const failures: string[] = [];
  const refusedOn = urls.map(() => 0);
  return Promise.all(
    (auths as Auth[]).map(async (auth, index) => {
      const started = performance.now();
      const client = new LiveDubbingClient({
        url: urls[index % urls.length],
        token: auth.token ?? '',
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        autoResume: false,
      });
      const session: Session = {
        client,
        ended: new Promise((resolve) =>
          client.on('ended', (ended) => {
            session.closed = ended.close?.code ?? 0;
            resolve();
          }),
        ),
      };
      sessions.push(session);
      try {
        await client.open({ channel_id: auth.channel_id!, target_lang: auth.target_lang!, source_lang: auth.source_lang });
        readyMs.push(performance.now() - started);
      } catch (error) {
        const refusal = error instanceof LiveDubbingError ? error : undefined;
        refusedOn[index % urls.length]++;
        failures.push(refusal?.error?.message ?? (refusal?.closeCode !== undefined ? `closed ${refusal.closeCode}` : String(error)));
      }
    }),
  ).then(() => {
    const cpu = process.cpuUsage(cpuAtStart);
    send({ type: 'ready', readyMs, failures, refusedOn, cpuMicros: cpu.user + cpu.system });
  });
}

/** Each session sends a frame every 100 ms on its own schedule (staggered), correcting for timer drift. */
function streamAll(durationMs: number): Promise<void> {
  const frames = speechFrames();
  const total = durationMs / FRAME_MS;
  let framesSent = 0;
  let framesLate = 0;
  const before = sessions.map(({ client }) => client.stats);
  return new Promise((resolve) => {
    let running = sessions.length;
    sessions.forEach((session, index) => {
      const start = performance.now() + (index * FRAME_MS) / sessions.length;
      let frame = 0;
      const tick = () => {
        if (session.closed !== undefined || frame >= total) {
          if (--running === 0) {
            let messagesReceived = 0;
            let bytesReceived = 0;
            sessions.forEach(({ client }, i) => {
              const stats = client.stats;
              messagesReceived += stats.messagesReceived - before[i].messagesReceived;
              bytesReceived += stats.bytesReceived - before[i].bytesReceived;
            });
            send({
              type: 'streamed',
              framesSent,
              framesLate,
              messagesReceived,
              bytesReceived,
              unexpectedCloses: sessions.flatMap((s) => (s.closed === undefined ? [] : [s.closed])),
            });
            resolve();
          }
          return;
        }
        if (session.client.sendAudio(frames[frame % frames.length])) {
          framesSent++;
        }
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
    sessions.map((session) => {
      if (session.closed === undefined) {
        // The echo baseline closes without `session_ended`: the close, not the stop's answer, is what is waited for.
        session.client.stop().catch(() => undefined);
      }
      return session.ended;
    }),
  );
  const closeCodes: Record<number, number> = {};
  for (const session of sessions) {
    closeCodes[session.closed!] = (closeCodes[session.closed!] ?? 0) + 1;
  }
  sessions.length = 0;
  send({ type: 'closed', closeCodes });
}

process.on('message', (command: LoadCommand) => {
  switch (command.type) {
    case 'open':
      void openAll(command.urls, command.auths);
      break;
    case 'stream':
      void streamAll(command.durationMs);
      break;
    case 'close':
      void closeAll();
      break;
  }
});

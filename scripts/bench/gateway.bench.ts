import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { WebSocketServer } from 'ws';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app.setup.js';
import { TokenService } from '../../src/auth/token.service.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { ChannelsService } from '../../src/channels/channels.service.js';
import { startEmbeddedDatabase, withDatabaseName } from '../../src/database/embedded-database.js';
import { UsersService } from '../../src/users/users.service.js';
import { formatTable, median, repetitions, type Benchmark } from './benchmark.js';
import type { LoadCommand, LoadReport } from './gateway-load.js';

/**
 * Gateway benchmark: N concurrent Beta 500 sessions on /ws/live-dubbing (loopback dubbing, embedded
 * database) each stream real-time audio in 100-ms frames, next to a bare `ws` echo server under the same
 * load in the same run. The server runs in this process; the clients run in a child process. The echo
 * server is measured first, every run, before any gateway instance exists in the process (a closed one
 * would leave its heap to the echo's garbage collector); then one gateway instance, every run.
 */

const SESSIONS = Number(process.env.BENCH_GATEWAY_SESSIONS ?? 200);
const DURATION_MS = 1000 * Number(process.env.BENCH_GATEWAY_SECONDS ?? 60);
/** Opening every session, or closing them, takes a few seconds; a step this late means the run is stuck. */
const STEP_TIMEOUT_MS = 60_000;

export const gatewayBenchmark: Benchmark = {
  name: 'gateway',
  description: `${SESSIONS} concurrent beta sessions streaming real-time 100-ms audio frames for ${DURATION_MS / 1000} s, vs. a bare ws echo server under the same load`,
  async run() {
    printTable(await runGatewayBench(repetitions(3)));
  },
};

interface GatewayBenchRow {
  server: string;
  sessions: number;
  readyP50Ms: number;
  readyP99Ms: number;
  failures: number;
  cpuSecondsPerStreamMinute: number;
  eventLoopP99Ms: number;
  heapPerIdleSessionKiB: number;
  framesSent: number;
  framesLate: number;
  messagesReceived: number;
  closeCodes: Record<number, number>;
}

interface Target {
  server: string;
  url: string;
  auths: object[];
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

class LoadGenerator {
  private readonly child: ChildProcess = fork(new URL('./gateway-load.js', import.meta.url), { stdio: 'inherit' });

  /** Sends `command`; fails rather than waits forever when the `reply` does not come within `timeoutMs`. */
  request<T extends LoadReport['type']>(command: LoadCommand, reply: T, timeoutMs: number): Promise<Extract<LoadReport, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load generator sent no "${reply}" within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (report: LoadReport) => {
        if (report.type === reply) {
          clearTimeout(timer);
          this.child.off('message', onMessage);
          resolve(report as Extract<LoadReport, { type: T }>);
        }
      };
      this.child.on('message', onMessage);
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`load generator exited with ${code}`));
      });
      this.child.send(command);
    });
  }

  stop(): void {
    this.child.kill();
  }
}

async function measure(target: Target, durationMs: number): Promise<GatewayBenchRow> {
  const load = new LoadGenerator();
  try {
    const heapBefore = heapUsed();
    const opened = await load.request({ type: 'open', url: target.url, auths: target.auths }, 'ready', STEP_TIMEOUT_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const heapIdle = heapUsed();

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const cpuBefore = process.cpuUsage();
    const streamed = await load.request({ type: 'stream', durationMs }, 'streamed', durationMs + STEP_TIMEOUT_MS);
    const cpu = process.cpuUsage(cpuBefore);
    loop.disable();

    const closed = await load.request({ type: 'close' }, 'closed', STEP_TIMEOUT_MS);
    const streams = opened.readyMs.length;
    return {
      server: target.server,
      sessions: target.auths.length,
      readyP50Ms: percentile(opened.readyMs, 50),
      readyP99Ms: percentile(opened.readyMs, 99),
      failures: opened.failures.length,
      cpuSecondsPerStreamMinute: (cpu.user + cpu.system) / 1e6 / (streams * (durationMs / 60_000)),
      eventLoopP99Ms: loop.percentile(99) / 1e6,
      heapPerIdleSessionKiB: (heapIdle - heapBefore) / streams / 1024,
      framesSent: streamed.framesSent,
      framesLate: streamed.framesLate,
      messagesReceived: streamed.messagesReceived,
      closeCodes: closed.closeCodes,
    };
  } finally {
    load.stop();
  }
}

/** The baseline: a bare `ws` server that answers auth with ready, echoes every frame and closes on stop. */
async function startEchoServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/echo' });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        socket.send(data, { binary: true });
        return;
      }
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'auth') {
        socket.send(JSON.stringify({ type: 'ready' }));
      } else if (message.type === 'stop') {
        socket.close(1000, 'Session ended');
      }
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws/echo`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** One secret for every gateway instance of the benchmark, so the viewers' tokens stay valid across runs. */
const JWT_SECRET = randomBytes(48).toString('base64');

async function startGateway(databaseUri: string): Promise<{ app: INestApplication; url: string }> {
  Object.assign(process.env, {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET,
    MONGODB_URI: withDatabaseName(databaseUri, 'bench_gateway'),
    // The load generator opens every session at once from one address.
    WS_MAX_PENDING_PER_ADDRESS: String(SESSIONS),
  });
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `ws://127.0.0.1:${port}/ws/live-dubbing` };
}

/** N premium users enrolled in Beta 500 with 500 credits each, their tokens and one live channel. */
async function seedViewers(app: INestApplication, count: number): Promise<object[]> {
  await app.get(ChannelsService).save({
    id: 'bench-live',
    name: 'Bench Live',
    isLive: true,
    supportsDubbing: true,
    sourceLanguage: 'he',
    dubbingLanguages: ['en'],
  });
  const auths: object[] = [];
  for (let i = 0; i < count; i++) {
    const user = await app.get(UsersService).create({ email: `viewer-${i}@bench.example`, tier: 'premium' });
    await app.get(BetaEnrollmentService).enroll({ email: user.email, via: 'admin', credits: 500 });
    auths.push({ type: 'auth', token: await app.get(TokenService).issue(user, 3600), channel_id: 'bench-live', target_lang: 'en' });
  }
  return auths;
}

/** Beta sessions still active, and the credits charged across all of them: both must be exact after the run. */
async function betaBooks(app: INestApplication): Promise<{ active: number; charged: number }> {
  const connection = app.get<Connection>(getConnectionToken());
  const [active, charged] = await Promise.all([
    connection.collection('beta_sessions').countDocuments({ status: 'active' }),
    connection
      .collection('beta_credit_transactions')
      .aggregate<{ total: number }>([{ $match: { type: 'debit' } }, { $group: { _id: null, total: { $sum: '$amount' } } }])
      .toArray(),
  ]);
  return { active, charged: Math.abs(charged[0]?.total ?? 0) };
}

async function runGatewayBench(runs: number): Promise<{ echo: GatewayBenchRow[]; gateway: GatewayBenchRow[] }> {
  const database = await startEmbeddedDatabase({ backend: 'memory' });
  try {
    const echoRows: GatewayBenchRow[] = [];
    const echo = await startEchoServer();
    try {
      for (let run = 1; run <= runs; run++) {
        echoRows.push(
          await measure({ server: 'ws echo (baseline)', url: echo.url, auths: new Array(SESSIONS).fill({ type: 'auth' }) }, DURATION_MS),
        );
        process.stderr.write(`echo run ${run}: ${echoRows[run - 1].cpuSecondsPerStreamMinute.toFixed(4)} CPU s / stream-min\n`);
      }
    } finally {
      await echo.close();
    }

    const gatewayRows: GatewayBenchRow[] = [];
    const gateway = await startGateway(database.serverUri);
    try {
      const auths = await seedViewers(gateway.app, SESSIONS);
      for (let run = 1; run <= runs; run++) {
        gatewayRows.push(await measure({ server: 'live-dubbing gateway', url: gateway.url, auths }, DURATION_MS));
        const books = await betaBooks(gateway.app);
        process.stderr.write(
          `gateway run ${run}: ${gatewayRows[run - 1].cpuSecondsPerStreamMinute.toFixed(4)} CPU s / stream-min; ` +
            `beta sessions left active: ${books.active}; credits charged so far: ${books.charged}\n`,
        );
      }
    } finally {
      await gateway.app.close();
    }
    return { echo: echoRows, gateway: gatewayRows };
  } finally {
    await database.stop();
  }
}

/** The median of each measure over the runs. */
function medianRow(rows: GatewayBenchRow[]): GatewayBenchRow {
  const of = (measure: (row: GatewayBenchRow) => number) => median(rows.map(measure));
  const closeCodes: Record<number, number> = {};
  for (const row of rows) {
    for (const [code, count] of Object.entries(row.closeCodes)) {
      closeCodes[Number(code)] = (closeCodes[Number(code)] ?? 0) + count;
    }
  }
  return {
    ...rows[0],
    readyP50Ms: of((row) => row.readyP50Ms),
    readyP99Ms: of((row) => row.readyP99Ms),
    failures: of((row) => row.failures),
    cpuSecondsPerStreamMinute: of((row) => row.cpuSecondsPerStreamMinute),
    eventLoopP99Ms: of((row) => row.eventLoopP99Ms),
    heapPerIdleSessionKiB: of((row) => row.heapPerIdleSessionKiB),
    framesSent: of((row) => row.framesSent),
    framesLate: of((row) => row.framesLate),
    messagesReceived: of((row) => row.messagesReceived),
    closeCodes,
  };
}

function printTable(runs: { echo: GatewayBenchRow[]; gateway: GatewayBenchRow[] }): void {
  const rows = [medianRow(runs.echo), medianRow(runs.gateway)];
  const header = [
    'server',
    'sessions',
    'ready p50 ms',
    'ready p99 ms',
    'refused',
    'CPU s / stream-min',
    'CPU ratio',
    'loop delay p99 ms',
    'heap KiB / idle session',
    'frames in',
    'late frames',
    'messages out',
    'closes (all runs)',
  ];
  const cells = rows.map((row) => [
    row.server,
    String(row.sessions),
    row.readyP50Ms.toFixed(0),
    row.readyP99Ms.toFixed(0),
    String(row.failures),
    row.cpuSecondsPerStreamMinute.toFixed(4),
    `${(row.cpuSecondsPerStreamMinute / rows[0].cpuSecondsPerStreamMinute).toFixed(2)}×`,
    row.eventLoopP99Ms.toFixed(1),
    row.heapPerIdleSessionKiB.toFixed(1),
    String(row.framesSent),
    String(row.framesLate),
    String(row.messagesReceived),
    Object.entries(row.closeCodes)
      .map(([code, count]) => `${code}×${count}`)
      .join(' '),
  ]);
  process.stdout.write(`Medians of ${runs.echo.length} run(s) per server.\n\n`);
  process.stdout.write(formatTable(header, cells) + '\n');
}

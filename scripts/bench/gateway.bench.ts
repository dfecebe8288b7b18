import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { AuthModule } from '../../src/auth/auth.module.js';
import { TokenService } from '../../src/auth/token.service.js';
import { BetaModule } from '../../src/beta/beta.module.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { ChannelsModule } from '../../src/channels/channels.module.js';
import { ChannelsService } from '../../src/channels/channels.service.js';
import { CommonModule } from '../../src/common/common.module.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { projectRoot, startEmbeddedDatabase, withDatabaseName } from '../../src/database/embedded-database.js';
import { UsersModule } from '../../src/users/users.module.js';
import { UsersService } from '../../src/users/users.service.js';
import { formatTable, median, repetitions, type Benchmark } from './benchmark.js';
import type { LoadCommand, LoadReport } from './gateway-load.js';
import type { StatsCommand, StatsReport } from './process-stats.js';

/**
 * Gateway benchmark: N concurrent Beta 500 sessions on /ws/live-dubbing (loopback dubbing, embedded database) each
 * stream real-time audio in 100-ms frames, next to a bare `ws` echo server under the same load in the same run.
 * Each server runs in a process of its own, as production runs it (the gateway is `dist/src/main.js`), and is
 * measured from inside that process (process-stats.ts): CPU time, event-loop delay, heap after a full collection.
 * The clients run in a third process (gateway-load.ts).
 */

const SESSIONS = Number(process.env.BENCH_GATEWAY_SESSIONS ?? 200);
const DURATION_MS = 1000 * Number(process.env.BENCH_GATEWAY_SECONDS ?? 60);
/** Opening every session, or closing them, takes a few seconds; a step this late means the run is stuck. */
const STEP_TIMEOUT_MS = 60_000;

export const gatewayBenchmark: Benchmark = {
  name: 'gateway',
  description: `${SESSIONS} concurrent beta sessions streaming real-time 100-ms audio frames for ${DURATION_MS / 1000} s, vs. a bare ws echo server under the same load, each server in its own process`,
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
  process: IpcChild;
  url: string;
  auths: object[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** A child process spoken to over IPC: the load generator, or a server with process-stats.ts loaded. */
class IpcChild {
  constructor(readonly child: ChildProcess) {}

  /** Sends `command` and waits for its `reply`. */
  request<R extends { type: string }, T extends R['type']>(command: object, reply: T, timeoutMs: number): Promise<Extract<R, { type: T }>> {
    const replied = this.next<R, T>(reply, timeoutMs);
    this.child.send(command);
    return replied;
  }

  /** The next message of type `reply`; fails rather than waits forever when it does not come within `timeoutMs`. */
  next<R extends { type: string }, T extends R['type']>(reply: T, timeoutMs: number): Promise<Extract<R, { type: T }>> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`child process sent no "${reply}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (report: R) => {
        if (report.type === reply) {
          done();
          resolve(report as Extract<R, { type: T }>);
        }
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`child process exited with ${code}`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  load<T extends LoadReport['type']>(command: LoadCommand, reply: T, timeoutMs: number) {
    return this.request<LoadReport, T>(command, reply, timeoutMs);
  }

  stats<T extends StatsReport['type']>(command: StatsCommand, reply: T) {
    return this.request<StatsReport, T>(command, reply, STEP_TIMEOUT_MS);
  }

  /** SIGTERM, then waits for the exit (a server closes its sessions first). */
  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

const bench = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** A server with process-stats.ts loaded, able to collect its garbage when asked. */
function forkServer(entry: string, env: Record<string, string>): IpcChild {
  return new IpcChild(
    fork(entry, [], {
      // BENCH_CPU_PROFILE_DIR=<dir>: each server also writes a V8 CPU profile there when it exits.
      execArgv: [
        '--expose-gc',
        '--import',
        bench('./process-stats.js'),
        ...(process.env.BENCH_CPU_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROFILE_DIR] : []),
      ],
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }),
  );
}

async function measure(target: Target, durationMs: number): Promise<GatewayBenchRow> {
  const load = new IpcChild(fork(bench('./gateway-load.js'), { stdio: 'inherit' }));
  try {
    const before = await target.process.stats({ type: 'stats-read' }, 'stats');
    const opened = await load.load({ type: 'open', url: target.url, auths: target.auths }, 'ready', STEP_TIMEOUT_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = await target.process.stats({ type: 'stats-read' }, 'stats');

    await target.process.stats({ type: 'stats-start' }, 'stats-started');
    const streamed = await load.load({ type: 'stream', durationMs }, 'streamed', durationMs + STEP_TIMEOUT_MS);
    const during = await target.process.stats({ type: 'stats-read' }, 'stats');

    const closed = await load.load({ type: 'close' }, 'closed', STEP_TIMEOUT_MS);
    const streams = opened.readyMs.length;
    return {
      server: target.server,
      sessions: target.auths.length,
      readyP50Ms: percentile(opened.readyMs, 50),
      readyP99Ms: percentile(opened.readyMs, 99),
      failures: opened.failures.length,
      cpuSecondsPerStreamMinute: during.cpuMicros / 1e6 / (streams * (durationMs / 60_000)),
      eventLoopP99Ms: during.loopP99Ms,
      heapPerIdleSessionKiB: (idle.heapUsed - before.heapUsed) / streams / 1024,
      framesSent: streamed.framesSent,
      framesLate: streamed.framesLate,
      messagesReceived: streamed.messagesReceived,
      closeCodes: closed.closeCodes,
    };
  } finally {
    load.child.kill();
  }
}

/** The baseline: a bare `ws` echo server (echo-server.ts) in its own process. */
async function startEchoServer(): Promise<{ process: IpcChild; url: string }> {
  const echo = forkServer(bench('./echo-server.js'), {});
  const { port } = await echo.next<{ type: 'listening'; port: number }, 'listening'>('listening', STEP_TIMEOUT_MS);
  return { process: echo, url: `ws://127.0.0.1:${port}/ws/echo` };
}

/** One secret for the gateway and the seeding here, so the viewers' tokens verify. */
const JWT_SECRET = randomBytes(48).toString('base64');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

/** The service as production starts it (`node dist/src/main.js`), on the benchmark's database. */
async function startGateway(databaseUri: string): Promise<{ process: IpcChild; url: string }> {
  const port = await freePort();
  const gateway = forkServer(`${projectRoot()}/dist/src/main.js`, {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: String(port),
    JWT_SECRET,
    MONGODB_URI: databaseUri,
    // The load generator opens every session at once from one address.
    WS_MAX_PENDING_PER_ADDRESS: String(SESSIONS),
  });
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const healthy = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) {
      return { process: gateway, url: `ws://127.0.0.1:${port}/ws/live-dubbing` };
    }
    if (gateway.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the gateway did not start (exit code ${gateway.child.exitCode})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The application's users, channels, tokens and Beta services on the benchmark's database, here (no server). */
function seedingModule(databaseUri: string): DynamicModule {
  class BenchSeeding {}
  return {
    module: BenchSeeding,
    imports: [ConfigModule, CommonModule, MongooseModule.forRoot(databaseUri), AuthModule, UsersModule, ChannelsModule, BetaModule],
  };
}

/** N premium users enrolled in Beta 500 with 500 credits each, their tokens and one live channel. */
async function seedViewers(databaseUri: string, count: number): Promise<object[]> {
  Object.assign(process.env, { NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET, MONGODB_URI: databaseUri });
  const app = await NestFactory.createApplicationContext(seedingModule(databaseUri), { logger: ['error'] });
  try {
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
  } finally {
    await app.close();
  }
}

/** Beta sessions still active, and the credits charged across all of them: both must be exact after the run. */
async function betaBooks(connection: Connection): Promise<{ active: number; charged: number }> {
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
  const databaseUri = withDatabaseName(database.serverUri, 'bench_gateway');
  try {
    const echoRows: GatewayBenchRow[] = [];
    const echo = await startEchoServer();
    try {
      for (let run = 1; run <= runs; run++) {
        echoRows.push(
          await measure({ server: 'ws echo (baseline)', ...echo, auths: new Array(SESSIONS).fill({ type: 'auth' }) }, DURATION_MS),
        );
        process.stderr.write(`echo run ${run}: ${echoRows[run - 1].cpuSecondsPerStreamMinute.toFixed(4)} CPU s / stream-min\n`);
      }
    } finally {
      await echo.process.stop();
    }

    const auths = await seedViewers(databaseUri, SESSIONS);
    const books = await NestFactory.createApplicationContext(seedingModule(databaseUri), { logger: ['error'] });
    const gatewayRows: GatewayBenchRow[] = [];
    const gateway = await startGateway(databaseUri);
    try {
      for (let run = 1; run <= runs; run++) {
        gatewayRows.push(await measure({ server: 'live-dubbing gateway', ...gateway, auths }, DURATION_MS));
        const { active, charged } = await betaBooks(books.get<Connection>(getConnectionToken()));
        process.stderr.write(
          `gateway run ${run}: ${gatewayRows[run - 1].cpuSecondsPerStreamMinute.toFixed(4)} CPU s / stream-min; ` +
            `beta sessions left active: ${active}; credits charged so far: ${charged}\n`,
        );
      }
    } finally {
      await gateway.process.stop();
      await books.close();
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

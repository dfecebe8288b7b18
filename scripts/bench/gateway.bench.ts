import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { AuthModule } from '../../src/auth/auth.module.js';
import { TokenService } from '../../src/auth/token.service.js';
import { BetaModule } from '../../src/beta/beta.module.js';
import { chargeableSeconds, creditsForSeconds } from '../../src/beta/credits/credit-math.js';
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
import type { FloorReport } from './opening-floor.js';
import type { StatsCommand, StatsReport } from './process-stats.js';

/**
 * Gateway benchmark: N concurrent Beta 500 sessions on /ws/live-dubbing (loopback dubbing, embedded database) each
 * stream real-time audio in 100-ms frames, next to a bare `ws` echo server under the same load in the same run.
 * Each server runs in a process of its own, as production runs it (the gateway is `dist/src/main.js`), and is
 * measured from inside that process (process-stats.ts): CPU time, event-loop delay, heap after a full collection.
 * The clients run in a third process (gateway-load.ts). With BENCH_GATEWAY_INSTANCES=2 the gateway is two such
 * processes on the one database, the sessions dealt to them in turn, as behind a round-robin balancer: each charges
 * the sessions it serves, one of them runs the cluster-wide jobs (docs/credits.md, "Many instances").
 */

const SESSIONS = Number(process.env.BENCH_GATEWAY_SESSIONS ?? 200);
const DURATION_MS = 1000 * Number(process.env.BENCH_GATEWAY_SECONDS ?? 60);
const INSTANCES = gatewayInstances();
/** Opening every session, or closing them, takes a few seconds; a step this late means the run is stuck. */
const STEP_TIMEOUT_MS = 60_000;

export const gatewayBenchmark: Benchmark = {
  name: 'gateway',
  description:
    `${SESSIONS} concurrent beta sessions streaming real-time 100-ms audio frames for ${DURATION_MS / 1000} s, vs. a bare ws echo server under the same load, each server in its own process` +
    (INSTANCES > 1 ? `; the gateway is ${INSTANCES} instances on one database, the sessions dealt to them in turn` : ''),
  async run() {
    const runs = await runGatewayBench(repetitions(3));
    printTable(runs);
    if (INSTANCES > 1) {
      printInstances(runs);
    }
  },
};

/** `BENCH_GATEWAY_INSTANCES`: gateway processes sharing the database, 1 (the default) or more. */
function gatewayInstances(): number {
  const value = process.env.BENCH_GATEWAY_INSTANCES ?? '1';
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`BENCH_GATEWAY_INSTANCES must be a whole number ≥ 1, not "${value}"`);
  }
  return count;
}

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
  /** CPU per session while the sessions open, by process: the servers, the database's, the clients'. */
  openingCpuMs: OpeningCpu;
  /** Each server process of the row: one, or each gateway instance. */
  instances: InstanceRow[];
}

/** CPU milliseconds per session spent opening the sessions, by process. */
interface OpeningCpu {
  /** Every server process of the row, from the first opening to half a second after the last `ready`. */
  servers: number;
  /** The embedded database's process over the same time (Linux: /proc); 0 for the echo server, which has none. */
  database: number;
  /** The load generator, from the first opening to the last answer. */
  clients: number;
}

/** One server process's share of a run. */
interface InstanceRow {
  /** Sessions it served: the gateway's `live_dubbing_sessions` once all were open; the echo's, as dealt. */
  sessions: number;
  /** Openings dealt to it that were refused. */
  refused: number;
  cpuSecondsPerStreamMinute: number;
  eventLoopP99Ms: number;
  /** The longest event-loop delay from the openings' start to half a second after the last was ready. */
  openingLoopMaxMs: number;
  /** Sessions its credit checkpoints charged during the run (`beta_checkpoint_sessions_charged_total`); gateway only. */
  checkpointSessions?: number;
  /** Whether it held the cluster-wide jobs lease (`cluster_jobs_lease_held`) when the streaming ended; gateway only. */
  leaseHeld?: boolean;
}

/** A server process with process-stats.ts loaded; `baseUrl`, the gateway's HTTP address, serves its /metrics. */
interface Server {
  process: IpcChild;
  url: string;
  baseUrl?: string;
}

interface Target {
  server: string;
  servers: Server[];
  auths: object[];
  /** The embedded database's process, when the servers use it. */
  databasePid?: number;
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

/**
 * A server with process-stats.ts loaded, able to collect its garbage when asked. BENCH_GATEWAY_LOG_DIR=<dir>: the
 * server's stdout (the gateway's JSON log lines, at BENCH_GATEWAY_LOG_LEVEL, default warn) goes to a file there.
 */
function forkServer(entry: string, env: Record<string, string>, name: string): IpcChild {
  const logDir = process.env.BENCH_GATEWAY_LOG_DIR;
  const log = logDir === undefined ? 'ignore' : openSync(join(logDir, `${name}-${process.pid}-${Date.now()}.log`), 'a');
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
      stdio: ['ignore', log, 'inherit', 'ipc'],
    }),
  );
}

/** The unlabelled samples of a gateway's `/metrics` (METRICS_TOKEN is unset in the benchmark). */
async function readMetrics(baseUrl: string): Promise<Map<string, number>> {
  const text = await fetch(`${baseUrl}/metrics`).then((response) => response.text());
  return new Map([...text.matchAll(/^([a-zA-Z_:][\w:]*) (\S+)$/gm)].map(([, name, value]) => [name, Number(value)]));
}

/** `name` on each server with a `/metrics` (undefined for the echo server). */
function metricOnEach(servers: Server[], name: string): Promise<(number | undefined)[]> {
  return Promise.all(servers.map(async ({ baseUrl }) => (baseUrl === undefined ? undefined : (await readMetrics(baseUrl)).get(name))));
}

async function measure(target: Target, durationMs: number): Promise<GatewayBenchRow> {
  const load = new IpcChild(fork(bench('./gateway-load.js'), { stdio: 'inherit' }));
  const { servers } = target;
  const statsOfEach = (command: StatsCommand) => Promise.all(servers.map((server) => server.process.stats(command, 'stats')));
  try {
    const before = await statsOfEach({ type: 'stats-read' });
    const checkpointedBefore = await metricOnEach(servers, 'beta_checkpoint_sessions_charged_total');
    const urls = servers.map((server) => server.url);
    await Promise.all(servers.map((server) => server.process.stats({ type: 'stats-start' }, 'stats-started')));
    const databaseCpuBefore = processCpuMicros(target.databasePid);
    const opened = await load.load({ type: 'open', urls, auths: target.auths }, 'ready', STEP_TIMEOUT_MS);
    if (opened.failures.length > 0) {
      const reasons = new Map<string, number>();
      opened.failures.forEach((reason) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1));
      process.stderr.write(
        `${target.server}: openings refused: ${[...reasons].map(([reason, count]) => `${count}× "${reason}"`).join(', ')}\n`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = await statsOfEach({ type: 'stats-read' });
    const databaseOpeningCpu = processCpuMicros(target.databasePid) - databaseCpuBefore;
    const served = await metricOnEach(servers, 'live_dubbing_sessions');

    await Promise.all(servers.map((server) => server.process.stats({ type: 'stats-start' }, 'stats-started')));
    const streamed = await load.load({ type: 'stream', durationMs }, 'streamed', durationMs + STEP_TIMEOUT_MS);
    const during = await statsOfEach({ type: 'stats-read' });
    const leaseHeld = await metricOnEach(servers, 'cluster_jobs_lease_held');

    const closed = await load.load({ type: 'close' }, 'closed', STEP_TIMEOUT_MS);
    const checkpointedAfter = await metricOnEach(servers, 'beta_checkpoint_sessions_charged_total');
    const streams = opened.readyMs.length;
    const streamMinutes = (sessions: number) => sessions * (durationMs / 60_000);
    const instances = servers.map((_, i): InstanceRow => {
      // The echo server has no metrics: its share is the sessions dealt to it.
      const sessions = served[i] ?? Math.ceil((streams - i) / servers.length);
      return {
        sessions,
        refused: opened.refusedOn[i],
        cpuSecondsPerStreamMinute: during[i].cpuMicros / 1e6 / streamMinutes(sessions),
        eventLoopP99Ms: during[i].loopP99Ms,
        openingLoopMaxMs: idle[i].loopMaxMs,
        checkpointSessions: checkpointedAfter[i] === undefined ? undefined : checkpointedAfter[i]! - (checkpointedBefore[i] ?? 0),
        leaseHeld: leaseHeld[i] === undefined ? undefined : leaseHeld[i] === 1,
      };
    });
    const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
    return {
      server: target.server,
      sessions: target.auths.length,
      readyP50Ms: percentile(opened.readyMs, 50),
      readyP99Ms: percentile(opened.readyMs, 99),
      failures: opened.failures.length,
      cpuSecondsPerStreamMinute: sum(during.map((stats) => stats.cpuMicros)) / 1e6 / streamMinutes(streams),
      eventLoopP99Ms: Math.max(...during.map((stats) => stats.loopP99Ms)),
      heapPerIdleSessionKiB: sum(idle.map((stats, i) => stats.heapUsed - before[i].heapUsed)) / streams / 1024,
      framesSent: streamed.framesSent,
      framesLate: streamed.framesLate,
      messagesReceived: streamed.messagesReceived,
      closeCodes: closed.closeCodes,
      openingCpuMs: {
        servers: sum(idle.map((stats) => stats.cpuMicros)) / 1000 / target.auths.length,
        database: databaseOpeningCpu / 1000 / target.auths.length,
        clients: opened.cpuMicros / 1000 / target.auths.length,
      },
      instances,
    };
  } finally {
    load.child.kill();
  }
}

/** One run's connect-to-ready, for its line on stderr. */
function readyLine(row: GatewayBenchRow): string {
  return `ready p50 ${row.readyP50Ms.toFixed(0)} ms, p99 ${row.readyP99Ms.toFixed(0)} ms`;
}

/** A process's CPU time so far in microseconds (user + system, every thread), from /proc; 0 without a pid or /proc. */
function processCpuMicros(pid: number | undefined): number {
  if (pid === undefined) {
    return 0;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The unit of /proc's CPU times on Linux (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;

/** The baseline: a bare `ws` echo server (echo-server.ts) in its own process. */
async function startEchoServer(): Promise<Server> {
  const echo = forkServer(bench('./echo-server.js'), {}, 'echo');
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
async function startGateway(databaseUri: string): Promise<Server> {
  const port = await freePort();
  const gateway = forkServer(
    `${projectRoot()}/dist/src/main.js`,
    {
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'warn',
      PORT: String(port),
      JWT_SECRET,
      MONGODB_URI: databaseUri,
      // The load generator opens every session at once from one address.
      WS_MAX_PENDING_PER_ADDRESS: String(SESSIONS),
    },
    'gateway',
  );
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const healthy = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) {
      return { process: gateway, url: `ws://127.0.0.1:${port}/ws/live-dubbing`, baseUrl: `http://127.0.0.1:${port}` };
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

/** The books after the runs so far: every beta session must have ended, and been charged once for its connected time. */
interface BetaBooks {
  active: number;
  ended: number;
  /** Credits in the ledger's debit entries. */
  charged: number;
  debits: number;
  /** Debit entries with the session and sequence number of another: each key `debit:<session>:<seq>` is charged once. */
  duplicateDebits: number;
  /**
   * Ended sessions whose debits do not add up to their connected time's price, ceil(ceil(connected s) × rate)
   * (docs/credits.md), or to the charge recorded on the session: a charge made twice under two keys shows here.
   */
  misCharged: number;
  /** Per serving process (the pid in its instance id): sessions ended, credits charged. */
  byPid: Map<number, { ended: number; charged: number }>;
}

interface SessionRecord {
  _id: string;
  status: string;
  instance_id: string;
  rate: number;
  started_at: Date;
  ended_at?: Date;
  charged_credits: number;
}

interface DebitRecord {
  session_id: string;
  seq: number;
  amount: number;
}

async function betaBooks(connection: Connection): Promise<BetaBooks> {
  const [sessions, debits] = await Promise.all([
    connection.collection<SessionRecord>('beta_sessions').find({}).toArray(),
    connection.collection<DebitRecord>('beta_credit_transactions').find({ type: 'debit' }).toArray(),
  ]);
  const debited = new Map<string, number>();
  const keys = new Set<string>();
  let duplicateDebits = 0;
  for (const debit of debits) {
    debited.set(debit.session_id, (debited.get(debit.session_id) ?? 0) + Math.abs(debit.amount));
    const key = `${debit.session_id}:${debit.seq}`;
    duplicateDebits += keys.has(key) ? 1 : 0;
    keys.add(key);
  }
  const byPid = new Map<number, { ended: number; charged: number }>();
  let misCharged = 0;
  for (const session of sessions.filter((s) => s.status === 'ended')) {
    const charged = debited.get(session._id) ?? 0;
    const price = creditsForSeconds(chargeableSeconds(session.ended_at!.getTime() - session.started_at.getTime(), true), session.rate);
    misCharged += charged !== price || charged !== session.charged_credits ? 1 : 0;
    // An instance id is `<host>:<pid>:<random>` (src/common/instance-identity.ts).
    const pid = Number(session.instance_id.split(':').at(-2));
    const instance = byPid.get(pid) ?? { ended: 0, charged: 0 };
    byPid.set(pid, { ended: instance.ended + 1, charged: instance.charged + charged });
  }
  return {
    active: sessions.filter((session) => session.status === 'active').length,
    ended: sessions.filter((session) => session.status === 'ended').length,
    charged: [...debited.values()].reduce((total, credits) => total + credits, 0),
    debits: debits.length,
    duplicateDebits,
    misCharged,
    byPid,
  };
}

/** The openings' floor (opening-floor.ts) in one run. */
interface FloorRow {
  readyP50Ms: number;
  readyP99Ms: number;
  cpuMsPerOpening: number;
}

interface GatewayBenchRuns {
  echo: GatewayBenchRow[];
  gateway: GatewayBenchRow[];
  floor: FloorRow[];
  /** The gateway instances' process ids, in the order of each row's `instances`. */
  gatewayPids: number[];
  /** After the last gateway run. */
  books: BetaBooks;
}

async function runGatewayBench(runs: number): Promise<GatewayBenchRuns> {
  const database = await startEmbeddedDatabase({ backend: 'memory' });
  const databaseUri = withDatabaseName(database.serverUri, 'bench_gateway');
  try {
    const echoRows: GatewayBenchRow[] = [];
    const echo = await startEchoServer();
    try {
      for (let run = 1; run <= runs; run++) {
        echoRows.push(
          await measure({ server: 'ws echo (baseline)', servers: [echo], auths: new Array(SESSIONS).fill({ type: 'auth' }) }, DURATION_MS),
        );
        process.stderr.write(
          `echo run ${run}: ${readyLine(echoRows[run - 1])}; ${echoRows[run - 1].cpuSecondsPerStreamMinute.toFixed(4)} CPU s / stream-min\n`,
        );
      }
    } finally {
      await echo.process.stop();
    }

    const auths = await seedViewers(databaseUri, SESSIONS);
    const reader = await NestFactory.createApplicationContext(seedingModule(databaseUri), { logger: ['error'] });
    const gatewayRows: GatewayBenchRow[] = [];
    const floorRows: FloorRow[] = [];
    const gateways: Server[] = [];
    let books: BetaBooks | undefined;
    try {
      // One after the other, as a rolling start would: the first takes the cluster-wide jobs lease.
      for (let i = 0; i < INSTANCES; i++) {
        gateways.push(await startGateway(databaseUri));
      }
      const server = INSTANCES === 1 ? 'live-dubbing gateway' : `live-dubbing gateway ×${INSTANCES}`;
      for (let run = 1; run <= runs; run++) {
        floorRows.push(await measureFloor(databaseUri));
        gatewayRows.push(await measure({ server, servers: gateways, auths, databasePid: database.pid }, DURATION_MS));
        books = await betaBooks(reader.get<Connection>(getConnectionToken()));
        const { instances } = gatewayRows[run - 1];
        const refusals = instances.map((instance) => instance.refused).join(' + ');
        const openingLoopMax = instances.map((instance) => instance.openingLoopMaxMs.toFixed(0)).join(' / ');
        process.stderr.write(
          `gateway run ${run}: ${readyLine(gatewayRows[run - 1])}; ${gatewayRows[run - 1].cpuSecondsPerStreamMinute.toFixed(4)} CPU s / stream-min; ` +
            `beta sessions left active: ${books.active}; credits charged so far: ${books.charged}; ` +
            `duplicate debits: ${books.duplicateDebits}; sessions charged other than their connected time: ${books.misCharged}; ` +
            `openings refused: ${refusals}; loop delay max while opening: ${openingLoopMax} ms\n`,
        );
      }
    } finally {
      await Promise.all(gateways.map((gateway) => gateway.process.stop()));
      await reader.close();
    }
    return {
      echo: echoRows,
      gateway: gatewayRows,
      floor: floorRows,
      gatewayPids: gateways.map((gateway) => gateway.process.child.pid!),
      books: books!,
    };
  } finally {
    await database.stop();
  }
}

/** The opening's database commands for every session at once, through the driver alone, in a process of its own. */
async function measureFloor(databaseUri: string): Promise<FloorRow> {
  const floor = new IpcChild(fork(bench('./opening-floor.js'), { stdio: 'inherit' }));
  const report = await floor.request<FloorReport, 'floor-done'>(
    { type: 'floor', databaseUri: withDatabaseName(databaseUri, 'bench_opening_floor'), openings: SESSIONS },
    'floor-done',
    STEP_TIMEOUT_MS,
  );
  return {
    readyP50Ms: percentile(report.readyMs, 50),
    readyP99Ms: percentile(report.readyMs, 99),
    cpuMsPerOpening: report.cpuMicros / 1000 / SESSIONS,
  };
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
    openingCpuMs: {
      servers: of((row) => row.openingCpuMs.servers),
      database: of((row) => row.openingCpuMs.database),
      clients: of((row) => row.openingCpuMs.clients),
    },
  };
}

function printTable(runs: GatewayBenchRuns): void {
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
  process.stdout.write(
    `\nCPU per session while the sessions open (medians, ms; servers from the first opening to half a second after the ` +
      `last ready, the database's process over the same time, the clients until the last answer):\n\n`,
  );
  process.stdout.write(
    formatTable(
      ['server', 'servers', 'database', 'clients', 'all processes'],
      rows.map(({ server, openingCpuMs: cpu }) => [
        server,
        cpu.servers.toFixed(2),
        cpu.database.toFixed(2),
        cpu.clients.toFixed(2),
        (cpu.servers + cpu.database + cpu.clients).toFixed(2),
      ]),
    ) + '\n',
  );
  const floor = (measure: (row: FloorRow) => number) => median(runs.floor.map(measure));
  process.stdout.write(
    `\nOpening floor (before each gateway run): one opening's 12 database commands (6 reads together, then 6 writes ` +
      `one after another) for ${SESSIONS} openings at once, through the MongoDB driver alone in a process of its own: ` +
      `p50 ${floor((row) => row.readyP50Ms).toFixed(0)} ms, p99 ${floor((row) => row.readyP99Ms).toFixed(0)} ms, ` +
      `${floor((row) => row.cpuMsPerOpening).toFixed(2)} ms of CPU per opening.\n`,
  );
}

/** Each gateway instance's share of the runs, and the books after them. */
function printInstances(runs: GatewayBenchRuns): void {
  const header = [
    'instance',
    'sessions served',
    'refused (all runs)',
    'CPU s / stream-min',
    'loop delay p99 ms',
    'loop delay max while opening ms',
    'sessions charged by its checkpoints (all runs)',
    'held the jobs lease',
    'beta sessions ended on it (all runs)',
    'credits charged on it (all runs)',
  ];
  const cells = runs.gatewayPids.map((pid, i) => {
    const shares = runs.gateway.map((row) => row.instances[i]);
    // A run in which an instance served nothing (all its openings refused) has no CPU per stream-minute.
    const of = (measure: (share: InstanceRow) => number) => median(shares.map(measure).filter(Number.isFinite));
    const books = runs.books.byPid.get(pid) ?? { ended: 0, charged: 0 };
    return [
      `gateway ${i + 1}`,
      of((share) => share.sessions).toFixed(0),
      String(shares.reduce((total, share) => total + share.refused, 0)),
      of((share) => share.cpuSecondsPerStreamMinute).toFixed(4),
      of((share) => share.eventLoopP99Ms).toFixed(1),
      of((share) => share.openingLoopMaxMs).toFixed(0),
      String(shares.reduce((total, share) => total + (share.checkpointSessions ?? 0), 0)),
      `${shares.filter((share) => share.leaseHeld).length} of ${shares.length} runs`,
      String(books.ended),
      String(books.charged),
    ];
  });
  const { books } = runs;
  process.stdout.write(
    `\nPer instance: medians of ${runs.gateway.length} run(s), counts over all runs; the lease as read at each run's end of streaming.\n\n`,
  );
  process.stdout.write(formatTable(header, cells) + '\n');
  process.stdout.write(
    `\nBooks after the runs: ${books.ended} beta sessions ended, ${books.active} left active; ` +
      `${books.debits} debit entries, ${books.charged} credits; ${books.duplicateDebits} duplicate debits; ` +
      `${books.misCharged} sessions charged other than ceil(ceil(connected s) × rate).\n`,
  );
}

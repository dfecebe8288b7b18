import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, startEmbeddedDatabase } from '../../src/database/embedded-database.js';
import { TEST_JWT_SECRET } from './app.js';
import { freshDatabaseUri } from './database.js';

/*
 * Real processes for fault tests: the embedded database and service instances as children of the test worker,
 * each a pid the test can pause, resume or kill. `stopAllProcesses` (in afterEach) kills whatever a test started,
 * even when it failed; the worker's exit kills what is left, and an instance also exits when the worker is gone.
 */

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 3;

export interface DatabaseProcess {
  /** `mongodb://host:port`, without a database name. */
  readonly serverUri: string;
  readonly pid: number;
  /** A fresh database on this server. */
  uri(label?: string): string;
  /** SIGSTOP: the server keeps its connections open and answers nothing. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceInstance {
  readonly label: string;
  readonly baseUrl: string;
  readonly pid: number;
  /** The file that receives the instance's stdout and stderr (pino's JSON lines). */
  readonly logFile: string;
  wsUrl(path?: string): string;
  /** SIGSTOP. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (after a SIGCONT, should it be paused), resolved with how it exited; SIGKILL after 10 s. */
  stop(): Promise<Exit>;
  logs(): string;
}

/** A child process this worker started and has not reaped. */
class Child {
  private gone = false;

  /** `reaped` resolves once the process is gone; `exited`, when given, tells of an exit nobody asked for. */
  constructor(
    readonly pid: number,
    private readonly reaped: () => Promise<unknown>,
    exited?: Promise<unknown>,
  ) {
    void exited?.then(() => this.forget());
    running.add(this);
  }

  /** Never signals a pid after its process was reaped: the pid may belong to another process by then. */
  signal(name: NodeJS.Signals): void {
    if (this.gone) {
      return;
    }
    try {
      process.kill(this.pid, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
        throw error;
      }
    }
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.reaped();
    this.forget();
  }

  private forget(): void {
    this.gone = true;
    running.delete(this);
  }
}

const running = new Set<Child>();
/** Log files of the instances started since the last `stopAllProcesses`, killed ones included. */
const logFiles: string[] = [];
let logDirectory: string | undefined;

// SIGKILL also ends a stopped process, which could not run its own exit-with-parent check.
process.once('exit', () => running.forEach((child) => child.signal('SIGKILL')));

/** The embedded server (in-memory backend) as its own Java process, apart from the one all test files share. */
export async function startDatabaseProcess(): Promise<DatabaseProcess> {
  const database = await startEmbeddedDatabase({ backend: 'memory' });
  if (database.pid === undefined) {
    await database.stop();
    throw new Error('The embedded database did not report its process id');
  }
  // Called after a SIGKILL, `stop` only waits for the launcher's exit.
  const child = new Child(database.pid, () => database.stop());
  return {
    serverUri: database.serverUri,
    pid: database.pid,
    uri: (label = 'faults') => freshDatabaseUri(database.serverUri, label),
    freeze: () => child.signal('SIGSTOP'),
    thaw: () => child.signal('SIGCONT'),
    kill: () => child.kill(),
  };
}

/**
 * The built service (`dist/src/main.js`) as a child process on a free port, resolved once `GET /health` answers 200.
 * `env` must name the database (`MONGODB_URI`); NODE_ENV, LOG_LEVEL, JWT_SECRET and PORT have test defaults.
 */
export async function startInstance(env: Record<string, string>, options: { label?: string } = {}): Promise<ServiceInstance> {
  if (env.MONGODB_URI === undefined) {
    throw new Error('startInstance needs MONGODB_URI: without it the service would open the embedded database under ./data');
  }
  const label = options.label ?? `instance-${logFiles.length + 1}`;
  for (let attempt = 1; ; attempt++) {
    const port = env.PORT ?? String(await freePort());
    try {
      return await launchInstance(label, { NODE_ENV: 'test', LOG_LEVEL: 'info', JWT_SECRET: TEST_JWT_SECRET, ...env, PORT: port });
    } catch (error) {
      // Another process on this machine may take the port between freePort() and the service's listen().
      if (!(error instanceof PortTakenError) || env.PORT !== undefined || attempt === PORT_ATTEMPTS) {
        throw error;
      }
    }
  }
}

/** Kills every process started here (frozen and paused ones too) and waits until each is gone. */
export async function stopAllProcesses(): Promise<void> {
  logFiles.length = 0;
  await Promise.all([...running].map((child) => child.kill()));
}

/**
 * Runs a fault scenario; when it fails, the error names the log file of every instance it started. On CI, where those
 * files are gone once the run ends, it also carries the last lines each instance logged after its start.
 */
export async function withInstanceLogs<T>(scenario: () => Promise<T>): Promise<T> {
  try {
    return await scenario();
  } catch (error) {
    if (error instanceof Error && logFiles.length > 0) {
      error.message += `\n\nService instance logs:\n${logFiles.map((file) => `  ${file}`).join('\n')}`;
      if (process.env.CI === 'true') {
        error.message += logFiles.map((file) => `\n\nThe end of ${file}:\n${logTail(file)}`).join('');
      }
    }
    throw error;
  }
}

/** Lines the framework logs while an instance starts: nothing a scenario's failure is about. */
const STARTUP_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'WebSocketsController']);
const TAIL_LINES = 60;

/** The last lines an instance logged after its start, one short line each: time, level, context, message, fields. */
function logTail(file: string): string {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0);
  const shown = lines.flatMap((line) => {
    try {
      const { time, level, context, msg, ...fields } = JSON.parse(line);
      delete fields.pid;
      delete fields.hostname;
      if (STARTUP_CONTEXTS.has(context)) {
        return [];
      }
      const at = new Date(time).toISOString().slice(11, 23);
      return [`  ${at} ${level} ${context ?? ''} ${msg} ${JSON.stringify(fields)}`.slice(0, 400)];
    } catch {
      return [`  ${line.slice(0, 400)}`];
    }
  });
  return shown.slice(-TAIL_LINES).join('\n');
}

class PortTakenError extends Error {}

async function launchInstance(label: string, env: Record<string, string>): Promise<ServiceInstance> {
  const logFile = join(logDirectoryPath(), `${label}-${process.pid}-${Date.now()}.log`);
  const root = projectRoot();
  const fd = openSync(logFile, 'a');
  let spawned;
  try {
    // stdin stays a pipe: the preload exits the instance once this worker is gone and the pipe closes.
    spawned = spawn(
      process.execPath,
      ['--import', join(root, 'test', 'harness', 'exit-with-parent.js'), join(root, 'dist', 'src', 'main.js')],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['pipe', fd, fd],
      },
    );
  } finally {
    closeSync(fd);
  }
  const exit = new Promise<Exit>((resolve) => spawned.once('exit', (code, signal) => resolve({ code, signal })));
  if (spawned.pid === undefined) {
    throw new Error(`Cannot start the service ${label}: ${await new Promise((resolve) => spawned.once('error', resolve))}`);
  }
  const child = new Child(spawned.pid, () => exit, exit);
  logFiles.push(logFile);
  const baseUrl = `http://127.0.0.1:${env.PORT}`;
  const logs = () => readFileSync(logFile, 'utf8');
  try {
    await waitHealthy(baseUrl, exit, `${label} (log ${logFile})`, logs);
  } catch (error) {
    await child.kill();
    throw error;
  }
  return {
    label,
    baseUrl,
    pid: child.pid,
    logFile,
    wsUrl: (path = '/ws/live-dubbing') => `${baseUrl.replace(/^http/, 'ws')}${path}`,
    pause: () => child.signal('SIGSTOP'),
    resume: () => child.signal('SIGCONT'),
    kill: () => child.kill(),
    stop: async () => {
      child.signal('SIGCONT');
      child.signal('SIGTERM');
      const force = setTimeout(() => child.signal('SIGKILL'), STOP_TIMEOUT_MS);
      const result = await exit;
      clearTimeout(force);
      return result;
    },
    logs,
  };
}

async function waitHealthy(baseUrl: string, exit: Promise<Exit>, name: string, logs: () => string): Promise<void> {
  let exited: Exit | undefined;
  void exit.then((result) => (exited = result));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== undefined) {
      const tail = logs().trim().split('\n').slice(-15).join('\n');
      const message = `Service ${name} exited (code ${exited.code}, signal ${exited.signal}) before it was healthy:\n${tail}`;
      throw /EADDRINUSE/.test(tail) ? new PortTakenError(message) : new Error(message);
    }
    if (Date.now() > deadline) {
      throw new Error(`Service ${name} was not healthy within ${READY_TIMEOUT_MS} ms`);
    }
    try {
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function logDirectoryPath(): string {
  logDirectory ??= mkdtempSync(join(tmpdir(), 'live-dubbing-faults-'));
  return logDirectory;
}

/** Short real intervals for fault tests: a checkpoint and a quota record every second, a heartbeat every half second. */
export const FAULT_INTERVAL_MS = 1000;
export const FAULT_HEARTBEAT_MS = 500;
/** A session whose owner's heartbeat is older than this is lost. */
export const FAULT_LOST_AFTER_MS = 3 * FAULT_INTERVAL_MS;

/** The instances' environment for fault tests. */
export const FAULT_ENV: Record<string, string> = {
  BETA_CHECKPOINT_INTERVAL_MS: String(FAULT_INTERVAL_MS),
  QUOTA_UPDATE_INTERVAL_MS: String(FAULT_INTERVAL_MS),
  WS_HEARTBEAT_MS: String(FAULT_HEARTBEAT_MS),
  // Idle protection must never end a session these tests keep quiet on purpose.
  WS_IDLE_TIMEOUT_MS: '60000',
};

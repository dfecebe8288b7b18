import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The database name used on the embedded server. */
export const EMBEDDED_DB_NAME = 'live_dubbing';
const STATE_FILE = 'embedded-db.json';
const STORE_FILE = 'live-dubbing.mv.db';
const READY_TIMEOUT_MS = 60_000;

export interface EmbeddedDatabase {
  /** Server address without a database name, e.g. `mongodb://127.0.0.1:41234`. */
  readonly serverUri: string;
  /** True when another process owns the server and this one only connects to it. */
  readonly shared: boolean;
  /** The launcher's process id when this process started it (tests signal it to simulate faults). */
  readonly pid?: number;
  stop(): Promise<void>;
}

/** The project root: the nearest folder above this file that holds the launcher's Maven module. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts', 'embedded-db', 'pom.xml'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error('Cannot find scripts/embedded-db/pom.xml above ' + fileURLToPath(import.meta.url));
    }
    dir = parent;
  }
  return dir;
}

/** Builds the launcher jar with Maven unless a jar newer than its sources is already there. */
function ensureLauncherJar(): string {
  const moduleDir = join(projectRoot(), 'scripts', 'embedded-db');
  const jar = join(moduleDir, 'target', 'embedded-db.jar');
  if (existsSync(jar) && statSync(jar).mtimeMs >= newestSourceMtime(moduleDir)) {
    return jar;
  }
  const build = spawnSync('mvn', ['-q', '-B', '-f', join(moduleDir, 'pom.xml'), 'package'], { encoding: 'utf8' });
  if (build.error !== undefined || build.status !== 0) {
    const output = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim() || String(build.error);
    throw new Error(`Building the embedded database launcher with Maven failed:\n${output}`);
  }
  return jar;
}

function newestSourceMtime(dir: string): number {
  let newest = statSync(join(dir, 'pom.xml')).mtimeMs;
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) {
        walk(child);
      } else {
        newest = Math.max(newest, statSync(child).mtimeMs);
      }
    }
  };
  walk(join(dir, 'src'));
  return newest;
}

/** Starts a launcher owned by this process; it exits when this process does. */
export async function startEmbeddedDatabase(options: { backend: 'memory' } | { backend: 'h2'; file: string }): Promise<EmbeddedDatabase> {
  const jar = ensureLauncherJar();
  const args = ['-jar', jar, '--backend', options.backend, '--parent-pid', String(process.pid), '--exit-on-stdin-close'];
  if (options.backend === 'h2') {
    args.push('--file', options.file);
  }
  const child = spawn('java', ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const serverUri = await waitForUri(child);
  return { serverUri, shared: false, pid: child.pid, stop: () => stopChild(child) };
}

/**
 * The persistent database in `dir`: reuses the server another process (the service, `npm run db`)
 * already runs on it, or starts one for as long as this process lives.
 */
export async function acquireEmbeddedDatabase(dir: string): Promise<EmbeddedDatabase> {
  const root = resolve(dir);
  const running = await findRunningServer(root);
  if (running !== undefined) {
    return { serverUri: running, shared: true, stop: async () => undefined };
  }
  mkdirSync(root, { recursive: true });
  const database = await startEmbeddedDatabase({ backend: 'h2', file: join(root, STORE_FILE) });
  const stateFile = join(root, STATE_FILE);
  writeFileSync(stateFile, JSON.stringify({ uri: database.serverUri, pid: process.pid }) + '\n');
  return {
    ...database,
    stop: async () => {
      rmSync(stateFile, { force: true });
      await database.stop();
    },
  };
}

async function findRunningServer(root: string): Promise<string | undefined> {
  const stateFile = join(root, STATE_FILE);
  if (!existsSync(stateFile)) {
    return undefined;
  }
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { uri: string; pid: number };
    if (isAlive(state.pid) && (await accepts(state.uri))) {
      return state.uri;
    }
  } catch {
    // a torn or stale state file: fall through and start our own server
  }
  rmSync(stateFile, { force: true });
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(uri: string): Promise<boolean> {
  const { hostname, port } = new URL(uri);
  return new Promise((done) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.setTimeout(1000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
    socket.once('close', () => socket.destroy());
    socket.once('connect', () => socket.end());
  });
}

function waitForUri(child: ChildProcess): Promise<string> {
  return new Promise((resolveUri, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`Embedded database did not start within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^MONGODB_URI=(\S+)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.removeAllListeners('exit');
        child.stdout?.resume();
        resolveUri(match[1]);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.once('error', (error) => fail(new Error(`Cannot run java for the embedded database: ${error.message}`)));
    child.once('exit', (code) => fail(new Error(`Embedded database exited with code ${code}: ${stderr.trim()}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((done) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** `mongodb://host:port` + database name. */
export function withDatabaseName(serverUri: string, name: string): string {
  return `${serverUri.replace(/\/+$/, '')}/${name}`;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/database/embedded-database.js';
import { TEST_JWT_SECRET } from '../harness/app.js';
import { runCli } from '../harness/cli.js';
import { http } from '../harness/http.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealthy(baseUrl: string, service: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (service.exitCode !== null) {
      throw new Error(`service exited with ${service.exitCode}: ${output()}`);
    }
    try {
      if ((await http(baseUrl, 'GET', '/health')).status === 200) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`service did not become healthy: ${output()}`);
}

/** Nest's shutdown hooks run on SIGTERM and then re-raise it, so a clean stop ends by that signal. */
function stop(service: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    service.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
    service.kill('SIGTERM');
  });
}

/** The README's start path: no MONGODB_URI, so the service runs on the persistent embedded database. */
describe('service on the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'live-dubbing-data-'));
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    JWT_SECRET: TEST_JWT_SECRET,
    EMBEDDED_DB_PATH: dataDir,
  };

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function startService(port: number): Promise<{ service: ChildProcess; output: () => string }> {
    let output = '';
    const service = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'main.js')], { env: { ...env, PORT: String(port) } });
    service.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    service.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForHealthy(`http://127.0.0.1:${port}`, service, () => output);
    return { service, output: () => output };
  }

  it('starts, shares its database with the CLI, and keeps data across a restart', async () => {
    const port = await freePort();
    const first = await startService(port);
    expect(first.output()).toMatch(/No MONGODB_URI set: using the embedded database \(mongo-java-server, H2 file under/);

    const created = await runCli(['users', 'create', 'persisted@example.com', '--tier', 'premium'], { ...env, LOG_LEVEL: 'silent' });
    expect(created.code).toBe(0);
    expect(await stop(first.service)).toBe('SIGTERM');
    expect(existsSync(join(dataDir, 'embedded-db.json'))).toBe(false);

    const second = await startService(port);
    const token = await runCli(['auth', 'token', 'persisted@example.com'], env);
    expect(token.code).toBe(0);
    const me = await http(`http://127.0.0.1:${port}`, 'GET', '/api/v1/users/me', { token: token.stdout.trim() });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('persisted@example.com');
    expect(await stop(second.service)).toBe('SIGTERM');
  }, 120_000);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JwtService } from '@nestjs/jwt';
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

const SERVICE = join(projectRoot(), 'dist', 'src', 'main.js');

async function startService(port: number, env: Record<string, string>): Promise<{ service: ChildProcess; output: () => string }> {
  let output = '';
  const service = spawn(process.execPath, [SERVICE], { env: { ...env, PORT: String(port) } });
  service.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  service.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForHealthy(`http://127.0.0.1:${port}`, service, () => output);
  return { service, output: () => output };
}

/** No MONGODB_URI, so the service runs on the persistent embedded database (here with a JWT_SECRET). */
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

  it('starts, shares its database with the CLI, and keeps data across a restart', async () => {
    const port = await freePort();
    const first = await startService(port, env);
    expect(first.output()).toMatch(/No MONGODB_URI set: using the embedded database \(mongo-java-server, H2 file under/);

    const created = await runCli(['users', 'create', 'persisted@example.com', '--tier', 'premium'], { ...env, LOG_LEVEL: 'silent' });
    expect(created.code).toBe(0);
    expect(await stop(first.service)).toBe('SIGTERM');
    expect(existsSync(join(dataDir, 'embedded-db.json'))).toBe(false);

    const second = await startService(port, env);
    const token = await runCli(['auth', 'token', 'persisted@example.com'], env);
    expect(token.code).toBe(0);
    const me = await http(`http://127.0.0.1:${port}`, 'GET', '/api/v1/users/me', { token: token.stdout.trim() });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('persisted@example.com');
    expect(await stop(second.service)).toBe('SIGTERM');
  }, 120_000);
});

/** The secret `src/` once carried as its development default, public ever since. */
const FORMER_DEVELOPMENT_SECRET = 'development-only-secret-not-for-production-use';

/** The README's start path: explicit development, no MONGODB_URI, no JWT_SECRET. */
describe('service on the embedded database in explicit development without JWT_SECRET', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'live-dubbing-data-'));
  const secretFile = join(dataDir, 'jwt-secret');
  const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'development', LOG_LEVEL: 'info', EMBEDDED_DB_PATH: dataDir };

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('signs with a random secret kept in EMBEDDED_DB_PATH, shared with the CLI and kept across a restart', async () => {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const adminGet = (token: string) => http(baseUrl, 'GET', '/api/v1/admin/users/admin%40example.com', { token });
    const first = await startService(port, env);
    expect(first.output()).toContain(`No JWT_SECRET set (NODE_ENV=development): tokens are signed with the secret kept in ${secretFile}`);
    const secret = readFileSync(secretFile, 'utf8');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);

    expect((await runCli(['users', 'create', 'admin@example.com', '--tier', 'premium', '--admin'], env)).code).toBe(0);
    const token = (await runCli(['auth', 'token', 'admin@example.com'], env)).stdout.trim();
    const admin = await adminGet(token);
    expect(admin.status).toBe(200);
    const forged = await new JwtService({ secret: FORMER_DEVELOPMENT_SECRET }).signAsync(
      { sub: admin.body.id, email: 'admin@example.com' },
      { expiresIn: 600 },
    );
    expect((await adminGet(forged)).status).toBe(401);
    expect(await stop(first.service)).toBe('SIGTERM');

    const second = await startService(port, env);
    expect(readFileSync(secretFile, 'utf8')).toBe(secret);
    expect((await adminGet(token)).status).toBe(200);
    expect(await stop(second.service)).toBe('SIGTERM');
  }, 120_000);
});

describe('service started without JWT_SECRET outside explicit development', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'live-dubbing-data-'));

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Runs from an empty folder, so no `.env` of the developer's is read. */
  function refusedStart(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      const service = spawn(process.execPath, [SERVICE], {
        cwd: dataDir,
        env: { PATH: process.env.PATH ?? '', EMBEDDED_DB_PATH: dataDir, ...env },
      });
      service.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      service.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      service.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it.each([
    ['NODE_ENV unset', {}],
    ['NODE_ENV=production', { NODE_ENV: 'production' }],
  ])('refuses to start with %s, in one line, generating no secret', async (_, env) => {
    const result = await refusedStart({ ...env, PORT: String(await freePort()) });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Invalid configuration: JWT_SECRET: required [^\n]+\n$/);
    expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
  });

  it('refuses to start, even in development, with the development secret src/ once published', async () => {
    const result = await refusedStart({ NODE_ENV: 'development', JWT_SECRET: FORMER_DEVELOPMENT_SECRET, PORT: String(await freePort()) });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'Invalid configuration: JWT_SECRET: a published example secret; generate your own (e.g. `openssl rand -base64 48`)\n',
    );
  });
});

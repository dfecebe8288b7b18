import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { projectRoot } from '../database/embedded-database.js';
import { readOrCreateSecretFile, resolveJwtSecret } from './jwt-secret-file.js';

/** Another process (the built module, as the service or the CLI runs it) reading or creating the secret in `path`. */
async function secretFromAnotherProcess(path: string): Promise<string> {
  const module = pathToFileURL(join(projectRoot(), 'dist', 'src', 'auth', 'jwt-secret-file.js')).href;
  const script = `import { readOrCreateSecretFile } from '${module}'; process.stdout.write(readOrCreateSecretFile(process.argv[1]));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, path]);
  return stdout;
}

describe(readOrCreateSecretFile.name, () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'jwt-secret-'));
    path = join(dir, 'data', 'jwt-secret');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a random secret of at least 32 bytes in a file only its owner can read or write', () => {
    const secret = readOrCreateSecretFile(path);
    expect(Buffer.byteLength(secret)).toBeGreaterThanOrEqual(32);
    expect(readFileSync(path, 'utf8').trim()).toBe(secret);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('reuses the kept secret on the next call and leaves no draft behind', () => {
    const first = readOrCreateSecretFile(path);
    expect(readOrCreateSecretFile(path)).toBe(first);
    expect(readdirSync(join(dir, 'data'))).toEqual(['jwt-secret']);
  });

  it('gives processes that start together one and the same secret', async () => {
    const secrets = await Promise.all(Array.from({ length: 6 }, () => secretFromAnotherProcess(path)));
    expect(new Set(secrets)).toEqual(new Set([readOrCreateSecretFile(path)]));
    expect(readdirSync(join(dir, 'data'))).toEqual(['jwt-secret']);
  });

  it('generates a different secret for another folder', () => {
    expect(readOrCreateSecretFile(path)).not.toBe(readOrCreateSecretFile(join(dir, 'other', 'jwt-secret')));
  });

  it('refuses a file that others can read', () => {
    readOrCreateSecretFile(path);
    chmodSync(path, 0o644);
    expect(() => readOrCreateSecretFile(path)).toThrow(`must be readable by its owner only: chmod 600 ${path}`);
  });

  it('refuses a file that holds less than 32 bytes', () => {
    readOrCreateSecretFile(path);
    writeFileSync(path, 'short\n');
    expect(() => readOrCreateSecretFile(path)).toThrow('does not hold a JWT secret of at least 32 bytes: delete it to generate a new one');
  });
});

describe(resolveJwtSecret.name, () => {
  it('uses JWT_SECRET as given, writing nothing', () => {
    expect(resolveJwtSecret({ from: 'environment', secret: 'a-secret-from-the-environment-0123456789' })).toBe(
      'a-secret-from-the-environment-0123456789',
    );
  });

  it('reads or generates the kept secret for the file source', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwt-secret-'));
    try {
      const path = join(dir, 'jwt-secret');
      const secret = resolveJwtSecret({ from: 'file', path });
      expect(readFileSync(path, 'utf8').trim()).toBe(secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIN_JWT_SECRET_BYTES, type JwtSecretSource } from '../config/app-config.js';

const GENERATED_SECRET_BYTES = 48;

/** The HS256 signing secret: `JWT_SECRET`, or the generated one kept in its file. */
export function resolveJwtSecret(source: JwtSecretSource): string {
  return source.from === 'environment' ? source.secret : readOrCreateSecretFile(source.path);
}

/**
 * The secret kept in `path`, generated on first use. The service and the CLI both call this, so the
 * CLI's tokens verify on the service; the file is published complete (written aside, then hard-linked
 * into place, which fails if it exists), so two processes starting together agree on one secret.
 */
export function readOrCreateSecretFile(path: string): string {
  if (!existsSync(path)) {
    createSecretFile(path);
  }
  return readSecretFile(path);
}

function createSecretFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const draft = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(draft, randomBytes(GENERATED_SECRET_BYTES).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
  } finally {
    rmSync(draft, { force: true });
  }
}

function readSecretFile(path: string): string {
  // Windows reports no POSIX permissions to check.
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    throw new Error(`${path} holds the JWT signing secret and must be readable by its owner only: chmod 600 ${path}`);
  }
  const secret = readFileSync(path, 'utf8').trim();
  if (Buffer.byteLength(secret) < MIN_JWT_SECRET_BYTES) {
    throw new Error(`${path} does not hold a JWT secret of at least ${MIN_JWT_SECRET_BYTES} bytes: delete it to generate a new one`);
  }
  return secret;
}

// Jest loads global setup outside its module mapper, so this file uses the built launcher glue (`npm test` builds first).
import { existsSync } from 'node:fs';

const glue = new URL('../../dist/src/database/embedded-database.js', import.meta.url);

/** One in-memory embedded server for the whole run; each test file uses its own database on it. */
export default async function globalSetup() {
  if (!existsSync(glue)) {
    throw new Error('dist/ is missing: run the tests with `npm test`, which builds first');
  }
  const { startEmbeddedDatabase } = await import(glue.href);
  const database = await startEmbeddedDatabase({ backend: 'memory' });
  process.env.TEST_MONGODB_SERVER = database.serverUri;
  globalThis.__embeddedDatabase = database;
}

// `npm run db`: the embedded database alone, for several service instances and the CLI to share.
import { parseEnvironment } from '../src/config/environment.js';
import { acquireEmbeddedDatabase, EMBEDDED_DB_NAME, startEmbeddedDatabase, withDatabaseName } from '../src/database/embedded-database.js';

async function main(): Promise<void> {
  // Only the database's own variables: the database alone needs no JWT secret.
  const embeddedPath = parseEnvironment(process.env).EMBEDDED_DB_PATH;
  const inMemory = process.argv.includes('--memory');
  const database = inMemory ? await startEmbeddedDatabase({ backend: 'memory' }) : await acquireEmbeddedDatabase(embeddedPath);
  process.stdout.write(`MONGODB_URI=${withDatabaseName(database.serverUri, EMBEDDED_DB_NAME)}\n`);
  if (database.shared) {
    process.stderr.write(`The embedded database on ${embeddedPath} is already running in another process.\n`);
    return;
  }
  process.stderr.write(`Embedded database ready (${inMemory ? 'in memory' : `H2 file under ${embeddedPath}`}); Ctrl-C stops it.\n`);
  const stop = () => void database.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

import { randomBytes } from 'node:crypto';
import { withDatabaseName } from '../../src/database/embedded-database.js';

export function testServerUri(): string {
  const uri = process.env.TEST_MONGODB_SERVER;
  if (uri === undefined) {
    throw new Error('TEST_MONGODB_SERVER is not set: run the tests through jest (its global setup starts the database)');
  }
  return uri;
}

/** A fresh database on the shared test server, so test files never see each other's data. */
export function testDatabaseUri(label = 'test'): string {
  return freshDatabaseUri(testServerUri(), label);
}

/** A database name no test has used yet on `serverUri`. */
export function freshDatabaseUri(serverUri: string, label = 'test'): string {
  return withDatabaseName(serverUri, `${label.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`);
}

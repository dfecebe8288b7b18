import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app.setup.js';
import { Clock } from '../../src/common/clock.js';
import { AppConfig, loadAppConfig } from '../../src/config/app-config.js';
import { testDatabaseUri } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  baseUrl: string;
  databaseUri: string;
  connection: Connection;
  close(options?: { dropDatabase?: boolean }): Promise<void>;
}

export function testEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    MONGODB_URI: testDatabaseUri(),
    // Most specs keep quiet sessions open for minutes on a manual clock: idle protection only where a spec sets it.
    WS_IDLE_TIMEOUT_MS: String(10 * 365 * 24 * 3600 * 1000),
    ...overrides,
  };
}

/** The real application (HTTP + WebSocket) on a free port, against its own database on the embedded server. */
export async function startTestApp(options: { env?: Record<string, string>; clock?: Clock } = {}): Promise<TestApp> {
  const config = loadAppConfig(testEnvironment(options.env));
  let builder = Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(AppConfig)
    .useValue(config);
  if (options.clock !== undefined) {
    builder = builder.overrideProvider(Clock).useValue(options.clock);
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ bufferLogs: true });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const connection = app.get<Connection>(getConnectionToken());
  return {
    app,
    config,
    baseUrl: `http://127.0.0.1:${address.port}`,
    databaseUri: config.database.uri as string,
    connection,
    /**
     * Every e2e app ends with no session left active: each ending (or suspension, at shutdown) must have reached the
     * database.
     */
    async close({ dropDatabase = true } = {}) {
      if (dropDatabase) {
        await expectNoActiveSessions(connection);
        await connection.dropDatabase();
      }
      await app.close();
    },
  };
}

async function expectNoActiveSessions(connection: Connection): Promise<void> {
  const active = async () =>
    (await connection.collection('beta_sessions').countDocuments({ status: 'active' })) +
    (await connection.collection('live_quota_sessions').countDocuments({ status: 'active' }));
  const deadline = Date.now() + 3000;
  while ((await active()) > 0) {
    if (Date.now() > deadline) {
      throw new Error(`${await active()} beta or quota session(s) still active when the test app closed`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import { AuthModule } from '../../src/auth/auth.module.js';
import { BetaModule } from '../../src/beta/beta.module.js';
import { ChannelsModule } from '../../src/channels/channels.module.js';
import { CommonModule } from '../../src/common/common.module.js';
import { AppConfig, loadAppConfig } from '../../src/config/app-config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { UsersModule } from '../../src/users/users.module.js';
import { testEnvironment } from './app.js';

/** The app's users, channels, tokens and Beta services on a database, in the test process: no HTTP, no scheduler. */
export interface DatabaseContext {
  /** For the factories (`viewer`, `createUserWithToken`, …). */
  app: TestingModule;
  /** The same database, for reading `beta_sessions`, `beta_credits`, `beta_credit_transactions`, `live_quota_sessions`. */
  connection: Connection;
  betaSession(id: string): Promise<any>;
  /** The user's quota sessions, oldest first. */
  quotaSessions(userId: string): Promise<any[]>;
  /** Credits the ledger took for the session: the sum of its debit entries. */
  debited(sessionId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Sets up and reads the database that service instances in other processes use: tokens are signed with the
 * test secret those instances verify, and no checkpoint runs here, so this process never acts as an instance.
 */
export async function openDatabaseContext(databaseUri: string): Promise<DatabaseContext> {
  const config = loadAppConfig(testEnvironment({ MONGODB_URI: databaseUri }));
  const app = await Test.createTestingModule({
    imports: [ConfigModule, CommonModule, MongooseModule.forRoot(databaseUri), AuthModule, UsersModule, ChannelsModule, BetaModule],
  })
    .overrideProvider(AppConfig)
    .useValue(config)
    .compile();
  await app.init();
  const connection = app.get<Connection>(getConnectionToken());
  return {
    app,
    connection,
    betaSession: (id) => connection.collection('beta_sessions').findOne({ _id: id as never }),
    quotaSessions: (userId) => connection.collection('live_quota_sessions').find({ user_id: userId }).sort({ started_at: 1 }).toArray(),
    debited: async (sessionId) => {
      const entries = await connection.collection('beta_credit_transactions').find({ session_id: sessionId, type: 'debit' }).toArray();
      return entries.reduce((sum, entry) => sum - (entry.amount as number), 0);
    },
    close: () => app.close(),
  };
}

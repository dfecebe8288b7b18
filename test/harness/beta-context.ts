import { Test, type TestingModule } from '@nestjs/testing';
import { getConnectionToken, MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { BetaModule } from '../../src/beta/beta.module.js';
import { CreditCheckpointService } from '../../src/beta/checkpoint/credit-checkpoint.service.js';
import { BetaCreditsService } from '../../src/beta/credits/beta-credits.service.js';
import { CreditReconcilerService } from '../../src/beta/credits/credit-reconciler.service.js';
import { GrantExpiryService } from '../../src/beta/credits/grant-expiry.service.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { BetaSessionSignals } from '../../src/beta/sessions/beta-session-signals.js';
import { BetaSessionsService } from '../../src/beta/sessions/beta-sessions.service.js';
import { InstanceIdentity } from '../../src/common/instance-identity.js';
import { Clock } from '../../src/common/clock.js';
import { CommonModule } from '../../src/common/common.module.js';
import { AppConfig, loadAppConfig } from '../../src/config/app-config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { testEnvironment } from './app.js';

/** The Beta module alone (no HTTP, no scheduler) on a given database: one "instance" of the service. */
export interface BetaContext {
  module: TestingModule;
  credits: BetaCreditsService;
  sessions: BetaSessionsService;
  enrollment: BetaEnrollmentService;
  checkpoint: CreditCheckpointService;
  reconciler: CreditReconcilerService;
  expiry: GrantExpiryService;
  signals: BetaSessionSignals;
  connection: Connection;
  close(): Promise<void>;
}

export async function startBetaContext(options: {
  databaseUri: string;
  clock: Clock;
  env?: Record<string, string>;
  instanceId?: string;
}): Promise<BetaContext> {
  const config = loadAppConfig(testEnvironment({ MONGODB_URI: options.databaseUri, ...options.env }));
  let builder = Test.createTestingModule({ imports: [ConfigModule, CommonModule, MongooseModule.forRoot(options.databaseUri), BetaModule] })
    .overrideProvider(AppConfig)
    .useValue(config)
    .overrideProvider(Clock)
    .useValue(options.clock);
  if (options.instanceId !== undefined) {
    builder = builder.overrideProvider(InstanceIdentity).useValue({ id: options.instanceId });
  }
  const module = await builder.compile();
  await module.init();
  return {
    module,
    credits: module.get(BetaCreditsService),
    sessions: module.get(BetaSessionsService),
    enrollment: module.get(BetaEnrollmentService),
    checkpoint: module.get(CreditCheckpointService),
    reconciler: module.get(CreditReconcilerService),
    expiry: module.get(GrantExpiryService),
    signals: module.get(BetaSessionSignals),
    connection: module.get<Connection>(getConnectionToken()),
    close: () => module.close(),
  };
}

import { randomBytes } from 'node:crypto';
import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MongooseModule } from '@nestjs/mongoose';
import { BetaModule } from '../../src/beta/beta.module.js';
import { Clock } from '../../src/common/clock.js';
import { InstanceIdentity } from '../../src/common/instance-identity.js';
import { AppConfig, loadAppConfig } from '../../src/config/app-config.js';

@Module({})
class BenchEnvironmentModule {}

@Module({})
class BenchBetaRootModule {}

/** The Beta module alone (no HTTP, no scheduler) on `databaseUri`, with the given clock: one instance of the service. */
export async function startBetaBenchContext(databaseUri: string, clock: Clock): Promise<INestApplicationContext> {
  const config = loadAppConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    MONGODB_URI: databaseUri,
    JWT_SECRET: randomBytes(48).toString('base64url'),
  });
  const environment: DynamicModule = {
    module: BenchEnvironmentModule,
    global: true,
    providers: [{ provide: AppConfig, useValue: config }, { provide: Clock, useValue: clock }, InstanceIdentity],
    exports: [AppConfig, Clock, InstanceIdentity],
  };
  return NestFactory.createApplicationContext(
    { module: BenchBetaRootModule, imports: [environment, MongooseModule.forRoot(databaseUri), BetaModule] },
    // Errors only: a start-up failure must say why rather than exit silently.
    { logger: ['error'], abortOnError: false },
  );
}

import { Global, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { SystemClock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ConnectionPing, DatabaseHealth, DatabasePing } from './database-health.js';
import { DatabaseUriModule, DatabaseUriResolver } from './database-uri.js';

/** The mongoose connection and DatabaseHealth; global, like the connection, so any module can check the database. */
@Global()
@Module({
  imports: [
    MongooseModule.forRootAsync({
      imports: [DatabaseUriModule],
      inject: [DatabaseUriResolver, AppConfig],
      // Every operation gives up after MONGODB_TIMEOUT_MS, so a frozen or unreachable database makes a write fail
      // (and its caller retry) rather than hang with the session's end.
      useFactory: async (resolver: DatabaseUriResolver, config: AppConfig) => ({
        uri: await resolver.resolve(),
        serverSelectionTimeoutMS: config.database.timeoutMs,
        socketTimeoutMS: config.database.timeoutMs,
      }),
    }),
    DatabaseUriModule,
  ],
  providers: [
    { provide: DatabasePing, useClass: ConnectionPing },
    {
      provide: DatabaseHealth,
      // Pings are timed on real time whatever clock the application runs on: they measure a real connection.
      useFactory: (ping: DatabasePing, metrics?: MetricsService) => new DatabaseHealth(ping, new SystemClock(), metrics),
      inject: [DatabasePing, { token: MetricsService, optional: true }],
    },
  ],
  exports: [DatabaseHealth],
})
export class DatabaseModule {}

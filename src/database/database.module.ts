import { Global, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { SystemClock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ConnectionPing, DatabaseHealth, DatabasePing } from './database-health.js';
import { acquireEmbeddedDatabase, EMBEDDED_DB_NAME, withDatabaseName, type EmbeddedDatabase } from './embedded-database.js';

/** Resolves the database URI: `MONGODB_URI` when set, else the embedded server on `EMBEDDED_DB_PATH`. */
@Injectable()
class DatabaseUriResolver implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private embedded?: EmbeddedDatabase;

  constructor(private readonly config: AppConfig) {}

  async resolve(): Promise<string> {
    if (this.config.database.uri !== undefined) {
      return this.config.database.uri;
    }
    this.embedded = await acquireEmbeddedDatabase(this.config.database.embeddedPath);
    const uri = withDatabaseName(this.embedded.serverUri, EMBEDDED_DB_NAME);
    this.logger.log(
      `No MONGODB_URI set: using the embedded database (mongo-java-server, H2 file under ${this.config.database.embeddedPath}` +
        `${this.embedded.shared ? ', already running' : ''}) at ${uri}. Set MONGODB_URI to use a real MongoDB.`,
    );
    return uri;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.embedded?.stop();
  }
}

@Module({ providers: [DatabaseUriResolver], exports: [DatabaseUriResolver] })
class DatabaseUriModule {}

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

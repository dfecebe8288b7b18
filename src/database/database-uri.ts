import { Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { acquireEmbeddedDatabase, EMBEDDED_DB_NAME, withDatabaseName, type EmbeddedDatabase } from './embedded-database.js';

/** Resolves the database URI: `MONGODB_URI` when set, else the embedded server on `EMBEDDED_DB_PATH`. */
@Injectable()
export class DatabaseUriResolver implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private embedded?: EmbeddedDatabase;

  constructor(private readonly config: AppConfig) {}

  /** The URI `resolve` gave, for the health check's own connection (see ConnectionPing). */
  uri?: string;

  async resolve(): Promise<string> {
    this.uri = await this.resolveOnce();
    return this.uri;
  }

  private async resolveOnce(): Promise<string> {
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
export class DatabaseUriModule {}

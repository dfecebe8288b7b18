import { Global, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { AppConfig, loadAppConfig } from './app-config.js';

/** Loads `.env` (if present) into the environment, then validates it once into the typed `AppConfig`. */
@Global()
@Module({
  imports: [NestConfigModule.forRoot({ ignoreEnvFile: process.env.NODE_ENV === 'test' })],
  providers: [{ provide: AppConfig, useFactory: () => loadAppConfig(process.env) }],
  exports: [AppConfig],
})
export class ConfigModule {}

/**
 * Validates the configuration (`.env` included) before Nest starts, so the service and the CLI stop on
 * a bad setting with its one-line message rather than a logged stack trace.
 */
export async function checkConfiguration(): Promise<void> {
  await NestConfigModule.envVariablesLoaded;
  loadAppConfig(process.env);
}

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { configureHeapGrowth } from './common/heap-growth.js';
import { armShutdownDeadline } from './common/shutdown-deadline.js';
import { AppConfig } from './config/app-config.js';
import { checkConfiguration } from './config/config.module.js';

async function bootstrap(): Promise<void> {
  configureHeapGrowth();
  await checkConfiguration();
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  configureApp(app);
  await app.listen(app.get(AppConfig).port);
  armShutdownDeadline();
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

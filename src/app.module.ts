import { Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { BetaHttpModule } from './beta/beta-http.module.js';
import { BetaModule } from './beta/beta.module.js';
import { BetaSchedulingModule } from './beta/checkpoint/beta-scheduling.module.js';
import { ChannelsHttpModule } from './channels/channels-http.module.js';
import { ChannelsModule } from './channels/channels.module.js';
import { CommonModule } from './common/common.module.js';
import { LoggingModule } from './common/logging.module.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { LiveDubbingModule } from './live-dubbing/live-dubbing.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { UsersHttpModule } from './users/users-http.module.js';
import { UsersModule } from './users/users.module.js';

@Module({
  imports: [
    ConfigModule,
    CommonModule,
    LoggingModule,
    DatabaseModule,
    MetricsModule,
    HealthModule,
    AuthModule,
    UsersModule,
    UsersHttpModule,
    ChannelsModule,
    ChannelsHttpModule,
    BetaModule,
    BetaHttpModule,
    BetaSchedulingModule,
    LiveDubbingModule,
  ],
})
export class AppModule {}

import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuthModule } from '../auth/auth.module.js';
import { BetaModule } from '../beta/beta.module.js';
import { ChannelsModule } from '../channels/channels.module.js';
import { DubbingModule } from '../dubbing/dubbing.module.js';
import { QuotaModule } from '../quota/quota.module.js';
import { UsersModule } from '../users/users.module.js';
import { BetaPreauthorizationInterceptor } from './beta-preauthorization.interceptor.js';
import { ConnectionOpens, ConnectionOpensSchema } from './connection-open.schema.js';
import { ConnectionOpensRepository } from './connection-opens.repository.js';
import { ConnectionRateLimiter } from './connection-rate-limiter.js';
import { LiveDubbingExceptionFilter } from './live-dubbing-exception.filter.js';
import { LiveDubbingGateway } from './live-dubbing.gateway.js';
import {
  AuthMessageGuard,
  ChannelGuard,
  ConnectionRateGuard,
  SessionCapGuard,
  SubscriptionTierGuard,
  WsTokenGuard,
} from './live-dubbing.guards.js';
import { LiveQuotaMeter } from './live-quota-meter.js';
import { LiveSessionDocument, LiveSessionSchema } from './live-session.schema.js';
import { LiveSessionSweeper } from './live-session-sweeper.js';
import { LiveSessionsRepository } from './live-sessions.repository.js';
import { LiveSessionsService } from './live-sessions.service.js';
import { LiveSubtitlesGateway } from './live-subtitles.gateway.js';
import { PendingSockets } from './pending-sockets.js';
import { ClusterModule } from '../cluster/cluster.module.js';
import { SessionSlots } from './session-slots.js';
import { OpeningReadsService } from './opening-reads.js';
import { UserSlotsRepository } from './user-slots.repository.js';
import { UserSlots, UserSlotsSchema } from './user-slots.schema.js';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: ConnectionOpens.name, schema: ConnectionOpensSchema },
      { name: LiveSessionDocument.name, schema: LiveSessionSchema },
      { name: UserSlots.name, schema: UserSlotsSchema },
    ]),
    AuthModule,
    UsersModule,
    ChannelsModule,
    BetaModule,
    QuotaModule,
    DubbingModule,
    ClusterModule,
  ],
  providers: [
    LiveDubbingGateway,
    LiveSubtitlesGateway,
    LiveSessionsService,
    LiveSessionsRepository,
    LiveSessionSweeper,
    LiveQuotaMeter,
    ConnectionOpensRepository,
    ConnectionRateLimiter,
    LiveDubbingExceptionFilter,
    AuthMessageGuard,
    WsTokenGuard,
    ConnectionRateGuard,
    SubscriptionTierGuard,
    SessionCapGuard,
    ChannelGuard,
    BetaPreauthorizationInterceptor,
    PendingSockets,
    SessionSlots,
    UserSlotsRepository,
    OpeningReadsService,
  ],
})
export class LiveDubbingModule {}

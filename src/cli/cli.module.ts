import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ChannelsModule } from '../channels/channels.module.js';
import { CommonModule } from '../common/common.module.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { UsersModule } from '../users/users.module.js';
import { BetaModule } from '../beta/beta.module.js';
import { AuthCommand, AuthLinkCommand, AuthTokenCommand } from './auth.command.js';
import {
  BetaAdjustCommand,
  BetaCommand,
  BetaCreditsCommand,
  BetaEnrollCommand,
  BetaGrantCommand,
  BetaGrantsCommand,
  BetaInviteCommand,
  BetaReconcileCommand,
  BetaSessionsCommand,
} from './beta.command.js';
import { ChannelsCommand, ChannelsCreateCommand } from './channels.command.js';
import { CliOutput, StdoutCliOutput } from './cli-output.js';
import { DbCommand, DbSeedCommand } from './db.command.js';
import { UsersCommand, UsersCreateCommand } from './users.command.js';

/** The operator CLI: the app's own modules (no HTTP, no schedulers) plus thin commands over their services. */
@Module({
  imports: [ConfigModule, CommonModule, DatabaseModule, AuthModule, UsersModule, ChannelsModule, BetaModule],
  providers: [
    { provide: CliOutput, useClass: StdoutCliOutput },
    UsersCommand,
    UsersCreateCommand,
    ChannelsCommand,
    ChannelsCreateCommand,
    AuthCommand,
    AuthTokenCommand,
    AuthLinkCommand,
    DbCommand,
    DbSeedCommand,
    BetaCommand,
    BetaInviteCommand,
    BetaEnrollCommand,
    BetaCreditsCommand,
    BetaGrantCommand,
    BetaGrantsCommand,
    BetaAdjustCommand,
    BetaSessionsCommand,
    BetaReconcileCommand,
  ],
})
export class CliModule {}

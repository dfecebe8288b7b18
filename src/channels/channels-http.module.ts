import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ChannelsController } from './channels.controller.js';
import { ChannelsModule } from './channels.module.js';

/** REST over channels; kept apart from `ChannelsModule`, which the CLI imports without the HTTP guards. */
@Module({
  imports: [AuthModule, ChannelsModule],
  controllers: [ChannelsController],
})
export class ChannelsHttpModule {}

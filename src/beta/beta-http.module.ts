import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { AdminBetaController, BetaController } from './beta.controller.js';
import { BetaModule } from './beta.module.js';

@Module({
  imports: [AuthModule, BetaModule],
  controllers: [BetaController, AdminBetaController],
})
export class BetaHttpModule {}

import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { ClusterModule } from '../../cluster/cluster.module.js';
import { BetaModule } from '../beta.module.js';
import { CreditCheckpointScheduler } from './credit-checkpoint.scheduler.js';

/** The periodic checkpoint; the service imports it, the CLI does not. */
@Module({
  imports: [ScheduleModule.forRoot(), BetaModule, ClusterModule],
  providers: [CreditCheckpointScheduler],
})
export class BetaSchedulingModule {}

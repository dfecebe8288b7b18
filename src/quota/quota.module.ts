import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { QuotaSession, QuotaSessionSchema } from './quota-session.schema.js';
import { QuotaUsage, QuotaUsageSchema } from './quota-usage.schema.js';
import { QuotaRepository } from './quota.repository.js';
import { QuotaService } from './quota.service.js';

/** Live feature quotas: minutes per UTC hour, day and month per tier, metered per connection session. */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: QuotaUsage.name, schema: QuotaUsageSchema },
      { name: QuotaSession.name, schema: QuotaSessionSchema },
    ]),
  ],
  providers: [QuotaRepository, QuotaService],
  exports: [QuotaService],
})
export class QuotaModule {}

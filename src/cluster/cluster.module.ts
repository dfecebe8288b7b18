import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { SystemClock } from '../common/clock.js';
import { InstanceIdentity } from '../common/instance-identity.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ClusterJobsLease } from './cluster-jobs-lease.js';
import { JobLease, JobLeaseSchema } from './job-lease.schema.js';
import { JobLeasesRepository } from './job-leases.repository.js';

/** The lease under which the jobs that must run once per cluster run; the service imports it, the CLI does not. */
@Module({
  imports: [MongooseModule.forFeature([{ name: JobLease.name, schema: JobLeaseSchema }])],
  providers: [
    JobLeasesRepository,
    {
      provide: ClusterJobsLease,
      // Claims are timed on real time whatever clock the application runs on: they are about which process is alive.
      useFactory: (leases: JobLeasesRepository, instance: InstanceIdentity, config: AppConfig, metrics?: MetricsService) =>
        new ClusterJobsLease(leases, instance, config, new SystemClock(), metrics),
      inject: [JobLeasesRepository, InstanceIdentity, AppConfig, { token: MetricsService, optional: true }],
    },
  ],
  exports: [ClusterJobsLease],
})
export class ClusterModule {}

import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Who runs the jobs that must run once per cluster (docs/credits.md, "Many instances"), and until when its claim
 * holds. A claim is taken or renewed by one compare-and-set: held by the claimant, or expired.
 */
@Schema({ collection: 'job_leases', versionKey: false })
export class JobLease {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  holder!: string;

  /** Epoch ms, on the holder's clock, after which any instance may take the lease. */
  @Prop({ type: Number, required: true })
  expires_at!: number;

  /** Epoch ms when the current holder took it. */
  @Prop({ type: Number, required: true })
  acquired_at!: number;
}

export const JobLeaseSchema = SchemaFactory.createForClass(JobLease);

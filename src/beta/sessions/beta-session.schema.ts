import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

export const BETA_SESSION_STATUSES = ['active', 'suspended', 'ended'] as const;
export type BetaSessionStatus = (typeof BETA_SESSION_STATUSES)[number];
export const BETA_END_REASONS = [
  'user_stopped',
  'credits_exhausted',
  'quota_exceeded',
  'quota_failed',
  'error',
  'server_shutdown',
  'instance_lost',
  'beta_revoked',
  'access_revoked',
  'idle_timeout',
] as const;
export type BetaEndReason = (typeof BETA_END_REASONS)[number];

/**
 * A metered session. Its credit state (hold, charged, debit sequence) lives in the account document,
 * updated atomically with the balance; this document records who serves it and the outcome
 * (whether its owner is alive is the live session's record, `live_sessions`).
 */
@Schema({ collection: 'beta_sessions', versionKey: false })
export class BetaSession {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: Number, required: true, default: 0 })
  version!: number;

  @Prop({ type: String, required: true })
  email!: string;

  @Prop({ type: String, required: true })
  user_id!: string;

  @Prop({ type: String, required: true })
  feature!: string;

  @Prop({ type: String, required: true, enum: BETA_SESSION_STATUSES })
  status!: BetaSessionStatus;

  @Prop({ type: String, required: true })
  instance_id!: string;

  /** The owner epoch of the live session that last moved it (suspended, or resumed on `instance_id`). */
  @Prop({ type: Number })
  owner_epoch?: number;

  @Prop({ type: Number, required: true })
  rate!: number;

  @Prop({ type: Number, required: true })
  estimated_cost!: number;

  @Prop({ type: Date, required: true })
  started_at!: Date;

  @Prop({ type: Number, default: 0 })
  charged_credits!: number;

  @Prop({ type: Number, default: 0 })
  charged_seconds!: number;

  @Prop({ type: Date })
  ended_at?: Date;

  @Prop({ type: String, enum: BETA_END_REASONS })
  end_reason?: BetaEndReason;
}

export const BetaSessionSchema = SchemaFactory.createForClass(BetaSession);
BetaSessionSchema.index({ _id: 1, version: 1 }, { unique: true });
BetaSessionSchema.index({ status: 1, instance_id: 1 });
BetaSessionSchema.index({ email: 1, started_at: -1 });

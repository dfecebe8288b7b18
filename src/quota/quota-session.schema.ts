import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { SUBSCRIPTION_TIERS, type SubscriptionTier } from '../users/user.schema.js';
import { QUOTA_FEATURES, type QuotaFeature } from './quota-feature.js';

export const QUOTA_SESSION_STATUSES = ['active', 'suspended', 'completed', 'error'] as const;
export type QuotaSessionStatus = (typeof QUOTA_SESSION_STATUSES)[number];
export type QuotaSessionEndStatus = Exclude<QuotaSessionStatus, 'active' | 'suspended'>;

/** A session that has not ended: running, or suspended until its live session resumes or ends. */
export function isOpen(status: QuotaSessionStatus): status is 'active' | 'suspended' {
  return status === 'active' || status === 'suspended';
}

/** One connection's use of a metered feature, from open to close. */
@Schema({ collection: 'live_quota_sessions', versionKey: false })
export class QuotaSession {
  /** A UUID: every read and update of a running session is by key. */
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  user_id!: string;

  /** The tier when the session opened; its limits apply until the session ends. */
  @Prop({ type: String, required: true, enum: SUBSCRIPTION_TIERS })
  tier!: SubscriptionTier;

  @Prop({ type: String, required: true, enum: QUOTA_FEATURES })
  feature!: QuotaFeature;

  @Prop({ type: String, required: true, enum: QUOTA_SESSION_STATUSES })
  status!: QuotaSessionStatus;

  @Prop({ type: Date, required: true })
  started_at!: Date;

  /**
   * Usage up to this instant is claimed (and counted); also the session's last sign of life. A resume moves it and
   * `started_at` later by the time the session was suspended, which is never counted.
   */
  @Prop({ type: Date, required: true })
  recorded_until!: Date;

  /** ceil(seconds from `started_at` to `recorded_until`): what this session added to the counters. */
  @Prop({ type: Number, required: true })
  used_seconds!: number;

  @Prop({ type: Date })
  ended_at?: Date;

  @Prop({ type: String })
  owner_instance_id?: string;

  /** The owner epoch of the live session that last suspended or resumed it: a later epoch's move always wins. */
  @Prop({ type: Number })
  owner_epoch?: number;

  /** The batch whose claim last moved `recorded_until`: how a batch of claims tells the ones that won. */
  @Prop({ type: String })
  claim_token?: string;
}

export const QuotaSessionSchema = SchemaFactory.createForClass(QuotaSession);
// A record's claim matches on exactly these keys; the embedded server uses an index only for a filter that is
// a unique index's key set, so without this every claim scans all sessions ever recorded (7 ms at 20 000).
QuotaSessionSchema.index({ _id: 1, status: 1, recorded_until: 1 }, { unique: true });

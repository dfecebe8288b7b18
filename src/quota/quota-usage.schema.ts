import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { QuotaWindow } from '../config/app-config.js';
import { QUOTA_FEATURES, type QuotaFeature } from './quota-feature.js';
import { QUOTA_WINDOWS } from './quota-windows.js';

/** Seconds one user spent on one feature in one calendar window. */
@Schema({ collection: 'live_quota_usage', versionKey: false })
export class QuotaUsage {
  /**
   * `${user_id}:${feature}:${window}:${window_start ISO}`: every increment is an `$inc` upsert by this key,
   * so it uses the primary index and concurrent sessions of one user never lose an increment.
   */
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  user_id!: string;

  @Prop({ type: String, required: true, enum: QUOTA_FEATURES })
  feature!: QuotaFeature;

  @Prop({ type: String, required: true, enum: [...QUOTA_WINDOWS] })
  window!: QuotaWindow;

  @Prop({ type: Date, required: true })
  window_start!: Date;

  @Prop({ type: Number, required: true })
  used_seconds!: number;
}

export const QuotaUsageSchema = SchemaFactory.createForClass(QuotaUsage);

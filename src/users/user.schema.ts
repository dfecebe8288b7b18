import { randomUUID } from 'node:crypto';
import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Schema as MongooseSchema, type Types } from 'mongoose';

export const SUBSCRIPTION_TIERS = ['free', 'basic', 'premium', 'family'] as const;
export type SubscriptionTier = (typeof SUBSCRIPTION_TIERS)[number];
export const SUBSCRIPTION_STATUSES = ['active', 'canceled', 'past_due'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

@Schema({ _id: false })
export class Subscription {
  @Prop({ required: true, enum: SUBSCRIPTION_TIERS, type: String })
  tier!: SubscriptionTier;

  @Prop({ required: true, enum: SUBSCRIPTION_STATUSES, type: String, default: 'active' })
  status!: SubscriptionStatus;
}

@Schema({ collection: 'users', timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' } })
export class User {
  /**
   * A random UUID v4, so an id tells nothing about how many users exist or which comes next. Users
   * stored with an ObjectId keep it: the type is left uncast so a lookup can ask for either.
   */
  @Prop({ type: MongooseSchema.Types.Mixed, default: () => randomUUID() })
  _id!: string | Types.ObjectId;

  /** Stored lower-cased; the unique index makes the server reject a duplicate even under concurrent creates. */
  @Prop({ required: true, unique: true, lowercase: true, trim: true, type: String })
  email!: string;

  @Prop({ required: true, type: String })
  display_name!: string;

  @Prop({ required: true, type: SchemaFactory.createForClass(Subscription) })
  subscription!: Subscription;

  @Prop({ type: [String], enum: USER_ROLES, default: ['user'] })
  roles!: UserRole[];

  @Prop({ type: Boolean, default: true })
  is_active!: boolean;
}

export const UserSchema = SchemaFactory.createForClass(User);

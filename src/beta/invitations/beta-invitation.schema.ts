import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

export const BETA_INVITATION_STATUSES = ['pending', 'accepted', 'revoked', 'expired'] as const;
export type BetaInvitationStatus = (typeof BETA_INVITATION_STATUSES)[number];

/**
 * An invitation to Beta 500 for one email. Only the SHA-256 of its code is stored; the code is shown once.
 * A stored `pending` reads as `expired` from `expires_at` on (computed with the clock; nothing rewrites it on time).
 */
@Schema({ collection: 'beta_invitations', versionKey: false })
export class BetaInvitation {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  email!: string;

  /** Hex SHA-256 of the code. */
  @Prop({ type: String, required: true })
  code_hash!: string;

  @Prop({ type: String, required: true, enum: BETA_INVITATION_STATUSES })
  status!: BetaInvitationStatus;

  /** The email, set only while pending: its unique index keeps one pending invitation per email and finds it by key. */
  @Prop({ type: String })
  pending_email?: string;

  @Prop({ type: Date, required: true })
  created_at!: Date;

  @Prop({ type: Date, required: true })
  expires_at!: Date;

  @Prop({ type: String, required: true })
  created_by!: string;

  @Prop({ type: Date })
  accepted_at?: Date;

  @Prop({ type: Date })
  revoked_at?: Date;
}

export const BetaInvitationSchema = SchemaFactory.createForClass(BetaInvitation);
BetaInvitationSchema.index({ code_hash: 1 }, { unique: true });
BetaInvitationSchema.index({ pending_email: 1 }, { unique: true, sparse: true });
// Makes the conditional update on {_id, status} an indexed lookup on the embedded server too.
BetaInvitationSchema.index({ _id: 1, status: 1 }, { unique: true });
BetaInvitationSchema.index({ status: 1, created_at: -1 });

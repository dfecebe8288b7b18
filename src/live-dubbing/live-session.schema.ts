import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

export const LIVE_SESSION_STATUSES = ['live', 'ending', 'ended'] as const;
export type LiveSessionStatus = (typeof LIVE_SESSION_STATUSES)[number];

/**
 * The cluster-wide record of one live session: who owns it and whether that owner is still alive. Only the
 * holder of `owner_epoch` writes it; anyone else who acts on the session (the lost-session sweep) first moves the
 * epoch by compare-and-set, so the old owner's next heartbeat matches nothing and it lets go (docs/credits.md).
 */
@Schema({ collection: 'live_sessions', versionKey: false })
export class LiveSessionDocument {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  user_id!: string;

  @Prop({ type: String, required: true })
  email!: string;

  @Prop({ type: String, required: true })
  feature!: string;

  @Prop({ type: String, required: true, enum: LIVE_SESSION_STATUSES })
  status!: LiveSessionStatus;

  @Prop({ type: String, required: true })
  owner_instance_id!: string;

  @Prop({ type: Number, required: true })
  owner_epoch!: number;

  /** Written by the owner at least every WS_HEARTBEAT_MS while it serves or ends the session. */
  @Prop({ type: Date, required: true })
  heartbeat_at!: Date;

  @Prop({ type: Date, required: true })
  started_at!: Date;

  /** Chosen before the beta and quota sessions are created, so an interrupted opening can still be cleaned up. */
  @Prop({ type: String })
  beta_session_id?: string;

  @Prop({ type: String, required: true })
  quota_session_id!: string;

  /** Why it ends and the instant charging stops; written before the beta and quota sessions are ended. */
  @Prop({ type: String })
  end_cause?: string;

  @Prop({ type: Date })
  end_at?: Date;

  @Prop({ type: Date })
  ended_at?: Date;

  /** The heartbeat batch that last wrote the session: how a batch tells which of its writes matched. */
  @Prop({ type: String })
  heartbeat_token?: string;
}

export const LiveSessionSchema = SchemaFactory.createForClass(LiveSessionDocument);
// Every owner write matches exactly these keys, which the embedded server can then look up by index.
LiveSessionSchema.index({ _id: 1, owner_epoch: 1 }, { unique: true });
LiveSessionSchema.index({ status: 1, heartbeat_at: 1 });

import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

export const LIVE_SESSION_STATUSES = ['live', 'suspended', 'ending', 'ended'] as const;
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

  /** What a resume serves again: the channel and the languages the session was opened with. */
  @Prop({ type: String, required: true })
  channel_id!: string;

  @Prop({ type: String, required: true })
  source_lang!: string;

  @Prop({ type: String, required: true })
  target_lang!: string;

  /** SHA-256 of the one resume token the client holds now; a resume replaces it (docs/protocol.md, "Resuming"). */
  @Prop({ type: String, required: true })
  resume_token_hash!: string;

  /** Suspended: why (the end cause if it is not resumed), when it stopped being charged, and until when it waits. */
  @Prop({ type: String })
  suspend_cause?: string;

  @Prop({ type: Date })
  lost_at?: Date;

  @Prop({ type: Date })
  resume_until?: Date;

  /**
   * The last resume: charging went on from `resumed_at`, after it stopped at `resume_cut_at`, as owner epoch
   * `resumed_epoch`. Whoever ends the session applies that resume to its credits first, should the resuming instance
   * have died before it did (docs/credits.md, "Charging a session that moves").
   */
  @Prop({ type: Date })
  resumed_at?: Date;

  @Prop({ type: Date })
  resume_cut_at?: Date;

  @Prop({ type: Number })
  resumed_epoch?: number;

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
// A resume finds its session by the token's hash alone, a unique key the embedded server can look up.
LiveSessionSchema.index({ resume_token_hash: 1 }, { unique: true });
LiveSessionSchema.index({ status: 1, resume_until: 1 });

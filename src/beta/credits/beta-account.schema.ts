import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { SessionCredit } from './credit-math.js';
import type { GrantCredit } from './grants.js';

/**
 * A user's credit account, keyed by email. Every change is a compare-and-set on `{_id, version}`
 * (a unique index, so the lookup is indexed even on the embedded server): the rules are checked in
 * code on the version read, and the write succeeds only if nobody changed the account meanwhile.
 */
@Schema({
  collection: 'beta_credits',
  versionKey: false,
  minimize: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class BetaAccount {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: Number, required: true, default: 0 })
  version!: number;

  @Prop({ type: Number, required: true, default: 0 })
  total_granted!: number;

  @Prop({ type: Number, required: true, default: 0 })
  total_debited!: number;

  @Prop({ type: Number, required: true, default: 0 })
  held!: number;

  /** Credit state of each active session (hold, charged, debit sequence): the truth the checkpoint works on. */
  @Prop({ type: Object, required: true, default: {} })
  sessions!: Record<string, SessionCredit>;

  @Prop({ type: Number, required: true, default: 0 })
  active_sessions!: number;

  /**
   * The grants with credits left, or held (docs/credits.md, "Grants"). Absent on accounts from before grants: read as
   * one grant holding the whole balance.
   */
  @Prop({ type: [Object], default: undefined })
  grants?: GrantCredit[];

  /** The amounts of the grants that expired. */
  @Prop({ type: Number })
  expired_granted?: number;

  /** The earliest `expires_at` of the grants: the expiry job reads the accounts whose instant has come. */
  @Prop({ type: Date })
  next_expiry?: Date;

  /**
   * The `account_seq` of the last grant or adjustment applied here: those up to it are applied, the next ones are not.
   * Accounts and entries from before sequences have none: their entries count as applied.
   */
  @Prop({ type: Number, default: 0 })
  applied_seq!: number;

  /** Key of a removal applied as reversed whose reversal entry the ledger does not hold yet. */
  @Prop({ type: String })
  reversal_owed?: string;
}

export const BetaAccountSchema = SchemaFactory.createForClass(BetaAccount);
BetaAccountSchema.index({ _id: 1, version: 1 }, { unique: true });
// The incremental reconcile reads the accounts written since its last run.
BetaAccountSchema.index({ updated_at: 1 });
BetaAccountSchema.index({ next_expiry: 1 }, { sparse: true });

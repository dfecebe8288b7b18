import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

import type { GrantPart } from './grants.js';

export const TRANSACTION_TYPES = ['grant', 'debit', 'adjustment', 'expiry'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** The append-only ledger: one entry per balance change, keyed by its idempotency key. */
@Schema({ collection: 'beta_credit_transactions', versionKey: false })
export class BetaCreditTransaction {
  /**
   * The idempotency key: `debit:<session>:<seq>`, `enrollment:<email>`, `expiry:<grant>`, or one given by an admin.
   * A grant's key is also the grant's id.
   */
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  email!: string;

  @Prop({ type: String, required: true, enum: TRANSACTION_TYPES })
  type!: TransactionType;

  /** Signed change of the balance in credits. */
  @Prop({ type: Number, required: true })
  amount!: number;

  @Prop({ type: String })
  session_id?: string;

  @Prop({ type: Number })
  seq?: number;

  @Prop({ type: String })
  reason?: string;

  @Prop({ type: String })
  actor?: string;

  @Prop({ type: Date, required: true })
  created_at!: Date;

  /** A grant's or adjustment's place in its account's sequence (1, 2, …): the account applies them in this order, once each. */
  @Prop({ type: Number })
  account_seq?: number;

  /**
   * The grants a debit, a removal, a reversal or an expiry took its credits from (or gave them back to); replaying
   * them gives each grant's remainder (docs/credits.md, "Grants"). Entries from before grants have none.
   */
  @Prop({ type: [Object], default: undefined })
  takes?: GrantPart[];

  /** A grant's (or positive adjustment's) priority: lower is spent first. Entries from before grants have none. */
  @Prop({ type: Number })
  priority?: number;

  /** When a grant's unspent credits expire; none: never. */
  @Prop({ type: Date })
  expires_at?: Date;

  /** `<email>#<account_seq>`, unique: one entry per place. */
  @Prop({ type: String })
  account_slot?: string;
}

export const BetaCreditTransactionSchema = SchemaFactory.createForClass(BetaCreditTransaction);
BetaCreditTransactionSchema.index({ email: 1, created_at: -1 });
// The incremental reconcile reads the entries created since its last run.
BetaCreditTransactionSchema.index({ created_at: 1 });
// One field rather than {email, account_seq}: the embedded server's sparse index leaves a document out only when all its
// keys are missing, so a compound one would see every debit as (email, null); a filter on `account_slot` alone is indexed.
BetaCreditTransactionSchema.index({ account_slot: 1 }, { unique: true, sparse: true });

import { randomUUID } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model, mongo } from 'mongoose';
import { Clock } from '../../common/clock.js';
import { driverCollection } from '../../database/driver-collection.js';
import { isDuplicateKeyError } from '../../database/mongo-errors.js';
import { BetaAccount } from './beta-account.schema.js';
import type { AccountCredit } from './credit-math.js';

/** What a settlement reads of an account: its credit state and the version its compare-and-set is on. */
export type AccountCreditState = AccountCredit & { _id: string; version: number };

export type AccountState = AccountCreditState & { active_sessions: number; applied_seq: number; reversal_owed?: string };

export interface AccountWrite {
  email: string;
  version: number;
  next: AccountCredit;
  /** The `account_seq` of the grant or adjustment this write applies. */
  appliedSeq?: number;
  /** Sets (a key) or clears (null) the reversal the account owes the ledger. */
  reversalOwed?: string | null;
}

@Injectable()
export class BetaAccountsRepository implements OnModuleInit {
  constructor(
    @InjectModel(BetaAccount.name) private readonly accounts: Model<BetaAccount>,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.accounts.init();
  }

  async find(email: string): Promise<AccountState | undefined> {
    const found = await this.accounts.findById(email).lean<AccountState>().exec();
    return found === null ? undefined : withAppliedSeq(found);
  }

  /** Creates an empty account unless one exists; safe under concurrent calls. */
  async ensure(email: string): Promise<void> {
    try {
      await this.accounts.create({ _id: email });
    } catch (error) {
      if (!isDuplicateKeyError(error)) {
        throw error;
      }
    }
  }

  /** Accounts with at least one active session (one scan), only their credit state. */
  async findWithActiveSessions(): Promise<AccountCreditState[]> {
    return this.accounts
      .find({ active_sessions: { $gt: 0 } }, { version: 1, total_granted: 1, total_debited: 1, held: 1, sessions: 1 })
      .lean<AccountCreditState[]>()
      .exec();
  }

  async findAll(): Promise<AccountState[]> {
    return (await this.accounts.find({}).lean<AccountState[]>().exec()).map(withAppliedSeq);
  }

  /** The accounts of those emails. */
  async findMany(emails: string[]): Promise<AccountState[]> {
    if (emails.length === 0) {
      return [];
    }
    return (
      await this.accounts
        .find({ _id: { $in: emails } })
        .lean<AccountState[]>()
        .exec()
    ).map(withAppliedSeq);
  }

  /** Emails of the accounts written since `sinceMs` (on the writers' clocks), or with sessions or a reversal owed. */
  async findChangedSince(sinceMs: number): Promise<string[]> {
    const changed = await this.accounts
      .find(
        { $or: [{ updated_at: { $gte: new Date(sinceMs) } }, { active_sessions: { $gt: 0 } }, { reversal_owed: { $exists: true } }] },
        { _id: 1 },
      )
      .lean<{ _id: string }[]>()
      .exec();
    return changed.map((account) => account._id);
  }

  /** Compare-and-set: true when the account was still at `version` and now holds `next`. */
  async write(change: AccountWrite): Promise<boolean> {
    const result = await this.accounts
      .updateOne({ _id: change.email, version: change.version }, toUpdate(change, this.clock.date()), { timestamps: false })
      .exec();
    return result.modifiedCount === 1;
  }

  /**
   * Many compare-and-sets in one round trip. Returns the emails whose write is not known to have
   * landed (a lost race); the caller settles those again one by one, which is idempotent.
   */
  async writeMany(changes: AccountWrite[]): Promise<Set<string>> {
    if (changes.length === 0) {
      return new Set();
    }
    const token = randomUUID();
    const updatedAt = this.clock.date();
    // Straight to the driver: each update is built whole here, so mongoose has nothing to cast (its timestamp is set by toUpdate).
    const operations: mongo.AnyBulkWriteOperation<BetaAccount>[] = changes.map((change) => ({
      updateOne: { filter: { _id: change.email, version: change.version }, update: toUpdate(change, updatedAt, token) },
    }));
    const result = await driverCollection(this.accounts).bulkWrite(operations, { ordered: false });
    if (result.matchedCount === changes.length) {
      return new Set();
    }
    // The bulk result only counts matches: find which writes are ours by their token, in one query (a
    // scan on the embedded server, where `_id: {$in}` is far slower; it returns only this batch's accounts).
    const ours = await this.accounts.find({ write_token: token }, { version: 1 }).lean<{ _id: string; version: number }[]>().exec();
    const landedAt = new Map(ours.map((account) => [account._id, account.version]));
    return new Set(changes.filter((change) => landedAt.get(change.email) !== change.version + 1).map((change) => change.email));
  }
}

/** An account from before sequences has no `applied_seq`: none of its entries has a sequence either. */
function withAppliedSeq(account: AccountState): AccountState {
  return { ...account, applied_seq: account.applied_seq ?? 0 };
}

/**
 * The update of one compare-and-set, stamped with its write time on the application's clock (the incremental
 * reconcile reads it); a batched one also marks the account with its batch's token.
 */
function toUpdate(
  change: AccountWrite,
  updatedAt: Date,
  batchToken?: string,
): { $set: Record<string, unknown>; $inc: { version: 1 }; $unset?: Record<string, 1> } {
  const { next } = change;
  const update: ReturnType<typeof toUpdate> = {
    $set: {
      ...(batchToken === undefined ? {} : { write_token: batchToken }),
      updated_at: updatedAt,
      total_granted: next.total_granted,
      total_debited: next.total_debited,
      held: next.held,
      sessions: next.sessions,
      active_sessions: Object.keys(next.sessions).length,
    },
    $inc: { version: 1 },
  };
  if (change.appliedSeq !== undefined) {
    update.$set.applied_seq = change.appliedSeq;
  }
  if (change.reversalOwed === null) {
    update.$unset = { reversal_owed: 1 };
  } else if (change.reversalOwed !== undefined) {
    update.$set.reversal_owed = change.reversalOwed;
  }
  return update;
}

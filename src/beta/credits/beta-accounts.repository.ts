import { randomUUID } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model, mongo } from 'mongoose';
import { Clock } from '../../common/clock.js';
import { driverCollection } from '../../database/driver-collection.js';
import { FindByIdBatcher } from '../../database/find-by-id-batcher.js';
import { isDuplicateKeyError } from '../../database/mongo-errors.js';
import { BetaAccount } from './beta-account.schema.js';
import type { AccountCredit } from './credit-math.js';
import { nextExpiry, openingGrantId, DEFAULT_GRANT_PRIORITY, type GrantCredit } from './grants.js';

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
  /** Openings and checks at the same time read their accounts in one query. */
  private readonly byId = new FindByIdBatcher(() => driverCollection(this.accounts) as unknown as mongo.Collection<StoredAccount>);

  constructor(
    @InjectModel(BetaAccount.name) private readonly accounts: Model<BetaAccount>,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.accounts.init();
  }

  async find(email: string): Promise<AccountState | undefined> {
    const found = await this.byId.find(email);
    return found === undefined ? undefined : toState(found);
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
    const found = await this.accounts
      .find(
        { active_sessions: { $gt: 0 } },
        { version: 1, total_granted: 1, total_debited: 1, held: 1, sessions: 1, grants: 1, expired_granted: 1, created_at: 1 },
      )
      .lean<StoredAccount[]>()
      .exec();
    return found.map(withGrants);
  }

  async findAll(): Promise<AccountState[]> {
    return (await this.accounts.find({}).lean<StoredAccount[]>().exec()).map(toState);
  }

  /** The accounts of those emails. */
  async findMany(emails: string[]): Promise<AccountState[]> {
    if (emails.length === 0) {
      return [];
    }
    return (
      await this.accounts
        .find({ _id: { $in: emails } })
        .lean<StoredAccount[]>()
        .exec()
    ).map(toState);
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

  /** Emails of the accounts with a grant whose expiry has come by `now` (written off, or waiting for its holders). */
  async findExpiryDue(now: number): Promise<string[]> {
    const due = await this.accounts
      .find({ next_expiry: { $lte: new Date(now) } }, { _id: 1 })
      .lean<{ _id: string }[]>()
      .exec();
    return due.map((account) => account._id);
  }

  /** Compare-and-set: true when the account was still at `version` and now holds `next`. */
  async write(change: AccountWrite): Promise<boolean> {
    // Straight to the driver, as writeMany: the update is built whole, timestamp included, so mongoose has nothing to cast.
    const result = await driverCollection(this.accounts).updateOne(
      { _id: change.email, version: change.version },
      toUpdate(change, this.clock.date()),
    );
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

/** An account as stored: from before grants, it has none. */
type StoredAccount<T extends AccountCreditState = AccountState> = Omit<T, 'grants'> & { grants?: GrantCredit[]; created_at?: Date };

/** An account from before sequences has no `applied_seq`: none of its entries has a sequence either. */
function toState(account: StoredAccount): AccountState {
  return { ...withGrants(account), applied_seq: account.applied_seq ?? 0 };
}

/**
 * An account from before grants keeps its whole balance on one grant of the default priority that never expires,
 * and its sessions' holds on it (docs/credits.md, "Grants"); its next write stores them.
 */
function withGrants<T extends AccountCreditState>(account: StoredAccount<T>): T {
  if (account.grants !== undefined) {
    return account as T;
  }
  const remaining = account.total_granted - account.total_debited;
  if (remaining <= 0 && Object.keys(account.sessions).length === 0) {
    return { ...account, grants: [] } as unknown as T;
  }
  const id = openingGrantId(account._id);
  const opening: GrantCredit = {
    id,
    amount: remaining,
    remaining,
    priority: DEFAULT_GRANT_PRIORITY,
    created_at: account.created_at?.getTime() ?? 0,
  };
  const sessions = Object.fromEntries(
    Object.entries(account.sessions).map(([sessionId, session]) => [
      sessionId,
      session.holds !== undefined || session.hold === 0 ? session : { ...session, holds: [{ grant: id, amount: session.hold }] },
    ]),
  );
  return { ...account, grants: [opening], sessions } as unknown as T;
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
      grants: next.grants,
      expired_granted: next.expired_granted ?? 0,
    },
    $inc: { version: 1 },
  };
  const expiry = nextExpiry(next.grants);
  if (expiry === undefined) {
    update.$unset = { next_expiry: 1 };
  } else {
    update.$set.next_expiry = new Date(expiry);
  }
  if (change.appliedSeq !== undefined) {
    update.$set.applied_seq = change.appliedSeq;
  }
  if (change.reversalOwed === null) {
    update.$unset = { ...update.$unset, reversal_owed: 1 };
  } else if (change.reversalOwed !== undefined) {
    update.$set.reversal_owed = change.reversalOwed;
  }
  return update;
}

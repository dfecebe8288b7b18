import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model, mongo } from 'mongoose';
import { Clock } from '../../common/clock.js';
import { CompareAndSetBatcher } from '../../database/compare-and-set-batcher.js';
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
  /** Their holds, and the checkpoint's settlements, go out together too, each told whether it landed. */
  private readonly writes = new CompareAndSetBatcher(() => driverCollection(this.accounts));

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
  write(change: AccountWrite): Promise<boolean> {
    // Built whole, timestamp included, so the driver takes it as it is, without mongoose casting it.
    return this.writes.write(change.email, change.version, toUpdate(change, this.clock.date()));
  }

  /**
   * Many compare-and-sets, in one command when asked for together. Returns the emails whose write lost a race; the
   * caller settles those again one by one, which is idempotent.
   */
  async writeMany(changes: AccountWrite[]): Promise<Set<string>> {
    const landed = await Promise.all(changes.map((change) => this.write(change)));
    return new Set(changes.filter((_, index) => !landed[index]).map((change) => change.email));
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
 * reconcile reads it). It sets the whole credit state, as `CompareAndSetBatcher` requires.
 */
function toUpdate(
  change: AccountWrite,
  updatedAt: Date,
): { $set: Record<string, unknown>; $inc: { version: 1 }; $unset?: Record<string, 1> } {
  const { next } = change;
  const update: ReturnType<typeof toUpdate> = {
    $set: {
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

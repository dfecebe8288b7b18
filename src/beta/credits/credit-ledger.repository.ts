import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { isDuplicateKeyError } from '../../database/mongo-errors.js';
import { BetaCreditTransaction } from './beta-credit-transaction.schema.js';
import { openingGrantId } from './grants.js';

export type LedgerEntry = BetaCreditTransaction;

/** Per email, what replaying the ledger gives, and the last sequence of its grants and adjustments. */
export interface LedgerTotals {
  granted: number;
  debited: number;
  lastSeq: number;
  /** Each grant's remainder (docs/credits.md, "Grants"); entries from before grants count toward the opening grant. */
  grants: Map<string, number>;
}

function accountSlot(email: string, seq: number): string {
  return `${email}#${seq}`;
}

/**
 * What one entry changes of which grants: the parts it names (taken by a debit, a removal or an expiry; given back
 * by a reversal); a new grant (an entry with a priority); or, for an entry from before grants, the opening grant.
 */
export function grantChanges(entry: Pick<LedgerEntry, '_id' | 'email' | 'amount' | 'takes' | 'priority'>): [string, number][] {
  if (entry.takes !== undefined) {
    const sign = Math.sign(entry.amount);
    return entry.takes.map((part) => [part.grant, sign * part.amount]);
  }
  if (entry.amount > 0 && entry.priority !== undefined) {
    return [[entry._id, entry.amount]];
  }
  return [[openingGrantId(entry.email), entry.amount]];
}

@Injectable()
export class CreditLedgerRepository implements OnModuleInit {
  constructor(@InjectModel(BetaCreditTransaction.name) private readonly ledger: Model<BetaCreditTransaction>) {}

  async onModuleInit(): Promise<void> {
    await this.ledger.init();
  }

  /** Appends the entry, or returns the one already recorded under its key (the first writer wins). */
  async append(entry: LedgerEntry): Promise<{ entry: LedgerEntry; created: boolean }> {
    try {
      await this.ledger.create(entry);
      return { entry, created: true };
    } catch (error) {
      if (!isDuplicateKeyError(error)) {
        throw error;
      }
      const existing = await this.find(entry._id);
      if (existing === undefined) {
        throw error;
      }
      return { entry: existing, created: false };
    }
  }

  /**
   * Appends a grant or adjustment at its place in the account's sequence. False when its key or its
   * place is already taken (by a retry of the same request, or by another change that got there first).
   */
  async appendChange(entry: LedgerEntry & { account_seq: number }): Promise<boolean> {
    try {
      await this.ledger.create({ ...entry, account_slot: accountSlot(entry.email, entry.account_seq) });
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) {
        return false;
      }
      throw error;
    }
  }

  /** The grant or adjustment at place `seq` of the account's sequence. */
  async findBySeq(email: string, seq: number): Promise<LedgerEntry | undefined> {
    return (
      (await this.ledger
        .findOne({ account_slot: accountSlot(email, seq) })
        .lean<LedgerEntry>()
        .exec()) ?? undefined
    );
  }

  /**
   * Appends many entries in one round trip; returns the keys that were already recorded. The caller
   * builds each entry whole, so they go to the driver as they are (`lean`: no documents hydrated).
   */
  async appendMany(entries: LedgerEntry[]): Promise<Set<string>> {
    if (entries.length === 0) {
      return new Set();
    }
    try {
      await this.ledger.insertMany(entries, { ordered: false, lean: true });
      return new Set();
    } catch (error) {
      const writeErrors = (error as { writeErrors?: { index?: number; err?: { index?: number; code?: number }; code?: number }[] })
        .writeErrors;
      if (writeErrors === undefined) {
        throw error;
      }
      const duplicates = new Set<string>();
      for (const writeError of writeErrors) {
        const code = writeError.code ?? writeError.err?.code;
        const index = writeError.index ?? writeError.err?.index;
        if (code !== 11000 || index === undefined) {
          throw error;
        }
        duplicates.add(entries[index]._id);
      }
      return duplicates;
    }
  }

  async find(key: string): Promise<LedgerEntry | undefined> {
    return (await this.ledger.findById(key).lean<LedgerEntry>().exec()) ?? undefined;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.ledger.exists({ _id: key }).exec()) !== null;
  }

  /** The entries, of those keys, that exist: one query. */
  async findMany(keys: string[]): Promise<LedgerEntry[]> {
    return keys.length === 0
      ? []
      : this.ledger
          .find({ _id: { $in: keys } })
          .lean<LedgerEntry[]>()
          .exec();
  }

  /** Newest first; `before` is the cursor (an entry's `created_at` + key from the previous page). */
  async page(email: string, limit: number, before?: { createdAt: Date; key: string }): Promise<LedgerEntry[]> {
    const filter: Record<string, unknown> = { email };
    if (before !== undefined) {
      filter.$or = [{ created_at: { $lt: before.createdAt } }, { created_at: before.createdAt, _id: { $lt: before.key } }];
    }
    return this.ledger.find(filter).sort({ created_at: -1, _id: -1 }).limit(limit).lean<LedgerEntry[]>().exec();
  }

  /** Emails with an entry created since `sinceMs` (on the writers' clocks). */
  async emailsWithEntriesSince(sinceMs: number): Promise<string[]> {
    const entries = await this.ledger
      .find({ created_at: { $gte: new Date(sinceMs) } }, { email: 1 })
      .lean<Pick<LedgerEntry, 'email'>[]>()
      .exec();
    return [...new Set(entries.map((entry) => entry.email))];
  }

  /** Sum of every entry per email (of those `emails`, when given): what replaying the ledger gives. */
  async balances(emails?: string[]): Promise<Map<string, LedgerTotals>> {
    const entries = await this.ledger
      .find(emails === undefined ? {} : { email: { $in: emails } }, { email: 1, amount: 1, account_seq: 1, takes: 1, priority: 1 })
      .lean<Pick<LedgerEntry, '_id' | 'email' | 'amount' | 'account_seq' | 'takes' | 'priority'>[]>()
      .exec();
    const totals = new Map<string, LedgerTotals>();
    for (const entry of entries) {
      const total = totals.get(entry.email) ?? { granted: 0, debited: 0, lastSeq: 0, grants: new Map<string, number>() };
      total.lastSeq = Math.max(total.lastSeq, entry.account_seq ?? 0);
      if (entry.amount >= 0) {
        total.granted += entry.amount;
      } else {
        total.debited -= entry.amount;
      }
      for (const [grant, change] of grantChanges(entry)) {
        total.grants.set(grant, (total.grants.get(grant) ?? 0) + change);
      }
      totals.set(entry.email, total);
    }
    return totals;
  }

  /** The entries that created the account's grants (positive, with a priority), oldest first. */
  async grantsOf(email: string): Promise<LedgerEntry[]> {
    return this.ledger
      .find({ email, amount: { $gt: 0 }, priority: { $exists: true } })
      .sort({ created_at: 1, account_seq: 1 })
      .lean<LedgerEntry[]>()
      .exec();
  }

  /** The ids of the account's grants written off by an expiry. */
  async expiredGrantsOf(email: string): Promise<Set<string>> {
    const entries = await this.ledger.find({ email, type: 'expiry' }, { takes: 1 }).lean<Pick<LedgerEntry, 'takes'>[]>().exec();
    return new Set(entries.flatMap((entry) => (entry.takes ?? []).map((part) => part.grant)));
  }

  async findBySession(sessionId: string): Promise<LedgerEntry[]> {
    return this.ledger.find({ session_id: sessionId }).sort({ seq: 1 }).lean<LedgerEntry[]>().exec();
  }
}

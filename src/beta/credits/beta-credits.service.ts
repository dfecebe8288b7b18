import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { BetaAccountsRepository, type AccountCreditState, type AccountState, type AccountWrite } from './beta-accounts.repository.js';
import type { TransactionType } from './beta-credit-transaction.schema.js';
import { CreditLedgerRepository, type LedgerEntry } from './credit-ledger.repository.js';
import {
  applyRecordedChange,
  availableCredits,
  planExpiry,
  debitKey,
  planSettlement,
  remainingCredits,
  resumeSessionCredit,
  unexpiredGranted,
  type AccountCredit,
  type PlannedDebit,
  type RecordedDebit,
  type SettleAt,
  type SettlementPlan,
} from './credit-math.js';
import { DEFAULT_GRANT_PRIORITY, MAX_GRANT_PRIORITY, isExpired, takeFree, type GrantCredit } from './grants.js';

const MAX_ATTEMPTS = 100;

export interface CreditBalance {
  totalCredits: number;
  /** Granted and not expired: what a credit bar is drawn against, as `ready.beta.granted_credits`. */
  grantedCredits: number;
  remainingCredits: number;
  heldCredits: number;
  availableCredits: number;
  activeSessions: number;
}

/** A grant as admins and users see it. */
export interface GrantView {
  id: string;
  amount: number;
  remaining: number;
  priority: number;
  expiresAt?: number;
  createdAt: number;
  reason?: string;
  /** `active`: credits left; `spent`: none left; `expired`: its expiry came (what was left is written off). */
  status: 'active' | 'spent' | 'expired';
}

/** A page of an account's ledger, newest first; `hasMore` when older entries follow the last one. */
export interface LedgerPage {
  entries: LedgerEntry[];
  hasMore: boolean;
}

export interface Settlement {
  email: string;
  account: AccountCredit;
  debits: PlannedDebit[];
  exhausted: string[];
  closed: string[];
  closedSessions: SettlementPlan['closedSessions'];
}

/**
 * The only way credits change. Every change is a ledger entry written first, under its idempotency key
 * (unique for ever: a retry finds the entry and reuses its amount), then applied to the account by a
 * compare-and-set. A crash between the two leaves an entry that the retry, the account's next grant or
 * adjustment, or reconcile applies.
 */
@Injectable()
export class BetaCreditsService {
  private readonly logger = new Logger(BetaCreditsService.name);

  constructor(
    private readonly accounts: BetaAccountsRepository,
    private readonly ledger: CreditLedgerRepository,
    private readonly clock: Clock,
  ) {}

  async balance(email: string): Promise<CreditBalance> {
    const account = await this.accounts.find(email);
    return toBalance(account, this.clock.now());
  }

  account(email: string): Promise<AccountState | undefined> {
    return this.accounts.find(email);
  }

  /** Up to `limit` ledger entries of the account, newest first, older than `before` (the last entry of the previous page). */
  async transactions(email: string, limit: number, before?: { createdAt: Date; key: string }): Promise<LedgerPage> {
    const entries = await this.ledger.page(email, limit + 1, before);
    return { entries: entries.slice(0, limit), hasMore: entries.length > limit };
  }

  /**
   * Adds (or, for a negative adjustment, removes) credits once per `key`, however long the account's history.
   * A reused key answers as its first request did and, unless `keyReuse` is 'first-request', is refused
   * (conflict) when it asks for another amount, reason or type. A removal larger than the available balance is
   * refused, also when a session's hold takes the credits between the check and the apply (it is then reversed).
   * An addition is a grant (docs/credits.md, "Grants"): `priority` (default 10) and `expiresAt` (default never); a
   * removal burns the free credits down in the grants' order, and its entry names the grants it takes from.
   */
  async change(input: {
    email: string;
    amount: number;
    key: string;
    type: Exclude<TransactionType, 'debit' | 'expiry'>;
    reason?: string;
    actor?: string;
    priority?: number;
    expiresAt?: Date;
    keyReuse?: 'same-request' | 'first-request';
  }): Promise<CreditBalance> {
    if (!Number.isSafeInteger(input.amount) || input.amount === 0) {
      throw new DomainError(ErrorCode.InvalidInput, 'amount must be a non-zero whole number of credits');
    }
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const recorded = await this.ledger.find(input.key);
      if (recorded !== undefined) {
        if (input.keyReuse !== 'first-request' && !isSameRequest(recorded, input)) {
          throw new DomainError(
            ErrorCode.Conflict,
            `Idempotency key ${input.key} was already used for another change (${recorded.amount} credits, reason "${recorded.reason ?? ''}")`,
          );
        }
        return this.outcomeOf(recorded);
      }
      await this.accounts.ensure(input.email);
      const account = (await this.applyRecorded(input.email))!;
      const now = this.clock.now();
      if (input.amount < 0 && availableCredits(account, now) < -input.amount) {
        throw insufficientCredits(-input.amount, availableCredits(account, now));
      }
      const entry: LedgerEntry & { account_seq: number } = {
        _id: input.key,
        email: input.email,
        type: input.type,
        amount: input.amount,
        reason: input.reason,
        actor: input.actor,
        created_at: new Date(now),
        account_seq: account.applied_seq + 1,
        ...(input.amount > 0
          ? {
              priority: input.priority ?? DEFAULT_GRANT_PRIORITY,
              ...(input.expiresAt === undefined ? {} : { expires_at: input.expiresAt }),
            }
          : { takes: takeFree(account.grants, account.sessions, -input.amount, now) }),
      };
      if (await this.ledger.appendChange(entry)) {
        return this.outcomeOf(entry);
      }
      // The key was recorded meanwhile (a concurrent retry) or another change took this place: look again.
    }
    throw contention(`Could not change the credits of ${input.email}: too much contention`);
  }

  /**
   * Grants `amount` credits once per `key` (docs/credits.md, "Grants"): spent in the order of `priority` (0–100, lower
   * first, default 10), then earliest `expiresAt` (none: never expires, spent last), then age. A reused key answers as
   * its first request did, and is refused (conflict) when it asks for another grant. Returns the grant as it stands.
   */
  async grant(input: {
    email: string;
    amount: number;
    key: string;
    reason: string;
    priority?: number;
    expiresAt?: Date;
    actor?: string;
  }): Promise<GrantView> {
    if (!Number.isSafeInteger(input.amount) || input.amount < 1) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        'amount must be a whole number of credits, at least 1 (remove credits with an adjustment)',
      );
    }
    const priority = input.priority ?? DEFAULT_GRANT_PRIORITY;
    if (!Number.isSafeInteger(priority) || priority < 0 || priority > MAX_GRANT_PRIORITY) {
      throw new DomainError(ErrorCode.InvalidInput, `priority must be a whole number from 0 to ${MAX_GRANT_PRIORITY}`);
    }
    const recorded = await this.ledger.find(input.key);
    if (recorded === undefined && input.expiresAt !== undefined && !(input.expiresAt.getTime() > this.clock.now())) {
      throw new DomainError(ErrorCode.InvalidInput, 'expires_at must be in the future');
    }
    await this.change({ ...input, type: 'grant', priority });
    return (await this.grants(input.email)).find((grant) => grant.id === input.key)!;
  }

  /**
   * Every grant of the account, newest first, with what is left of it: from the ledger (a grant spent or expired is no
   * longer on the account) and the account (the remainders). An account from before grants shows its opening grant.
   */
  async grants(email: string): Promise<GrantView[]> {
    const [account, entries, writtenOff] = await Promise.all([
      this.accounts.find(email),
      this.ledger.grantsOf(email),
      this.ledger.expiredGrantsOf(email),
    ]);
    const now = this.clock.now();
    const onAccount = new Map((account?.grants ?? []).map((grant) => [grant.id, grant]));
    const views: GrantView[] = entries.map((entry) => {
      const grant = onAccount.get(entry._id);
      onAccount.delete(entry._id);
      const state: GrantCredit = {
        id: entry._id,
        amount: entry.amount,
        remaining: grant?.remaining ?? 0,
        priority: entry.priority ?? DEFAULT_GRANT_PRIORITY,
        created_at: entry.created_at.getTime(),
        ...(entry.expires_at === undefined ? {} : { expires_at: entry.expires_at.getTime() }),
      };
      return grantView(state, now, writtenOff.has(entry._id), entry.reason);
    });
    // Newest first (the ledger's order breaks ties of one instant); last, what the ledger names no grant for: an
    // account's opening grant.
    views.reverse();
    views.push(...[...onAccount.values()].map((grant) => grantView(grant, now, writtenOff.has(grant.id), 'balance before grants')));
    return views;
  }

  /**
   * Applies the grants and adjustments recorded for the account and not applied yet, in sequence order, and
   * first records a reversal the account owes the ledger. Each entry takes the next place of its account's
   * sequence (a unique slot) only once every earlier one is applied, so what is pending is a contiguous run
   * after `applied_seq`: at most one per change in flight or crashed between its ledger insert and this write.
   * Returns the account with nothing pending.
   */
  async applyRecorded(email: string): Promise<AccountState | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const account = await this.accounts.find(email);
      if (account === undefined) {
        return undefined;
      }
      if (account.reversal_owed !== undefined) {
        await this.recordReversal(account, account.reversal_owed);
        continue;
      }
      const entry = await this.ledger.findBySeq(email, account.applied_seq + 1);
      if (entry === undefined) {
        return account;
      }
      const { account: next, reversed } = applyRecordedChange(account, entry, this.clock.now());
      // Whether a removal still fits is decided only by this compare-and-set, on the version read; its reversal
      // entry follows (an account that owes one records it before it applies anything else).
      await this.accounts.write({
        email,
        version: account.version,
        next,
        appliedSeq: account.applied_seq + 1,
        reversalOwed: reversed ? entry._id : undefined,
      });
    }
    throw contention(`Could not update the account of ${email}: too much contention`);
  }

  /**
   * Places a hold of `estimate` credits for a new session if the available balance covers it.
   * One compare-and-set on the account, so N concurrent starts can never hold more than there is (I5).
   * `earlier`, a read of the account the caller started before, saves the first read: the compare-and-set on its
   * version refuses it if the account was written since, and the next attempt reads again. With the hold placed (or
   * found placed), `account` is the account as that write left it (or as read).
   */
  async reserve(
    input: {
      email: string;
      sessionId: string;
      estimate: number;
      rate: number;
      startedAt: number;
    },
    earlier?: Promise<AccountState | undefined>,
  ): Promise<{ ok: boolean; remaining: number; available: number; account?: AccountCredit }> {
    let outcome: { ok: boolean; remaining: number; available: number; account?: AccountCredit } = { ok: false, remaining: 0, available: 0 };
    await this.casLoop(
      input.email,
      (account) => {
        const available = availableCredits(account, input.startedAt);
        outcome = { ok: false, remaining: remainingCredits(account, input.startedAt), available };
        if (account.sessions[input.sessionId] !== undefined) {
          outcome = { ...outcome, ok: true, account };
          return undefined;
        }
        if (available < input.estimate) {
          return undefined;
        }
        const next: AccountCredit = {
          ...account,
          held: account.held + input.estimate,
          sessions: {
            ...account.sessions,
            [input.sessionId]: {
              seq: 0,
              hold: input.estimate,
              holds: takeFree(account.grants, account.sessions, input.estimate, input.startedAt),
              charged: 0,
              started_at: input.startedAt,
              rate: input.rate,
              hold_target: input.estimate,
            },
          },
        };
        outcome = { ok: true, remaining: remainingCredits(account, input.startedAt), available: available - input.estimate, account: next };
        return { next };
      },
      earlier,
    );
    return outcome;
  }

  /**
   * A suspended (or taken over) session resumes as owner `epoch`: the time from `cutAt` to `resumeAt` is not charged.
   * Applied once per epoch, however often it is retried; false when the account no longer holds the session.
   */
  async resumeSession(email: string, sessionId: string, resume: { cutAt: number; resumeAt: number; epoch: number }): Promise<boolean> {
    let held = false;
    await this.casLoop(email, (account) => {
      const session = account.sessions[sessionId];
      held = session !== undefined;
      const resumed = session === undefined ? undefined : resumeSessionCredit(session, resume);
      return resumed === undefined ? undefined : { next: { ...account, sessions: { ...account.sessions, [sessionId]: resumed } } };
    });
    return held;
  }

  /**
   * Charges sessions of one account up to `now` (the final settlement for those in `final`); idempotent. With
   * `epochs`, a session resumed by another owner since is not charged (see planSettlement).
   */
  async settle(
    email: string,
    sessionIds: string[],
    now: SettleAt,
    final: Set<string> = new Set(),
    epochs?: Map<string, number>,
  ): Promise<Settlement | undefined> {
    const adopted = new Map<string, RecordedDebit>();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const account = await this.accounts.find(email);
      if (account === undefined) {
        return undefined;
      }
      const plan = planSettlement(account, sessionIds, now, final, adopted, epochs);
      if (await this.adoptRecordedDebits(email, plan.debits, adopted)) {
        continue;
      }
      if (!plan.changed || (await this.accounts.write({ email, version: account.version, next: plan.account }))) {
        return { email, ...plan };
      }
    }
    throw contention(`Could not settle the account of ${email}: too much contention`);
  }

  /**
   * Applies the debits recorded for these sessions but not applied to the account (the process stopped between the
   * two writes), and charges nothing else: no time is charged here, whoever runs it. The owner charges a live
   * session, a suspension charges up to `lost_at`, an end up to `end_at` (docs/credits.md, "Reconcile"). Returns the
   * sessions it applied a debit to.
   */
  async applyRecordedDebits(email: string, sessionIds: string[]): Promise<string[]> {
    const applied = new Set<string>();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const account = await this.accounts.find(email);
      const held = sessionIds.filter((id) => account?.sessions[id] !== undefined);
      if (account === undefined || held.length === 0) {
        return [...applied];
      }
      const keys = held.map((id) => debitKey(id, account.sessions[id].seq + 1));
      const recorded = await this.ledger.findMany(keys);
      if (recorded.length === 0) {
        return [...applied];
      }
      const adopted = new Map(recorded.map((entry) => [entry._id, recordedDebit(entry)]));
      const pending = held.filter((_, i) => adopted.has(keys[i]));
      // Settled at each session's own start, a session's charge comes only from the debit already recorded for it.
      const plan = planSettlement(account, pending, (id) => account.sessions[id].started_at, new Set(), adopted);
      if (await this.accounts.write({ email, version: account.version, next: plan.account })) {
        pending.forEach((id) => applied.add(id));
      }
    }
    throw contention(`Could not apply the recorded debits of ${email}: too much contention`);
  }

  /**
   * Writes off the unspent remainder of each grant of the account that has expired, once (docs/credits.md, "Expiry"):
   * one `expiry` ledger entry per grant, under a key of the grant's own, so however many instances run this at once,
   * and however often a crash makes it run again, the remainder leaves the balance once. A grant a session still holds
   * waits: its owner's next settlement charges the seconds used before the expiry and moves the hold to other grants.
   * Returns the credits written off.
   */
  async expireGrants(email: string): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const account = await this.accounts.find(email);
      const now = this.clock.now();
      if (account === undefined) {
        return 0;
      }
      const plan = planExpiry(account, now);
      if (plan === undefined) {
        return 0;
      }
      // A debit a crash left recorded but unapplied may take from these grants: applied first, it is counted.
      if ((await this.applyRecordedDebits(email, Object.keys(account.sessions))).length > 0) {
        continue;
      }
      const written = new Map<string, number>();
      for (const writeOff of plan.writeOffs) {
        const { entry } = await this.ledger.append({
          _id: expiryKey(writeOff.grant),
          email,
          type: 'expiry',
          amount: -writeOff.amount,
          takes: [writeOff],
          reason: `grant ${writeOff.grant} expired`,
          created_at: new Date(now),
        });
        written.set(writeOff.grant, -entry.amount);
        if (-entry.amount !== writeOff.amount) {
          this.logger.error(
            { email, grant: writeOff.grant, recorded: -entry.amount, remaining: writeOff.amount },
            'Expiry recorded another remainder',
          );
        }
      }
      const expired = [...written.values()].reduce((sum, amount) => sum + amount, 0);
      const next: AccountCredit = { ...plan.account, total_debited: account.total_debited + expired };
      if (await this.accounts.write({ email, version: account.version, next })) {
        if (expired > 0) {
          this.logger.log({ email, grants: [...written.keys()], expired_credits: expired }, 'Expired grants written off');
        }
        return expired;
      }
    }
    throw contention(`Could not expire the grants of ${email}: too much contention`);
  }

  /**
   * Settles many accounts with one bulk ledger insert and one bulk compare-and-set; accounts whose
   * debits were already recorded or whose write lost a race are settled again one by one.
   */
  async settleMany(
    accounts: AccountCreditState[],
    sessionsByEmail: Map<string, string[]>,
    now: SettleAt,
    epochs?: Map<string, number>,
  ): Promise<Settlement[]> {
    const plans = new Map<string, { account: AccountCreditState; plan: SettlementPlan }>();
    for (const account of accounts) {
      const sessionIds = sessionsByEmail.get(account._id);
      if (sessionIds !== undefined) {
        plans.set(account._id, { account, plan: planSettlement(account, sessionIds, now, new Set(), new Map(), epochs) });
      }
    }
    const debits = [...plans.values()].flatMap(({ account, plan }) => plan.debits.map((debit) => this.debitEntry(account._id, debit)));
    const recorded = await this.ledger.appendMany(debits);
    const emailByKey = new Map(debits.map((entry) => [entry._id, entry.email]));
    const retry = new Set([...recorded].map((key) => emailByKey.get(key)!));
    const writes: AccountWrite[] = [...plans.values()]
      .filter(({ account, plan }) => plan.changed && !retry.has(account._id))
      .map(({ account, plan }) => ({ email: account._id, version: account.version, next: plan.account }));
    for (const email of await this.accounts.writeMany(writes)) {
      retry.add(email);
    }
    const settled: Settlement[] = [];
    for (const [email, { plan }] of plans) {
      if (retry.has(email)) {
        const again = await this.settle(email, sessionsByEmail.get(email) ?? [], now, new Set(), epochs);
        if (again !== undefined) {
          settled.push(again);
        }
      } else {
        settled.push({ email, ...plan });
      }
    }
    return settled;
  }

  /** Writes the plan's debits to the ledger; when one was already recorded, learns its amount and asks to plan again. */
  private async adoptRecordedDebits(email: string, debits: PlannedDebit[], adopted: Map<string, RecordedDebit>): Promise<boolean> {
    let replan = false;
    for (const debit of debits) {
      if (adopted.has(debit.key)) {
        continue;
      }
      const { entry, created } = await this.ledger.append(this.debitEntry(email, debit));
      adopted.set(debit.key, recordedDebit(entry));
      replan ||= !created;
    }
    return replan;
  }

  private debitEntry(email: string, debit: PlannedDebit): LedgerEntry {
    return {
      _id: debit.key,
      email,
      type: 'debit',
      amount: -debit.amount,
      session_id: debit.sessionId,
      seq: debit.seq,
      takes: debit.takes,
      created_at: this.clock.date(),
    };
  }

  /** Applies everything recorded up to `entry` and answers as its first request was answered. */
  private async outcomeOf(entry: LedgerEntry): Promise<CreditBalance> {
    await this.applyRecorded(entry.email);
    const balance = await this.balance(entry.email);
    if (entry.amount < 0 && (await this.ledger.exists(reversalKey(entry._id)))) {
      throw insufficientCredits(-entry.amount, balance.availableCredits);
    }
    return balance;
  }

  /** Writes the reversal entry of a removal the account applied as reversed (once: its key), then clears the debt. */
  private async recordReversal(account: AccountState, removalKey: string): Promise<void> {
    const removal = await this.ledger.find(removalKey);
    if (removal !== undefined) {
      const { created } = await this.ledger.append({
        _id: reversalKey(removalKey),
        email: removal.email,
        type: removal.type,
        amount: -removal.amount,
        // The removal's grants get their credits back: replayed together, the two change no grant.
        ...(removal.takes === undefined ? {} : { takes: removal.takes }),
        reason: 'reversal: the balance no longer covered this removal',
        actor: removal.actor,
        created_at: this.clock.date(),
      });
      if (created) {
        this.logger.warn({ email: account._id, key: removalKey }, 'Credit removal reversed: the balance no longer covered it');
      }
    }
    await this.accounts.write({ email: account._id, version: account.version, next: account, reversalOwed: null });
  }

  private async casLoop(
    email: string,
    decide: (account: AccountState) => { next: AccountCredit } | undefined,
    earlier?: Promise<AccountState | undefined>,
  ): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // A read started earlier stands for the first one; when it found no account, the account is read now.
      const account = (attempt === 0 ? await earlier : undefined) ?? (await this.accounts.find(email));
      if (account === undefined) {
        return;
      }
      const decision = decide(account);
      if (decision === undefined) {
        return;
      }
      if (await this.accounts.write({ email, version: account.version, next: decision.next })) {
        return;
      }
    }
    throw contention(`Could not update the account of ${email}: too much contention`);
  }
}

/** One expiry per grant, whoever writes it. */
function expiryKey(grantId: string): string {
  return `expiry:${grantId}`;
}

/** In a namespace of its own, so no key an admin or the CLI gives can name a reversal. */
function reversalKey(removalKey: string): string {
  return `reversal:${removalKey}`;
}

function insufficientCredits(amount: number, available: number): DomainError {
  return new DomainError(ErrorCode.InsufficientCredits, `Cannot remove ${amount} credits: only ${available} available`, {
    available_credits: available,
  });
}

/** A reused key asks for the same change when it names the same account, type, amount and reason (and expiry and priority). */
function isSameRequest(
  recorded: LedgerEntry,
  input: { email: string; type: string; amount: number; reason?: string; priority?: number; expiresAt?: Date },
): boolean {
  return (
    recorded.email === input.email &&
    recorded.type === input.type &&
    recorded.amount === input.amount &&
    (recorded.reason ?? undefined) === (input.reason ?? undefined) &&
    (input.amount < 0 || recorded.priority === undefined || recorded.priority === (input.priority ?? DEFAULT_GRANT_PRIORITY)) &&
    recorded.expires_at?.getTime() === input.expiresAt?.getTime()
  );
}

/** `expired` once its expiry came with credits left (written off, or about to be); `spent` when none were left. */
function grantView(grant: GrantCredit, now: number, writtenOff: boolean, reason?: string): GrantView {
  const expired = writtenOff || (isExpired(grant, now) && grant.remaining > 0);
  return {
    id: grant.id,
    amount: grant.amount,
    remaining: expired ? 0 : grant.remaining,
    priority: grant.priority,
    ...(grant.expires_at === undefined ? {} : { expiresAt: grant.expires_at }),
    createdAt: grant.created_at,
    ...(reason === undefined ? {} : { reason }),
    status: expired ? 'expired' : grant.remaining > 0 ? 'active' : 'spent',
  };
}

/** A debit as the ledger recorded it, to be applied as it is. */
function recordedDebit(entry: LedgerEntry): RecordedDebit {
  return { amount: -entry.amount, ...(entry.takes === undefined ? {} : { takes: entry.takes }) };
}

function toBalance(account: AccountState | undefined, now: number): CreditBalance {
  if (account === undefined) {
    return { totalCredits: 0, grantedCredits: 0, remainingCredits: 0, heldCredits: 0, availableCredits: 0, activeSessions: 0 };
  }
  return {
    totalCredits: account.total_granted,
    grantedCredits: unexpiredGranted(account, now),
    remainingCredits: remainingCredits(account, now),
    heldCredits: account.held,
    availableCredits: availableCredits(account, now),
    activeSessions: Object.keys(account.sessions).length,
  };
}

/** Too many concurrent writers on one account: the caller may try again shortly. */
function contention(message: string): DomainError {
  return new DomainError(ErrorCode.ServiceUnavailable, `${message}; try again`);
}

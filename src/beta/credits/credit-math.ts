import {
  DEFAULT_GRANT_PRIORITY,
  fitsFreeCredits,
  freeCredits,
  heldByGrant,
  holdExpiries,
  isExpired,
  mergeParts,
  pruneGrants,
  spendGrants,
  spendHold,
  splitExpired,
  sumParts,
  takeFree,
  type GrantCredit,
  type GrantPart,
  type HeldParts,
} from './grants.js';

/**
 * Pure credit arithmetic. Credits are integers; a session is charged per started second:
 * total = ceil(ceil(duration s) × rate), capped at what the balance allowed (invariant I3, docs/credits.md).
 */

/** Credits owed for `seconds` of use at `rate` credits per second (rounded up to whole credits). */
export function creditsForSeconds(seconds: number, rate: number): number {
  // round to 1e-9 first so that e.g. 3 × 0.1 does not become 0.30000000000000004 → 1 extra credit
  return Math.ceil(Math.round(seconds * rate * 1e9) / 1e9);
}

/** Whole seconds of use to charge for `elapsedMs`: completed seconds at a checkpoint, started seconds at the end. */
export function chargeableSeconds(elapsedMs: number, final: boolean): number {
  const seconds = Math.max(0, elapsedMs) / 1000;
  return final ? Math.ceil(seconds) : Math.floor(seconds);
}

/** Seconds of use that `credits` pay for at `rate` (the largest s with creditsForSeconds(s) ≤ credits). */
export function secondsCoveredBy(credits: number, rate: number): number {
  let seconds = Math.floor(credits / rate + 1e-9);
  while (seconds > 0 && creditsForSeconds(seconds, rate) > credits) {
    seconds--;
  }
  return seconds;
}

export interface SessionCredit extends HeldParts {
  /** Debits applied so far; the next one carries sequence `seq + 1` in its ledger key. */
  seq: number;
  /** Credits held for the session: the sum of its `holds`, the grants they are on. */
  hold: number;
  charged: number;
  /**
   * When the session would have started had it run without a break: a resume moves it later by the time the session
   * was suspended, so the time since it is the session's connected time (docs/credits.md, "Charging a session that moves").
   */
  started_at: number;
  rate: number;
  /** Credits a hold is topped up to at each checkpoint (the pre-authorization estimate). */
  hold_target: number;
  /** The owner epoch of the live session whose owner charges it; moved by each resume (absent: 0, the first owner). */
  epoch?: number;
}

export interface AccountCredit {
  total_granted: number;
  total_debited: number;
  held: number;
  sessions: Record<string, SessionCredit>;
  /** The grants with credits left (or held); the balance is the sum of their remainders (docs/credits.md, "Grants"). */
  grants: GrantCredit[];
  /** The amounts of the grants that expired: the warnings count percent of what was granted and has not expired. */
  expired_granted?: number;
}

/**
 * The credits left at `at`, as users see them: the balance less what grants that expired by then still have (their
 * write-off is on its way; they can no longer be spent).
 */
export function remainingCredits(account: Pick<AccountCredit, 'total_granted' | 'total_debited' | 'grants'>, at: number): number {
  const expired = account.grants.filter((grant) => isExpired(grant, at)).reduce((sum, grant) => sum + grant.remaining, 0);
  return account.total_granted - account.total_debited - expired;
}

/** Credits a new hold or a removal may take at `at`: those of unexpired grants that no session holds. */
export function availableCredits(account: Pick<AccountCredit, 'grants' | 'sessions'>, at: number): number {
  return freeCredits(account.grants, account.sessions, at);
}

/** What was granted and has not expired by `at`: the total the low-balance warnings are percent of. */
export function unexpiredGranted(account: Pick<AccountCredit, 'total_granted' | 'expired_granted' | 'grants'>, at: number): number {
  const expiredNotWritten = account.grants.filter((grant) => isExpired(grant, at)).reduce((sum, grant) => sum + grant.amount, 0);
  return account.total_granted - (account.expired_granted ?? 0) - expiredNotWritten;
}

/** A grant or adjustment as the ledger recorded it: what applying it needs. */
export interface RecordedChange {
  _id: string;
  amount: number;
  priority?: number;
  expires_at?: Date;
  created_at: Date;
  takes?: GrantPart[];
}

/**
 * Applies a recorded grant or adjustment at `at`. A positive one is a new grant; a removal spends the free credits
 * its entry took (computed when it was recorded). One those credits no longer cover (a hold took them after the
 * check, or their grant expired) is applied together with its reversal: net zero, never below 0.
 */
export function applyRecordedChange<T extends AccountCredit>(
  account: T,
  entry: RecordedChange,
  at: number,
): { account: T; reversed: boolean } {
  const amount = entry.amount;
  if (amount >= 0) {
    const grant: GrantCredit = {
      id: entry._id,
      amount,
      remaining: amount,
      priority: entry.priority ?? DEFAULT_GRANT_PRIORITY,
      created_at: entry.created_at.getTime(),
      ...(entry.expires_at === undefined ? {} : { expires_at: entry.expires_at.getTime() }),
    };
    return { account: { ...account, total_granted: account.total_granted + amount, grants: [...account.grants, grant] }, reversed: false };
  }
  const takes = entry.takes ?? takeFree(account.grants, account.sessions, -amount, at);
  const covered = sumParts(takes) === -amount;
  if (covered && fitsFreeCredits(account.grants, account.sessions, takes, at)) {
    const grants = pruneGrants(spendGrants(account.grants, takes), account.sessions);
    return { account: { ...account, total_debited: account.total_debited - amount, grants }, reversed: false };
  }
  return {
    account: { ...account, total_granted: account.total_granted - amount, total_debited: account.total_debited - amount },
    reversed: true,
  };
}

export function debitKey(sessionId: string, seq: number): string {
  return `debit:${sessionId}:${seq}`;
}

export interface PlannedDebit {
  key: string;
  sessionId: string;
  seq: number;
  amount: number;
  chargedSeconds: number;
  /** The grants the debit takes its credits from. */
  takes: GrantPart[];
  /** The instant the debit charges the session up to (an expiry instant, or the settlement's). */
  until: number;
}

/** A debit the ledger already holds: its amount, and the grants it took from (none for debits from before grants). */
export interface RecordedDebit {
  amount: number;
  takes?: GrantPart[];
}

export interface SettlementPlan {
  account: AccountCredit;
  debits: PlannedDebit[];
  /** Sessions whose credits are used up: their hold is empty and could not be renewed. */
  exhausted: string[];
  /** Sessions settled for the last time and removed from the account (holds released), with their final state. */
  closed: string[];
  closedSessions: Record<string, SessionCredit>;
  changed: boolean;
}

/** The instant each session is settled up to: one for all, or one per session. */
export type SettleAt = number | ((sessionId: string) => number);

/**
 * Charges each session for its use up to `now` and renews its hold from the free credits, in burn-down order.
 * A debit spends the session's own hold, so a debit whose amount and grants were fixed earlier (a ledger entry
 * written before a crash, `adopted`) can always be applied. A hold on a grant that expires by `now` is first charged
 * up to the expiry instant (seconds used before it may still burn the grant) and then let go of that grant.
 * `final` sessions are charged for every started second, then their hold is released and they leave the account.
 *
 * `epochs`: the owner epoch each (non-final) session is charged as; a session another owner has resumed since is
 * skipped, so an old owner that has not noticed yet charges nothing after the takeover.
 */
export function planSettlement(
  current: AccountCredit,
  sessionIds: string[],
  now: SettleAt,
  final: Set<string>,
  adopted: Map<string, RecordedDebit> = new Map(),
  epochs?: Map<string, number>,
): SettlementPlan {
  const account: AccountCredit = { ...current, sessions: { ...current.sessions } };
  const plan: SettlementPlan = { account, debits: [], exhausted: [], closed: [], closedSessions: {}, changed: false };
  for (const id of sessionIds) {
    const original = account.sessions[id];
    if (original === undefined) {
      continue;
    }
    const isFinal = final.has(id);
    if (!isFinal && epochs?.has(id) === true && (original.epoch ?? 0) !== epochs.get(id)) {
      continue;
    }
    const session: SessionCredit = { ...original, holds: original.holds ?? [] };
    account.sessions[id] = session;
    let moved = false;
    const charge = (target: number, until: number): void => {
      const key = debitKey(id, session.seq + 1);
      const recorded = adopted.get(key);
      const amount = recorded?.amount ?? Math.min(Math.max(target - session.charged, 0), session.hold);
      if (amount <= 0) {
        return;
      }
      const spent = spendForDebit(account.grants, session.holds!, amount, recorded?.takes);
      session.seq += 1;
      session.holds = spent.left;
      session.hold -= spent.fromHold;
      session.charged += amount;
      account.held -= spent.fromHold;
      account.total_debited += amount;
      account.grants = spendGrants(account.grants, spent.takes);
      plan.debits.push({
        key,
        sessionId: id,
        seq: session.seq,
        amount,
        chargedSeconds: secondsCoveredBy(session.charged, session.rate),
        takes: spent.takes,
        until,
      });
    };
    const at = typeof now === 'number' ? now : now(id);
    for (const expiry of holdExpiries(account.grants, session.holds!).filter((instant) => instant <= at)) {
      charge(creditsForSeconds(chargeableSeconds(expiry - session.started_at, false), session.rate), expiry);
      const { expired, kept } = splitExpired(account.grants, session.holds!, expiry);
      const released = sumParts(expired);
      session.holds = kept;
      session.hold -= released;
      account.held -= released;
      moved ||= released > 0;
    }
    const target = creditsForSeconds(chargeableSeconds(at - session.started_at, isFinal), session.rate);
    for (;;) {
      charge(target, at);
      const wanted = isFinal ? Math.max(target - session.charged, 0) : session.hold_target - session.hold;
      const parts = wanted > 0 ? takeFree(account.grants, account.sessions, wanted, at) : [];
      const topUp = sumParts(parts);
      session.holds = mergeParts(account.grants, session.holds!, parts);
      session.hold += topUp;
      account.held += topUp;
      if (!(isFinal && topUp > 0)) {
        break;
      }
    }
    if (isFinal) {
      account.held -= session.hold;
      delete account.sessions[id];
      plan.closed.push(id);
      plan.closedSessions[id] = session;
    } else if (session.hold === 0) {
      plan.exhausted.push(id);
    }
    plan.changed ||= isFinal || moved || session.seq !== original.seq || session.hold !== original.hold;
  }
  account.grants = pruneGrants(account.grants, account.sessions);
  return plan;
}

/**
 * What a debit of `amount` spends: its recorded grants when the ledger has them (a debit written before a crash or
 * by another instance), else the hold's parts in burn-down order. A recorded part the hold no longer has (its grant
 * let go of by a settlement that did not see the debit) comes from that grant's free credits.
 */
function spendForDebit(
  grants: GrantCredit[],
  holds: GrantPart[],
  amount: number,
  recorded?: GrantPart[],
): { takes: GrantPart[]; left: GrantPart[]; fromHold: number } {
  if (recorded === undefined) {
    const { taken, left } = spendHold(grants, holds, amount);
    return { takes: taken, left, fromHold: sumParts(taken) };
  }
  const left = holds.map((part) => ({ ...part }));
  let fromHold = 0;
  for (const take of recorded) {
    const part = left.find((candidate) => candidate.grant === take.grant);
    const fromPart = Math.min(take.amount, part?.amount ?? 0);
    if (part !== undefined) {
      part.amount -= fromPart;
    }
    fromHold += fromPart;
  }
  return { takes: recorded, left: left.filter((part) => part.amount > 0), fromHold };
}

/**
 * The write-off of the grants expired by `now` that no session holds any more (a held one waits for its holder's next
 * settlement to charge the seconds before its expiry and move the hold): each one's remainder, and the account without
 * them. Undefined when there is none. The caller records each write-off in the ledger, then writes the account, whose
 * `total_debited` it raises by what the ledger recorded.
 */
export function planExpiry(account: AccountCredit, now: number): { account: AccountCredit; writeOffs: GrantPart[] } | undefined {
  const held = heldByGrant(account.sessions);
  const due = account.grants.filter((grant) => isExpired(grant, now) && (held.get(grant.id) ?? 0) === 0);
  if (due.length === 0) {
    return undefined;
  }
  return {
    account: {
      ...account,
      grants: account.grants.filter((grant) => !due.includes(grant)),
      expired_granted: (account.expired_granted ?? 0) + due.reduce((sum, grant) => sum + grant.amount, 0),
    },
    writeOffs: due.filter((grant) => grant.remaining > 0).map((grant) => ({ grant: grant.id, amount: grant.remaining })),
  };
}

/**
 * The session resumed at `resumeAt` after it stopped being charged at `cutAt` (its connection was lost, or its old
 * owner last proved it held it): its start moves later by the gap, so the gap is never charged (invariant I7), and
 * it is charged as `epoch` from now on. Undefined when that resume is already applied (a retried write).
 */
export function resumeSessionCredit(
  session: SessionCredit,
  resume: { cutAt: number; resumeAt: number; epoch: number },
): SessionCredit | undefined {
  if ((session.epoch ?? 0) >= resume.epoch) {
    return undefined;
  }
  return { ...session, started_at: session.started_at + Math.max(0, resume.resumeAt - resume.cutAt), epoch: resume.epoch };
}

/**
 * When the session's paid time (charged + held) runs out, in epoch ms; no later than the first expiry of a grant its
 * hold is on, where the hold must move to other grants (or the session stop).
 */
export function paidUntil(session: SessionCredit, grants: GrantCredit[] = []): number {
  const paid = session.started_at + secondsCoveredBy(session.charged + session.hold, session.rate) * 1000;
  const expiry = holdExpiries(grants, session.holds ?? [])[0];
  return expiry === undefined ? paid : Math.min(paid, expiry);
}

/**
 * When this session's running balance (unspent credits minus its own uncharged use) first reaches
 * `thresholdCredits`, in epoch ms; the running balance is what warnings and the cut-off are timed on.
 */
export function reachesBalanceAt(session: SessionCredit, remaining: number, thresholdCredits: number): number {
  const creditsUntilThreshold = remaining - thresholdCredits;
  const useCredits = session.charged + creditsUntilThreshold;
  if (useCredits <= session.charged) {
    return session.started_at;
  }
  const seconds = secondsCoveredBy(useCredits - 1, session.rate) + 1;
  return session.started_at + seconds * 1000;
}

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

export interface SessionCredit {
  /** Debits applied so far; the next one carries sequence `seq + 1` in its ledger key. */
  seq: number;
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
}

export function remainingCredits(account: Pick<AccountCredit, 'total_granted' | 'total_debited'>): number {
  return account.total_granted - account.total_debited;
}

export function availableCredits(account: Pick<AccountCredit, 'total_granted' | 'total_debited' | 'held'>): number {
  return account.total_granted - account.total_debited - account.held;
}

/**
 * Applies a recorded grant or adjustment. A removal the available balance no longer covers (a hold took
 * the credits after it was checked) is applied together with its reversal: net zero, never below 0.
 */
export function applyRecordedChange<T extends AccountCredit>(account: T, amount: number): { account: T; reversed: boolean } {
  if (amount >= 0) {
    return { account: { ...account, total_granted: account.total_granted + amount }, reversed: false };
  }
  if (availableCredits(account) >= -amount) {
    return { account: { ...account, total_debited: account.total_debited - amount }, reversed: false };
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

/**
 * Charges each session for its use up to `now` and renews its hold from the available balance.
 * A debit never exceeds the session's own hold, so a debit whose amount was fixed earlier (a ledger
 * entry written before a crash, `adopted`) can always be applied. `final` sessions are charged for
 * every started second, then their hold is released and they leave the account.
 */
/** The instant each session is settled up to: one for all, or one per session. */
export type SettleAt = number | ((sessionId: string) => number);

/**
 * `epochs`: the owner epoch each (non-final) session is charged as; a session another owner has resumed since is
 * skipped, so an old owner that has not noticed yet charges nothing after the takeover.
 */
export function planSettlement(
  current: AccountCredit,
  sessionIds: string[],
  now: SettleAt,
  final: Set<string>,
  adopted: Map<string, number> = new Map(),
  epochs?: Map<string, number>,
): SettlementPlan {
  const account: AccountCredit = { ...current, sessions: { ...current.sessions } };
  const plan: SettlementPlan = { account, debits: [], exhausted: [], closed: [], closedSessions: {}, changed: false };
  for (const id of sessionIds) {
    const original = account.sessions[id];
    if (original === undefined) {
      continue;
    }
    const session = { ...original };
    const isFinal = final.has(id);
    if (!isFinal && epochs?.has(id) === true && (session.epoch ?? 0) !== epochs.get(id)) {
      continue;
    }
    const at = typeof now === 'number' ? now : now(id);
    const target = creditsForSeconds(chargeableSeconds(at - session.started_at, isFinal), session.rate);
    for (;;) {
      const key = debitKey(id, session.seq + 1);
      const owed = target - session.charged;
      const amount = adopted.get(key) ?? Math.min(Math.max(owed, 0), session.hold);
      if (amount > 0) {
        session.seq += 1;
        session.hold -= amount;
        session.charged += amount;
        account.held -= amount;
        account.total_debited += amount;
        plan.debits.push({ key, sessionId: id, seq: session.seq, amount, chargedSeconds: secondsCoveredBy(session.charged, session.rate) });
      }
      const wanted = isFinal ? Math.max(target - session.charged, 0) : session.hold_target - session.hold;
      const topUp = Math.min(Math.max(wanted, 0), availableCredits(account));
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
    } else {
      account.sessions[id] = session;
      if (session.hold === 0) {
        plan.exhausted.push(id);
      }
    }
    plan.changed ||= isFinal || session.seq !== original.seq || session.hold !== original.hold;
  }
  return plan;
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

/** When the session's paid time (charged + held) runs out, in epoch ms. */
export function paidUntil(session: SessionCredit): number {
  return session.started_at + secondsCoveredBy(session.charged + session.hold, session.rate) * 1000;
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

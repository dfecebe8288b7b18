import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { BetaSessionsRepository } from '../sessions/beta-sessions.repository.js';
import { BetaAccountsRepository, type AccountState } from './beta-accounts.repository.js';
import { BetaCreditsService } from './beta-credits.service.js';
import { CreditLedgerRepository, type LedgerTotals } from './credit-ledger.repository.js';
import { debitKey } from './credit-math.js';
import { ReconcileMarksRepository } from './reconcile-marks.repository.js';

const EMPTY_TOTALS: LedgerTotals = { granted: 0, debited: 0, lastSeq: 0, grants: new Map() };

export interface Drift {
  email: string;
  /** `grant:<id>`: that grant's remainder. */
  field: 'remaining' | 'held' | `grant:${string}`;
  expected: number;
  actual: number;
}

export interface ReconcileReport {
  /** `full`: every account; `incremental`: those changed since the last complete run (docs/credits.md, "Reconcile"). */
  scope: 'full' | 'incremental';
  accounts: number;
  drifts: Drift[];
  repaired: number;
}

/**
 * An incremental run also reads what changed this long before the last run began: writes in flight then, and
 * instance clocks that disagree by less than this.
 */
export const RECONCILE_OVERLAP_MS = 5 * 60_000;

/**
 * Checks, per account, that remaining credits equal the ledger's replay and that held credits equal the
 * holds of its sessions (granted = consumed + held + available). Repairs drift from the ledger, which
 * is the record: it first applies entries a crash left unapplied, then corrects what still differs.
 */
@Injectable()
export class CreditReconcilerService {
  private readonly logger = new Logger(CreditReconcilerService.name);

  constructor(
    private readonly accounts: BetaAccountsRepository,
    private readonly ledger: CreditLedgerRepository,
    private readonly credits: BetaCreditsService,
    private readonly sessions: BetaSessionsRepository,
    private readonly marks: ReconcileMarksRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * Compares accounts with the ledger: with `full`, every account; otherwise those changed since the last complete
   * run (all of them before the first). With `repair`, an account is corrected only when the same
   * drift is seen twice, `confirmMs` apart, on an unchanged version: an operation still in flight (its
   * entry written, the account not yet) changes the version, so a live write is never "repaired" away.
   */
  async reconcile(options: { repair: boolean; confirmMs?: number; full?: boolean }): Promise<ReconcileReport> {
    const startedAt = this.clock.now();
    const emails = options.full === true ? undefined : await this.changedSinceLastRun();
    const scope = emails === undefined ? 'full' : 'incremental';
    if (options.repair) {
      await this.applyPendingDebits(emails);
    }
    let first = await this.scan(emails);
    if (options.repair && (await this.applyPendingChanges(first))) {
      first = await this.scan(emails);
    }
    if (first.drifts.length === 0) {
      await this.marks.recordRun(startedAt);
    }
    if (!options.repair || first.drifts.length === 0) {
      return { scope, accounts: first.accounts.length, drifts: first.drifts, repaired: 0 };
    }
    await new Promise((resolve) => setTimeout(resolve, options.confirmMs ?? 1000));
    const second = await this.scan(emails);
    let repaired = 0;
    for (const account of second.accounts) {
      const before = first.accounts.find((a) => a._id === account._id);
      const drift = JSON.stringify(second.drifts.filter((d) => d.email === account._id));
      const earlier = JSON.stringify(first.drifts.filter((d) => d.email === account._id));
      if (
        drift !== '[]' &&
        drift === earlier &&
        before?.version === account.version &&
        (await this.repair(account, second.totals.get(account._id)))
      ) {
        repaired++;
      }
    }
    this.logger.warn({ drifts: second.drifts, repaired }, 'Credit drift found');
    if (repaired === second.drifts.length) {
      await this.marks.recordRun(startedAt);
    }
    return { scope, accounts: second.accounts.length, drifts: second.drifts, repaired };
  }

  /**
   * The accounts written, or with a ledger entry, since shortly before the last complete run began, and those with
   * sessions or a reversal owed; undefined (everything) before the first run. A drift left unrepaired keeps the
   * mark where it was, so the next run reads that account again.
   */
  private async changedSinceLastRun(): Promise<string[] | undefined> {
    const lastRun = await this.marks.lastRunStartedAt();
    if (lastRun === undefined) {
      return undefined;
    }
    const since = lastRun - RECONCILE_OVERLAP_MS;
    const [written, withEntries] = await Promise.all([this.accounts.findChangedSince(since), this.ledger.emailsWithEntriesSince(since)]);
    return [...new Set([...written, ...withEntries])];
  }

  private async scan(emails?: string[]) {
    const [totals, accounts] = await Promise.all([
      this.ledger.balances(emails),
      emails === undefined ? this.accounts.findAll() : this.accounts.findMany(emails),
    ]);
    const drifts = accounts.flatMap((account) => this.driftsOf(account, totals.get(account._id) ?? EMPTY_TOTALS));
    return { totals, accounts, drifts };
  }

  private driftsOf(account: AccountState, ledger: LedgerTotals): Drift[] {
    const drifts: Drift[] = [];
    const remaining = account.total_granted - account.total_debited;
    if (remaining !== ledger.granted - ledger.debited) {
      drifts.push({ email: account._id, field: 'remaining', expected: ledger.granted - ledger.debited, actual: remaining });
    }
    const holds = Object.values(account.sessions).reduce((sum, session) => sum + session.hold, 0);
    if (account.held !== holds) {
      drifts.push({ email: account._id, field: 'held', expected: holds, actual: account.held });
    }
    // Each grant's remainder; a grant the account no longer lists has none left.
    const listed = new Map(account.grants.map((grant) => [grant.id, grant.remaining]));
    for (const id of new Set([...listed.keys(), ...ledger.grants.keys()])) {
      const expected = ledger.grants.get(id) ?? 0;
      const actual = listed.get(id) ?? 0;
      if (expected !== actual) {
        drifts.push({ email: account._id, field: `grant:${id}`, expected, actual });
      }
    }
    return drifts;
  }

  /**
   * Sets the totals from the ledger and the held credits from the sessions, on the version read. Not when a grant
   * or adjustment is still to be applied or a reversal to be recorded (applying them is not a repair, and totals
   * that already count them would count them twice), and never to a balance below 0 or below its holds.
   */
  private async repair(account: AccountState, ledger: LedgerTotals = EMPTY_TOTALS): Promise<boolean> {
    if (account.reversal_owed !== undefined || ledger.lastSeq > account.applied_seq) {
      return false;
    }
    const holds = Object.values(account.sessions).reduce((sum, session) => sum + session.hold, 0);
    if (ledger.granted - ledger.debited < holds) {
      this.logger.error(
        { email: account._id, ledger: ledger.granted - ledger.debited, holds },
        'Credit drift not repaired: the ledger does not cover this balance',
      );
      return false;
    }
    return this.accounts.write({
      email: account._id,
      version: account.version,
      next: {
        ...account,
        total_granted: ledger.granted,
        total_debited: ledger.debited,
        held: holds,
        grants: account.grants.map((grant) => ({ ...grant, remaining: ledger.grants.get(grant.id) ?? grant.remaining })),
      },
    });
  }

  /**
   * Grants and adjustments a crash wrote to the ledger but not to the account, and reversals it did not record,
   * found from a scan; returns whether there were any.
   */
  private async applyPendingChanges(scan: { totals: Map<string, LedgerTotals>; accounts: AccountState[] }): Promise<boolean> {
    const pending = scan.accounts.filter(
      (account) => account.reversal_owed !== undefined || (scan.totals.get(account._id)?.lastSeq ?? 0) > account.applied_seq,
    );
    for (const account of pending) {
      await this.credits.applyRecorded(account._id);
      this.logger.warn({ email: account._id }, 'Applied grants or adjustments recorded but not yet applied');
    }
    return pending.length > 0;
  }

  /**
   * Debits a crash wrote to the ledger but not to the account, and sessions whose beta session ended without their
   * final settlement (charged up to the end it recorded). Charges no other time: a session being settled by its
   * owner right now, or suspended, is charged by its owner, its suspension or its end, never up to the reconcile's
   * own clock. One query for the accounts, one for the debits, one for the beta sessions, however many there are.
   */
  private async applyPendingDebits(emails?: string[]): Promise<void> {
    const accounts = (emails === undefined ? await this.accounts.findAll() : await this.accounts.findMany(emails)).filter(
      (account) => Object.keys(account.sessions).length > 0,
    );
    const nextDebits = accounts.flatMap((account) =>
      Object.entries(account.sessions).map(([sessionId, session]) => debitKey(sessionId, session.seq + 1)),
    );
    const withRecorded = new Set((await this.ledger.findMany(nextDebits)).map((entry) => entry.email));
    for (const account of accounts.filter((candidate) => withRecorded.has(candidate._id))) {
      const applied = await this.credits.applyRecordedDebits(account._id, Object.keys(account.sessions));
      if (applied.length > 0) {
        this.logger.warn({ email: account._id, sessions: applied }, 'Applied debits left unapplied by a crash');
      }
    }
    const ended = (await this.sessions.findMany(accounts.flatMap((account) => Object.keys(account.sessions)))).filter(
      (session) => session.status === 'ended',
    );
    for (const session of ended) {
      await this.credits.settle(session.email, [session._id], session.ended_at!.getTime(), new Set([session._id]));
    }
  }
}

import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Clock, type CancelTimer } from '../../common/clock.js';
import { LIVE_DUBBING_FEATURE, type LiveFeatureName } from '../../common/live-features.js';
import { AppConfig } from '../../config/app-config.js';
import { BetaCreditsService, type Settlement } from '../credits/beta-credits.service.js';
import type { AccountState } from '../credits/beta-accounts.repository.js';
import { CreditLedgerRepository } from '../credits/credit-ledger.repository.js';
import {
  creditsForSeconds,
  chargeableSeconds,
  paidUntil,
  reachesBalanceAt,
  remainingCredits,
  secondsCoveredBy,
  unexpiredGranted,
  type AccountCredit,
  type SessionCredit,
} from '../credits/credit-math.js';
import type { GrantCredit } from '../credits/grants.js';
import { BetaSessionSignals } from './beta-session-signals.js';
import type { BetaEndReason, BetaSessionStatus } from './beta-session.schema.js';
import { BetaSessionsRepository, type BetaSessionRecord } from './beta-sessions.repository.js';
import { InstanceIdentity } from '../../common/instance-identity.js';

export type StartResult =
  | {
      ok: true;
      sessionId: string;
      remainingCredits: number;
      estimatedCost: number;
      startedAt: number;
      /** The account's unexpired granted credits, and the session's rate: what a client shows its balance against. */
      grantedCredits: number;
      creditsPerSecond: number;
    }
  | { ok: false; remainingCredits: number; estimatedCost: number };

/** See `useOwnership`. */
export interface SessionOwnership {
  /** Proves the sessions still held (letting go of the others); resolves with the instant of the last proof. */
  prove(): Promise<number>;
  inDoubt(): boolean;
  /**
   * Each beta session served here: when its client was last heard from (its last frame or pong) and the owner epoch
   * it is charged as.
   */
  served(): Map<string, { lastHeardAt: number; epoch: number }>;
  databaseReachable(): boolean;
  /**
   * A session's paid time ran out while the database is unreachable, so its hold cannot be renewed: the owner stops
   * it — `balanceSpent` when the hold was all the balance it last knew of (credits exhausted), suspended otherwise.
   */
  holdSpent(sessionId: string, balanceSpent: boolean): void;
}

/** What a resumed session's client is told of its credits. */
export interface ResumeResult {
  remainingCredits: number;
  estimatedCost: number;
  grantedCredits: number;
  /** The rate the session was started at. */
  creditsPerSecond: number;
}

interface Watch {
  email: string;
  /** The session's credit state and the account's remaining credits when it was last read. */
  state: SessionCredit;
  /** The account's grants as read with it: where the hold is, and when those grants expire. */
  grants: GrantCredit[];
  remaining: number;
  grantedCredits: number;
  warned: Set<number>;
  timers: CancelTimer[];
}

/**
 * Metered sessions: start (hold the estimate), settle (charge what was used, renew the hold), end
 * (final charge, release, exactly once). On the owning instance it also times the cut-off and the
 * low-balance warnings on the running balance, so they are not late by up to a checkpoint interval.
 */
@Injectable()
export class BetaSessionsService implements OnApplicationShutdown {
  private readonly logger = new Logger(BetaSessionsService.name);
  private readonly watches = new Map<string, Watch>();
  private ownership: SessionOwnership = {
    prove: () => Promise.resolve(Number.POSITIVE_INFINITY),
    inDoubt: () => false,
    served: () => new Map(),
    databaseReachable: () => true,
    holdSpent: () => {},
  };

  constructor(
    private readonly credits: BetaCreditsService,
    private readonly sessions: BetaSessionsRepository,
    private readonly ledger: CreditLedgerRepository,
    private readonly signals: BetaSessionSignals,
    private readonly instance: InstanceIdentity,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  estimateFor(rate = this.config.beta.creditsPerSecond): number {
    return creditsForSeconds(this.config.beta.preauthSeconds, rate);
  }

  /**
   * Holds the estimate and records the session. The caller may choose the id (a live session records it first,
   * so an opening cut short can still be ended). If the record cannot be written, the hold is released again.
   * `account`, a read of the account the caller started earlier, saves the hold's first read (see
   * BetaCreditsService.reserve). The session is watched from the account as the hold left it.
   */
  async start(
    user: { id: string; email: string },
    feature: LiveFeatureName = LIVE_DUBBING_FEATURE,
    rate = this.config.beta.creditsPerSecond,
    sessionId: string = randomUUID(),
    account?: Promise<AccountState | undefined>,
  ): Promise<StartResult> {
    const estimatedCost = this.estimateFor(rate);
    const now = this.clock.now();
    const hold = await this.credits.reserve({ email: user.email, sessionId, estimate: estimatedCost, rate, startedAt: now }, account);
    if (!hold.ok) {
      return { ok: false, remainingCredits: hold.remaining, estimatedCost };
    }
    try {
      await this.sessions.insert({
        _id: sessionId,
        version: 0,
        email: user.email,
        user_id: user.id,
        feature,
        status: 'active',
        instance_id: this.instance.id,
        rate,
        estimated_cost: estimatedCost,
        started_at: new Date(now),
        charged_credits: 0,
        charged_seconds: 0,
      });
    } catch (error) {
      // Nothing ran: the final settlement at the start instant charges nothing and releases the hold.
      await this.credits.settle(user.email, [sessionId], now, new Set([sessionId]));
      throw error;
    }
    const held = hold.account;
    if (held?.sessions[sessionId] !== undefined) {
      this.watch(sessionId, user.email, held, held.sessions[sessionId], remainingCredits(held, now));
    }
    return {
      ok: true,
      sessionId,
      remainingCredits: hold.remaining,
      estimatedCost,
      startedAt: now,
      grantedCredits: held === undefined ? 0 : unexpiredGranted(held, now),
      creditsPerSecond: rate,
    };
  }

  find(sessionId: string): Promise<BetaSessionRecord | undefined> {
    return this.sessions.find(sessionId);
  }

  /** The newest `limit` sessions matching the filter. */
  list(filter: { status?: BetaSessionStatus; email?: string }, limit: number): Promise<BetaSessionRecord[]> {
    return this.sessions.list(filter, limit);
  }

  /**
   * Ends the session once: the final charge for every started second up to `at` (now by default),
   * the hold released, status `ended` with its reason. A second call returns the recorded outcome. Given the
   * `email`, it also releases a hold whose session was never recorded (an opening cut short).
   */
  async end(
    sessionId: string,
    reason: BetaEndReason,
    at = this.clock.now(),
    email?: string,
  ): Promise<{ remainingCredits: number; sessionCharged: number; ended: boolean }> {
    this.unwatch(sessionId);
    const session = await this.sessions.find(sessionId);
    if (session === undefined && email !== undefined) {
      return { ...(await this.releaseUnrecordedHold(email, sessionId)), sessionCharged: 0, ended: false };
    }
    if (session === undefined || session.status === 'ended') {
      const balance = session === undefined ? undefined : await this.credits.balance(session.email);
      return { remainingCredits: balance?.remainingCredits ?? 0, sessionCharged: session?.charged_credits ?? 0, ended: false };
    }
    const settlement = await this.credits.settle(session.email, [sessionId], at, new Set([sessionId]));
    const final = settlement?.closedSessions[sessionId];
    const charged = final?.charged ?? (await this.chargedFromLedger(sessionId));
    const chargedSeconds =
      final === undefined
        ? secondsCoveredBy(charged, session.rate)
        : Math.min(chargeableSeconds(at - final.started_at, true), secondsCoveredBy(charged, session.rate));
    const ended = await this.sessions.markEnded(session, { reason, endedAt: new Date(at), chargedCredits: charged, chargedSeconds });
    const remaining = settlement === undefined ? 0 : remainingCredits(settlement.account, at);
    if (ended) {
      this.logger.log(
        { session_id: sessionId, email: session.email, reason, session_charged: charged, remaining_credits: remaining },
        'Beta session ended',
      );
      this.signals.emit({ type: 'ended', sessionId, reason, remainingCredits: remaining, sessionCharged: charged });
    }
    return { remainingCredits: remaining, sessionCharged: charged, ended };
  }

  /** After a settlement: tell the owner's listeners, and re-time cut-off and warnings from the new state. */
  async afterSettlement(settlement: Settlement, options: { notify: boolean }): Promise<void> {
    const remaining = remainingCredits(settlement.account, this.clock.now());
    for (const [sessionId, state] of Object.entries(settlement.account.sessions)) {
      const watch = this.watches.get(sessionId);
      if (watch === undefined) {
        continue;
      }
      if (options.notify) {
        this.signals.emit({ type: 'credits', sessionId, remainingCredits: remaining, sessionCharged: state.charged });
      }
      if (settlement.exhausted.includes(sessionId) && paidUntil(state, settlement.account.grants) <= this.clock.now()) {
        await this.end(sessionId, 'credits_exhausted');
      } else {
        this.watch(sessionId, watch.email, settlement.account, state, remaining);
      }
    }
  }

  /**
   * What the owner of live sessions knows of its hold on them: the checkpoint has it prove that it still holds them
   * and charges no later than that proof, and the cut-off waits while it is in doubt, so an instance that was paused
   * charges nothing for time another instance may already have ended its sessions at (docs/credits.md, "Ownership
   * across instances").
   */
  useOwnership(ownership: SessionOwnership): void {
    this.ownership = ownership;
  }

  /**
   * The instant the checkpoint charges each session up to: now once ownership is proven (or the last proof if that is
   * earlier), and never past when its client was last heard from, which is where a lost connection's charge ends.
   */
  async chargeableUntil(): Promise<{ proven: number; until: (sessionId: string) => number; epochs: Map<string, number> }> {
    const proven = Math.min(this.clock.now(), await this.ownership.prove());
    const served = this.ownership.served();
    return {
      proven,
      until: (sessionId) => Math.min(proven, served.get(sessionId)?.lastHeardAt ?? proven),
      epochs: new Map([...served].map(([sessionId, { epoch }]) => [sessionId, epoch])),
    };
  }

  /**
   * The session's connection was lost (or closed 1012/4503) at `lostAt`: it is charged up to then, as the owner
   * epoch `epoch` that served it, and marked suspended as `suspendedEpoch` (the epoch its suspension moved the live
   * record to). Its hold stays; nothing charges it until a resume or its end.
   */
  async suspend(sessionId: string, email: string, suspension: { lostAt: number; epoch: number; suspendedEpoch: number }): Promise<void> {
    this.unwatch(sessionId);
    await this.credits.settle(email, [sessionId], suspension.lostAt, new Set(), new Map([[sessionId, suspension.epoch]]));
    await this.sessions.move(sessionId, { status: 'suspended', instanceId: this.instance.id, epoch: suspension.suspendedEpoch });
  }

  /** Applies a resume to the session's credits if it was not yet (idempotent): the gap it cut is never charged. */
  async applyResume(sessionId: string, email: string, resume: { cutAt: number; resumeAt: number; epoch: number }): Promise<void> {
    await this.credits.resumeSession(email, sessionId, resume);
  }

  /**
   * A suspended (or taken over) session resumes here as owner `epoch`: the time from `cutAt` (when it stopped being
   * charged) to `resumeAt` is never charged, the same hold goes on, and this instance watches it from now on.
   * Undefined when the account no longer holds the session (it was ended meanwhile).
   */
  async resume(
    sessionId: string,
    email: string,
    resume: { cutAt: number; resumeAt: number; epoch: number },
  ): Promise<ResumeResult | undefined> {
    if (!(await this.credits.resumeSession(email, sessionId, resume))) {
      return undefined;
    }
    const now = this.clock.now();
    await this.sessions.move(sessionId, { status: 'active', instanceId: this.instance.id, epoch: resume.epoch });
    const account = await this.credits.account(email);
    const state = account?.sessions[sessionId];
    if (account === undefined || state === undefined) {
      return undefined;
    }
    // A warning whose threshold the balance passed before the resume was this session's already: not sent again.
    const remaining = remainingCredits(account, now);
    const granted = unexpiredGranted(account, now);
    const passed = this.config.beta.warningThresholds.filter(
      (percent) => reachesBalanceAt(state, remaining, thresholdCredits(granted, percent)) <= now,
    );
    this.watch(sessionId, email, account, state, remaining, new Set(passed));
    return {
      remainingCredits: remaining,
      estimatedCost: state.hold_target,
      grantedCredits: granted,
      creditsPerSecond: state.rate,
    };
  }

  isWatched(sessionId: string): boolean {
    return this.watches.has(sessionId);
  }

  /** This instance no longer serves the session (another one ended it): its timers stop, nothing is written. */
  stopWatching(sessionId: string): void {
    this.unwatch(sessionId);
  }

  async onApplicationShutdown(): Promise<void> {
    for (const sessionId of [...this.watches.keys()]) {
      this.unwatch(sessionId);
    }
  }

  private watch(
    sessionId: string,
    email: string,
    account: AccountCredit,
    state: SessionCredit,
    remaining: number,
    warned: Set<number> = new Set(),
  ): void {
    const previous = this.watches.get(sessionId);
    previous?.timers.forEach((cancel) => cancel());
    const now = this.clock.now();
    const watch: Watch = {
      email,
      state,
      grants: account.grants,
      remaining,
      grantedCredits: unexpiredGranted(account, now),
      warned: previous?.warned ?? warned,
      timers: [],
    };
    this.watches.set(sessionId, watch);
    // At the first expiry of a grant the hold is on, a settlement moves the hold to other grants, or cuts off.
    watch.timers.push(this.clock.setTimer(paidUntil(state, account.grants) - now, () => this.onPaidTimeOver(sessionId)));
    this.timeWarnings(sessionId, watch, state, remaining, now);
  }

  /** Warnings fire once per session; when several are already due, only the lowest is sent. */
  private timeWarnings(sessionId: string, watch: Watch, state: SessionCredit, remaining: number, now: number): void {
    const pending = this.config.beta.warningThresholds.filter((percent) => !watch.warned.has(percent));
    const due = pending.filter((percent) => reachesBalanceAt(state, remaining, thresholdCredits(watch.grantedCredits, percent)) <= now);
    if (due.length > 0) {
      due.forEach((percent) => watch.warned.add(percent));
      this.sendWarning(sessionId, Math.min(...due), state, remaining);
    }
    for (const percent of pending.filter((p) => !due.includes(p))) {
      const at = reachesBalanceAt(state, remaining, thresholdCredits(watch.grantedCredits, percent));
      watch.timers.push(
        this.clock.setTimer(at - now, () => {
          if (!watch.warned.has(percent)) {
            watch.warned.add(percent);
            this.sendWarning(sessionId, percent, state, remaining);
          }
        }),
      );
    }
  }

  private sendWarning(sessionId: string, percent: number, state: SessionCredit, remaining: number): void {
    const used = creditsForSeconds(chargeableSeconds(this.clock.now() - state.started_at, false), state.rate) - state.charged;
    this.signals.emit({
      type: 'credit_warning',
      sessionId,
      remainingCredits: Math.max(0, remaining - Math.max(0, used)),
      thresholdPercent: percent,
    });
  }

  /** The paid time ran out: settle now (a grant may renew the hold); if nothing is left, cut off. */
  private async onPaidTimeOver(sessionId: string): Promise<void> {
    const watch = this.watches.get(sessionId);
    if (watch === undefined) {
      return;
    }
    if (!this.ownership.databaseReachable()) {
      this.spentOffline(sessionId, watch);
      return;
    }
    if (this.ownership.inDoubt()) {
      // Not sure this instance still holds the session: check again once the owner has proved it.
      watch.timers.push(this.clock.setTimer(1000, () => this.onPaidTimeOver(sessionId)));
      return;
    }
    try {
      // Never as an owner another instance has replaced since (a resume elsewhere).
      const epochs = new Map([...this.ownership.served()].map(([id, { epoch }]) => [id, epoch]));
      const settlement = await this.credits.settle(watch.email, [sessionId], this.clock.now(), new Set(), epochs);
      if (settlement === undefined || settlement.account.sessions[sessionId] === undefined) {
        return;
      }
      await this.afterSettlement(settlement, { notify: false });
    } catch (error) {
      this.logger.error({ session_id: sessionId, err: error }, 'Cut-off check failed; retrying in 1 s');
      watch.timers.push(this.clock.setTimer(1000, () => this.onPaidTimeOver(sessionId)));
    }
  }

  /**
   * The database was just found unreachable: a session whose paid time ran out while its renewal waited on the
   * database stops now rather than when that write times out.
   */
  stopSpentHolds(): void {
    const now = this.clock.now();
    for (const [sessionId, watch] of [...this.watches]) {
      if (paidUntil(watch.state, watch.grants) <= now) {
        this.spentOffline(sessionId, watch);
      }
    }
  }

  /** No renewal without the database: the hold is all this session may use (docs/credits.md, "When the database is away"). */
  private spentOffline(sessionId: string, watch: Watch): void {
    this.unwatch(sessionId);
    this.ownership.holdSpent(sessionId, reachesBalanceAt(watch.state, watch.remaining, 0) <= paidUntil(watch.state, watch.grants));
  }

  private unwatch(sessionId: string): void {
    this.watches.get(sessionId)?.timers.forEach((cancel) => cancel());
    this.watches.delete(sessionId);
  }

  /** A hold placed for a session that was never recorded never ran: settled at its own start, it charges nothing. */
  private async releaseUnrecordedHold(email: string, sessionId: string): Promise<{ remainingCredits: number }> {
    const held = (await this.credits.account(email))?.sessions[sessionId];
    const settlement =
      held === undefined ? undefined : await this.credits.settle(email, [sessionId], held.started_at, new Set([sessionId]));
    return {
      remainingCredits:
        settlement === undefined
          ? (await this.credits.balance(email)).remainingCredits
          : remainingCredits(settlement.account, this.clock.now()),
    };
  }

  private async chargedFromLedger(sessionId: string): Promise<number> {
    return -(await this.ledger.findBySession(sessionId)).reduce((sum, entry) => sum + entry.amount, 0);
  }
}

function thresholdCredits(granted: number, percent: number): number {
  return Math.floor((granted * percent) / 100);
}

import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { AppConfig, type SubscriptionTierWithQuota } from '../config/app-config.js';
import type { SubscriptionTier } from '../users/user.schema.js';
import type { QuotaFeature } from './quota-feature.js';
import { isOpen, type QuotaSessionEndStatus, type QuotaSessionStatus } from './quota-session.schema.js';
import { QuotaRepository, type QuotaSessionRecord, type SpanClaim } from './quota.repository.js';
import {
  chargedSecondsUntil,
  quotaRunOutAt,
  remainingSeconds,
  smallestRemaining,
  splitUsage,
  wholeMinutes,
  type WindowAmounts,
} from './quota-windows.js';

export interface QuotaUser {
  id: string;
  tier: SubscriptionTier;
}

export interface QuotaRemaining {
  /** Whole minutes left per window, rounded down. */
  remaining: WindowAmounts;
  remainingSeconds: WindowAmounts;
}

export interface QuotaCheck extends QuotaRemaining {
  allowed: boolean;
}

/**
 * `runsOutAt`: the instant (clock ms) this session uses up a window if it runs alone; the caller arms its
 * cut-off timer for it and re-arms after every record. Null when every window resets before running out.
 */
export type QuotaSessionStart =
  (QuotaRemaining & { allowed: true; sessionId: string; runsOutAt: number | null }) | (QuotaRemaining & { allowed: false });

export interface QuotaRecordResult extends QuotaRemaining {
  /** Some window has no seconds left: the caller ends the session (`quota_exceeded`). */
  exceeded: boolean;
  runsOutAt: number | null;
}

/** What `recordAll` did: each session's record, or why it could not be recorded. */
export interface QuotaRecords {
  results: Map<string, QuotaRecordResult>;
  failures: Map<string, unknown>;
}

export interface QuotaSessionEnd {
  /** False when the session had already ended: the call changed nothing. */
  ended: boolean;
  status: QuotaSessionStatus;
  usedSeconds: number;
  /**
   * How long the session was used, in ms, over all its connections: a resume moves the session's start past the
   * gap, so this is its end less its start.
   */
  usedMs: number;
}

/** Tiers without live features have no minutes in any window. */
const NOTHING_LEFT: WindowAmounts = { hour: 0, day: 0, month: 0 };
/** Each lost claim means another writer moved the session on, so a few rounds always settle. */
const MAX_CLAIM_ATTEMPTS = 10;

@Injectable()
export class QuotaService {
  /**
   * What this instance last wrote to each session it runs: saves the read before each record. Only a hint:
   * a stale one loses its claim (the claim matches on `recorded_until`), and the loser re-reads.
   */
  private readonly lastWritten = new Map<string, QuotaSessionRecord>();

  constructor(
    private readonly quota: QuotaRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async check(user: QuotaUser, feature: QuotaFeature): Promise<QuotaCheck> {
    const remaining = await this.remainingForUser(user, feature);
    return { allowed: smallestRemaining(remaining.remainingSeconds) > 0, ...remaining };
  }

  remainingForUser(user: QuotaUser, feature: QuotaFeature): Promise<QuotaRemaining> {
    return this.remainingAt(user.id, user.tier, feature, this.clock.now());
  }

  /**
   * Opens a session when every window has time left; refuses (and stores nothing) otherwise. `checked`, a `check`
   * the caller started earlier in the same opening, saves reading the usage again.
   */
  async startSession(
    user: QuotaUser,
    feature: QuotaFeature,
    options: { sessionId?: string; ownerInstanceId?: string; checked?: Promise<QuotaCheck> } = {},
  ): Promise<QuotaSessionStart> {
    const { allowed, ...remaining } = await (options.checked ?? this.check(user, feature));
    if (!allowed) {
      return { allowed: false, ...remaining };
    }
    const startedAtMs = this.clock.now();
    const session = await this.quota.createSession({
      id: options.sessionId ?? randomUUID(),
      userId: user.id,
      tier: user.tier,
      feature,
      startedAtMs,
      ownerInstanceId: options.ownerInstanceId,
    });
    this.lastWritten.set(session.id, session);
    const runsOutAt = quotaRunOutAt({ sessionStartMs: startedAtMs, chargedUntilMs: startedAtMs }, remaining.remainingSeconds);
    return { allowed: true, sessionId: session.id, ...remaining, runsOutAt: runsOutAt ?? null };
  }

  /** Counts the session's usage since its last record up to now; a retried or concurrent record of a span counts it once. */
  async record(sessionId: string): Promise<QuotaRecordResult> {
    let session = this.lastWritten.get(sessionId) ?? (await this.getSession(sessionId));
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const nowMs = this.clock.now();
      if (session.status !== 'active' || nowMs <= session.recordedUntilMs) {
        break;
      }
      const claimed = await this.chargeSpan(session, { toMs: nowMs });
      if (claimed !== undefined) {
        this.lastWritten.set(sessionId, claimed);
        return this.usageOf(session, nowMs);
      }
      session = await this.getSession(sessionId);
    }
    if (session.status !== 'active') {
      this.lastWritten.delete(sessionId);
    }
    return this.usageOf(session, session.recordedUntilMs);
  }

  /**
   * Records many sessions the way `record` records one, in three round trips for all of them: one bulk claim,
   * one bulk write of the window counters and one read of what is left. A session this instance holds no copy
   * of, or whose claim another writer won, is recorded on its own.
   */
  async recordAll(sessionIds: string[]): Promise<QuotaRecords> {
    const nowMs = this.clock.now();
    const claims: Array<{ session: QuotaSessionRecord; toMs: number; seconds: number }> = [];
    const alone: string[] = [];
    for (const sessionId of sessionIds) {
      const session = this.lastWritten.get(sessionId);
      if (session !== undefined && session.status === 'active' && nowMs > session.recordedUntilMs) {
        claims.push({ session, toMs: nowMs, seconds: spanSeconds(session, nowMs) });
      } else {
        alone.push(sessionId);
      }
    }
    const won = await this.quota.claimSpans(claims, randomUUID());
    const claimed = claims.filter(({ session }) => won.has(session.id));
    alone.push(...claims.filter(({ session }) => !won.has(session.id)).map(({ session }) => session.id));
    await this.quota.addUsageOfMany(
      claimed.map(({ session, toMs }) => ({
        userId: session.userId,
        feature: session.feature,
        charges: splitUsage(spanOf(session, toMs)),
      })),
    );
    const used = await this.quota.usedSecondsOfMany(
      claimed.map(({ session }) => ({ userId: session.userId, feature: session.feature })),
      nowMs,
    );
    const records: QuotaRecords = { results: new Map(), failures: new Map() };
    claimed.forEach(({ session, toMs, seconds }, index) => {
      this.lastWritten.set(session.id, claimedUntil(session, toMs, seconds));
      records.results.set(session.id, this.usageFrom(session, toMs, this.remainingOf(session.tier, used[index])));
    });
    await Promise.all(
      alone.map((sessionId) =>
        this.record(sessionId).then(
          (result) => records.results.set(sessionId, result),
          (error: unknown) => records.failures.set(sessionId, error),
        ),
      ),
    );
    return records;
  }

  /**
   * Counts the last span and closes the session in one write; a second call changes nothing. `atMs` ends it
   * earlier than now (a session whose owner died ends at its last record), never before what was recorded.
   */
  async endSession(sessionId: string, status: QuotaSessionEndStatus, options: { atMs?: number } = {}): Promise<QuotaSessionEnd> {
    const known = this.lastWritten.get(sessionId) ?? (await this.quota.findSession(sessionId));
    if (known === undefined) {
      // Never created (an opening refused or cut short before it): nothing to end.
      return { ended: false, status, usedSeconds: 0, usedMs: 0 };
    }
    let session = known;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      if (!isOpen(session.status)) {
        this.lastWritten.delete(sessionId);
        return {
          ended: false,
          status: session.status,
          usedSeconds: session.usedSeconds,
          usedMs: Math.max(0, session.recordedUntilMs - session.startedAtMs),
        };
      }
      const nowMs = this.clock.now();
      const endMs = Math.max(session.recordedUntilMs, Math.min(nowMs, options.atMs ?? nowMs));
      if ((await this.chargeSpan(session, { toMs: endMs, end: { status, endedAtMs: nowMs } })) !== undefined) {
        this.lastWritten.delete(sessionId);
        return { ended: true, status, usedSeconds: chargedSecondsUntil(session.startedAtMs, endMs), usedMs: endMs - session.startedAtMs };
      }
      session = await this.getSession(sessionId);
    }
    throw contention(sessionId);
  }

  /**
   * The live session was suspended at `lostAtMs` by its owner, whose suspension moved its epoch to `epoch`: usage is
   * counted up to then (never back: what was recorded stays), and nothing more until a resume. Changes nothing when
   * the session ended, or a later epoch has moved it already.
   */
  async suspendSession(sessionId: string, suspension: { lostAtMs: number; epoch: number }): Promise<void> {
    let session = this.lastWritten.get(sessionId) ?? (await this.getSession(sessionId));
    this.lastWritten.delete(sessionId);
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      if (session.status !== 'active' || session.ownerEpoch >= suspension.epoch) {
        return;
      }
      const toMs = Math.max(session.recordedUntilMs, suspension.lostAtMs);
      if ((await this.chargeSpan(session, { toMs, suspend: { epoch: suspension.epoch } })) !== undefined) {
        return;
      }
      session = await this.getSession(sessionId);
    }
    throw contention(sessionId);
  }

  /**
   * Resumes the session here as owner `epoch`: usage up to `cutAtMs` (when it stopped being used) is counted, the time
   * from then to now never is, and metering goes on from now. Undefined when the session has ended.
   */
  async resumeSession(
    sessionId: string,
    resume: { cutAtMs: number; epoch: number; instanceId: string },
  ): Promise<QuotaRecordResult | undefined> {
    let session = await this.getSession(sessionId);
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      if (!isOpen(session.status)) {
        return undefined;
      }
      const nowMs = this.clock.now();
      if (session.ownerEpoch >= resume.epoch) {
        this.lastWritten.set(sessionId, session);
        return this.usageOf(session, session.recordedUntilMs);
      }
      const counted =
        session.status === 'active' && session.recordedUntilMs < resume.cutAtMs
          ? await this.chargeSpan(session, { toMs: Math.min(resume.cutAtMs, nowMs) })
          : session;
      if (
        counted !== undefined &&
        (await this.quota.resume(counted, { resumeAtMs: nowMs, epoch: resume.epoch, instanceId: resume.instanceId }))
      ) {
        const gap = Math.max(0, nowMs - counted.recordedUntilMs);
        const resumed: QuotaSessionRecord = {
          ...counted,
          status: 'active',
          startedAtMs: counted.startedAtMs + gap,
          recordedUntilMs: counted.recordedUntilMs + gap,
          ownerEpoch: resume.epoch,
          ownerInstanceId: resume.instanceId,
        };
        this.lastWritten.set(sessionId, resumed);
        return this.usageOf(resumed, resumed.recordedUntilMs);
      }
      session = await this.getSession(sessionId);
    }
    throw contention(sessionId);
  }

  /** This instance no longer runs the session (another one ended it): its cached copy goes. */
  forget(sessionId: string): void {
    this.lastWritten.delete(sessionId);
  }

  /**
   * Claim first, count second: a crash between the two writes leaves the span claimed but uncounted, so the
   * user is under-charged by one span at most; counting first would charge the span twice on the retry.
   */
  private async chargeSpan(session: QuotaSessionRecord, claim: Omit<SpanClaim, 'seconds'>): Promise<QuotaSessionRecord | undefined> {
    const seconds = spanSeconds(session, claim.toMs);
    if (!(await this.quota.claimSpan(session, { ...claim, seconds }))) {
      return undefined;
    }
    await this.quota.addUsage(session.userId, session.feature, splitUsage(spanOf(session, claim.toMs)));
    return claimedUntil(session, claim.toMs, seconds);
  }

  private async usageOf(session: QuotaSessionRecord, chargedUntilMs: number): Promise<QuotaRecordResult> {
    return this.usageFrom(session, chargedUntilMs, await this.remainingAt(session.userId, session.tier, session.feature, this.clock.now()));
  }

  private usageFrom(session: QuotaSessionRecord, chargedUntilMs: number, remaining: QuotaRemaining): QuotaRecordResult {
    const runsOutAt =
      session.status === 'active'
        ? quotaRunOutAt({ sessionStartMs: session.startedAtMs, chargedUntilMs }, remaining.remainingSeconds)
        : undefined;
    return { exceeded: smallestRemaining(remaining.remainingSeconds) === 0, ...remaining, runsOutAt: runsOutAt ?? null };
  }

  private async remainingAt(userId: string, tier: SubscriptionTier, feature: QuotaFeature, atMs: number): Promise<QuotaRemaining> {
    return this.remainingOf(tier, hasQuota(tier) ? await this.quota.usedSeconds(userId, feature, atMs) : undefined);
  }

  /** What is left of a tier's windows once `used` is spent; nothing for tiers without live features. */
  private remainingOf(tier: SubscriptionTier, used: WindowAmounts | undefined): QuotaRemaining {
    const seconds = hasQuota(tier) && used !== undefined ? remainingSeconds(this.config.quota.minutes[tier], used) : NOTHING_LEFT;
    return { remaining: wholeMinutes(seconds), remainingSeconds: seconds };
  }

  private async getSession(sessionId: string): Promise<QuotaSessionRecord> {
    const session = await this.quota.findSession(sessionId);
    if (session === undefined) {
      throw new DomainError(ErrorCode.NotFound, `No quota session ${sessionId}`);
    }
    return session;
  }
}

function contention(sessionId: string): DomainError {
  return new DomainError(
    ErrorCode.ServiceUnavailable,
    `Quota session ${sessionId}: ${MAX_CLAIM_ATTEMPTS} concurrent updates won over this one`,
  );
}

/** The span a claim from the session's last record to `toMs` covers. */
function spanOf(session: QuotaSessionRecord, toMs: number) {
  return { sessionStartMs: session.startedAtMs, fromMs: session.recordedUntilMs, toMs };
}

/** The session as a claim up to `toMs`, adding `seconds`, left it. */
function claimedUntil(session: QuotaSessionRecord, toMs: number, seconds: number): QuotaSessionRecord {
  return { ...session, recordedUntilMs: toMs, usedSeconds: session.usedSeconds + seconds };
}

/** Seconds a claim from the session's last record to `toMs` adds: whole seconds from the start, rounded up. */
function spanSeconds(session: QuotaSessionRecord, toMs: number): number {
  return chargedSecondsUntil(session.startedAtMs, toMs) - chargedSecondsUntil(session.startedAtMs, session.recordedUntilMs);
}

function hasQuota(tier: SubscriptionTier): tier is SubscriptionTierWithQuota {
  return tier === 'premium' || tier === 'family';
}

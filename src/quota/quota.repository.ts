import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { mongo, type Model } from 'mongoose';
import type { QuotaWindow } from '../config/app-config.js';
import { driverCollection } from '../database/driver-collection.js';
import { FindByIdBatcher } from '../database/find-by-id-batcher.js';
import { InsertBatcher } from '../database/insert-batcher.js';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import type { SubscriptionTier } from '../users/user.schema.js';
import type { QuotaFeature } from './quota-feature.js';
import { QuotaSession, type QuotaSessionEndStatus, type QuotaSessionStatus } from './quota-session.schema.js';
import { QuotaUsage } from './quota-usage.schema.js';
import { QUOTA_WINDOWS, windowStart, type WindowAmounts, type WindowCharge } from './quota-windows.js';

export interface QuotaSessionRecord {
  id: string;
  userId: string;
  tier: SubscriptionTier;
  feature: QuotaFeature;
  status: QuotaSessionStatus;
  startedAtMs: number;
  recordedUntilMs: number;
  usedSeconds: number;
  endedAtMs?: number;
  ownerInstanceId?: string;
  ownerEpoch: number;
}

export interface NewQuotaSession {
  id: string;
  userId: string;
  tier: SubscriptionTier;
  feature: QuotaFeature;
  startedAtMs: number;
  ownerInstanceId?: string;
}

/** What a claim moves the session to; with `end`, the same write closes the session, with `suspend`, suspends it. */
export interface SpanClaim {
  toMs: number;
  seconds: number;
  end?: { status: QuotaSessionEndStatus; endedAtMs: number };
  suspend?: { epoch: number };
}

export function usageKey(userId: string, feature: QuotaFeature, window: QuotaWindow, windowStartMs: number): string {
  return `${userId}:${feature}:${window}:${new Date(windowStartMs).toISOString()}`;
}

/** The keys of the user's hour, day and month counters that contain `atMs`, in that order. */
function windowKeys(userId: string, feature: QuotaFeature, atMs: number): string[] {
  return QUOTA_WINDOWS.map((window) => usageKey(userId, feature, window, windowStart(window, atMs)));
}

@Injectable()
export class QuotaRepository {
  /** Openings at the same time read their users' window counters, and write their quota sessions, in one command. */
  private readonly usageById = new FindByIdBatcher(() => driverCollection(this.usage), { used_seconds: 1 });
  private readonly sessionInserts = new InsertBatcher(() => driverCollection(this.sessions));

  constructor(
    @InjectModel(QuotaUsage.name) private readonly usage: Model<QuotaUsage>,
    @InjectModel(QuotaSession.name) private readonly sessions: Model<QuotaSession>,
  ) {}

  /** Seconds used in the hour, day and month windows that contain `atMs`. */
  async usedSeconds(userId: string, feature: QuotaFeature, atMs: number): Promise<WindowAmounts> {
    const [hour, day, month] = await Promise.all(
      windowKeys(userId, feature, atMs).map(async (key) => (await this.usageById.find(key))?.used_seconds ?? 0),
    );
    return { hour, day, month };
  }

  /** The same for many users at once, in one read; answers in the order asked. */
  async usedSecondsOfMany(users: Array<{ userId: string; feature: QuotaFeature }>, atMs: number): Promise<WindowAmounts[]> {
    const keysByUser = users.map(({ userId, feature }) => windowKeys(userId, feature, atMs));
    const found = await driverCollection(this.usage)
      .find({ _id: { $in: [...new Set(keysByUser.flat())] } }, { projection: { used_seconds: 1 } })
      .toArray();
    const usedByKey = new Map(found.map((counter) => [counter._id, counter.used_seconds]));
    return keysByUser.map((keys) => {
      const [hour, day, month] = keys.map((key) => usedByKey.get(key) ?? 0);
      return { hour, day, month };
    });
  }

  /** One bulk write of the window counters; a counter two writers both tried to create is retried as an update. */
  async addUsage(userId: string, feature: QuotaFeature, charges: WindowCharge[]): Promise<void> {
    await this.addUsageOfMany([{ userId, feature, charges }]);
  }

  /** The same for many users' charges, in one bulk write. */
  async addUsageOfMany(usages: Array<{ userId: string; feature: QuotaFeature; charges: WindowCharge[] }>): Promise<void> {
    let pending: mongo.AnyBulkWriteOperation<QuotaUsage>[] = usages.flatMap(({ userId, feature, charges }) =>
      charges
        .filter((charge) => charge.seconds > 0)
        .map((charge) => ({
          updateOne: {
            filter: { _id: usageKey(userId, feature, charge.window, charge.windowStartMs) },
            update: {
              $setOnInsert: { user_id: userId, feature, window: charge.window, window_start: new Date(charge.windowStartMs) },
              $inc: { used_seconds: charge.seconds },
            },
            upsert: true,
          },
        })),
    );
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        await driverCollection(this.usage).bulkWrite(pending, { ordered: false });
        return;
      } catch (error) {
        const failed = error instanceof mongo.MongoBulkWriteError ? error.writeErrors : [];
        const writeErrors = Array.isArray(failed) ? failed : [failed];
        if (attempt > 1 || writeErrors.length === 0 || !writeErrors.every((writeError) => isDuplicateKeyError(writeError))) {
          throw error;
        }
        pending = writeErrors.map((writeError) => pending[writeError.index]);
      }
    }
  }

  async createSession(session: NewQuotaSession): Promise<QuotaSessionRecord> {
    const startedAt = new Date(session.startedAtMs);
    // Built whole in code, as mongoose would have stored it (a session opened without an owner has no field for one,
    // never a null): one per opening, so the driver takes it without mongoose making and validating a document.
    const created: QuotaSession = {
      _id: session.id,
      user_id: session.userId,
      tier: session.tier,
      feature: session.feature,
      status: 'active',
      started_at: startedAt,
      recorded_until: startedAt,
      used_seconds: 0,
      ...(session.ownerInstanceId !== undefined && { owner_instance_id: session.ownerInstanceId }),
    };
    await this.sessionInserts.insert(created);
    return toRecord(created);
  }

  async findSession(id: string): Promise<QuotaSessionRecord | undefined> {
    const found = await this.sessions.findById(id).lean<QuotaSession>().exec();
    return found === null ? undefined : toRecord(found);
  }

  /**
   * Moves `recorded_until` from what `session` read to `claim.toMs`, only if nobody moved it meanwhile and the
   * session is still active: of concurrent claims of one span exactly one wins. False when this one lost.
   */
  async claimSpan(session: QuotaSessionRecord, claim: SpanClaim): Promise<boolean> {
    const ending = claim.end === undefined ? {} : { status: claim.end.status, ended_at: new Date(claim.end.endedAtMs) };
    const suspending = claim.suspend === undefined ? {} : { status: 'suspended' as const, owner_epoch: claim.suspend.epoch };
    const result = await driverCollection(this.sessions).updateOne(claimFilter(session), {
      $set: { recorded_until: new Date(claim.toMs), ...ending, ...suspending },
      $inc: { used_seconds: claim.seconds },
    });
    return result.matchedCount === 1;
  }

  /**
   * Resumes the session as owner `epoch` on `instanceId` at `resumeAtMs`: `started_at` and `recorded_until` move later
   * by the time since its last record, which is never counted. A compare-and-set on what `session` read.
   */
  async resume(session: QuotaSessionRecord, resume: { resumeAtMs: number; epoch: number; instanceId: string }): Promise<boolean> {
    const gap = Math.max(0, resume.resumeAtMs - session.recordedUntilMs);
    const result = await driverCollection(this.sessions).updateOne(claimFilter(session), {
      $set: {
        status: 'active',
        started_at: new Date(session.startedAtMs + gap),
        recorded_until: new Date(session.recordedUntilMs + gap),
        owner_epoch: resume.epoch,
        owner_instance_id: resume.instanceId,
      },
    });
    return result.matchedCount === 1;
  }

  /**
   * Many claims of the kind `claimSpan` makes (none of them ending a session), in one bulk write; returns the ids
   * of the sessions whose claim won. When some lost, the winners are told by the batch's `token`, which each
   * winning claim wrote.
   */
  async claimSpans(claims: Array<{ session: QuotaSessionRecord; toMs: number; seconds: number }>, token: string): Promise<Set<string>> {
    if (claims.length === 0) {
      return new Set();
    }
    const result = await driverCollection(this.sessions).bulkWrite(
      claims.map(({ session, toMs, seconds }) => ({
        updateOne: {
          filter: claimFilter(session),
          update: { $set: { recorded_until: new Date(toMs), claim_token: token }, $inc: { used_seconds: seconds } },
        },
      })),
      { ordered: false },
    );
    if (result.matchedCount === claims.length) {
      return new Set(claims.map(({ session }) => session.id));
    }
    const won = await driverCollection(this.sessions)
      .find({ _id: { $in: claims.map(({ session }) => session.id) }, claim_token: token }, { projection: { _id: 1 } })
      .toArray();
    return new Set(won.map((session) => session._id));
  }
}

/** A claim wins only if nobody moved the session (its status, `recorded_until`) since `session` was read. */
function claimFilter(session: QuotaSessionRecord) {
  return { _id: session.id, status: session.status, recorded_until: new Date(session.recordedUntilMs) };
}

function toRecord(session: QuotaSession): QuotaSessionRecord {
  return {
    id: session._id,
    userId: session.user_id,
    tier: session.tier,
    feature: session.feature,
    status: session.status,
    startedAtMs: session.started_at.getTime(),
    recordedUntilMs: session.recorded_until.getTime(),
    usedSeconds: session.used_seconds,
    endedAtMs: session.ended_at?.getTime(),
    ownerInstanceId: session.owner_instance_id,
    ownerEpoch: session.owner_epoch ?? 0,
  };
}

import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model, mongo } from 'mongoose';
import { driverCollection } from '../../database/driver-collection.js';
import { InsertBatcher } from '../../database/insert-batcher.js';
import { BetaSession, type BetaEndReason, type BetaSessionStatus } from './beta-session.schema.js';

export type BetaSessionRecord = BetaSession;

/** What the checkpoint reads of each active session: whose it is and who serves it. */
export type ActiveSessionRef = Pick<BetaSessionRecord, '_id' | 'email' | 'instance_id'>;

export interface SessionProgress {
  sessionId: string;
  chargedCredits: number;
  chargedSeconds: number;
}

@Injectable()
export class BetaSessionsRepository implements OnModuleInit {
  /** Openings at the same time write their beta sessions in one command. */
  private readonly inserts = new InsertBatcher(() => driverCollection(this.sessions));

  constructor(@InjectModel(BetaSession.name) private readonly sessions: Model<BetaSession>) {}

  async onModuleInit(): Promise<void> {
    await this.sessions.init();
  }

  /** Writes the session as given: every field of the schema that has no default is the caller's to set. */
  insert(session: BetaSessionRecord): Promise<void> {
    return this.inserts.insert(session);
  }

  async find(id: string): Promise<BetaSessionRecord | undefined> {
    return (await this.sessions.findById(id).lean<BetaSessionRecord>().exec()) ?? undefined;
  }

  /** The sessions of those ids that exist: one query. */
  async findMany(ids: string[]): Promise<BetaSessionRecord[]> {
    return ids.length === 0
      ? []
      : this.sessions
          .find({ _id: { $in: ids } })
          .lean<BetaSessionRecord[]>()
          .exec();
  }

  /** Every active session, in one query: the checkpoint charges those this instance serves. */
  async findActive(): Promise<ActiveSessionRef[]> {
    return this.sessions.find({ status: 'active' }, { email: 1, instance_id: 1 }).lean<ActiveSessionRef[]>().exec();
  }

  async list(filter: { status?: BetaSessionStatus; email?: string }, limit: number): Promise<BetaSessionRecord[]> {
    return this.sessions.find(filter).sort({ started_at: -1 }).limit(limit).lean<BetaSessionRecord[]>().exec();
  }

  /** Records the charges of many sessions in one round trip; `$max` keeps them monotone under races. */
  async recordProgress(progress: SessionProgress[]): Promise<void> {
    if (progress.length === 0) {
      return;
    }
    // Straight to the driver: the updates are built whole here, so mongoose has nothing to cast.
    const operations: mongo.AnyBulkWriteOperation<BetaSession>[] = progress.map((item) => ({
      updateOne: {
        filter: { _id: item.sessionId },
        update: { $max: { charged_credits: item.chargedCredits, charged_seconds: item.chargedSeconds } },
      },
    }));
    await driverCollection(this.sessions).bulkWrite(operations, { ordered: false });
  }

  /**
   * Suspends or resumes the session as owner `epoch` of its live session: a later epoch's move always wins, so a slow
   * old owner cannot mark suspended a session another instance has resumed. False when it changed nothing.
   */
  async move(sessionId: string, to: { status: 'active' | 'suspended'; instanceId: string; epoch: number }): Promise<boolean> {
    const result = await driverCollection(this.sessions).updateOne(
      {
        _id: sessionId,
        status: { $in: ['active', 'suspended'] },
        $or: [{ owner_epoch: { $exists: false } }, { owner_epoch: { $lt: to.epoch } }],
      },
      { $set: { status: to.status, instance_id: to.instanceId, owner_epoch: to.epoch } },
    );
    return result.matchedCount === 1;
  }

  /** Marks the session ended once: a compare-and-set on its version, so the first end wins. */
  async markEnded(
    session: BetaSessionRecord,
    outcome: { reason: BetaEndReason; endedAt: Date; chargedCredits: number; chargedSeconds: number },
  ): Promise<boolean> {
    const result = await this.sessions
      .updateOne(
        { _id: session._id, version: session.version },
        {
          $set: {
            status: 'ended',
            end_reason: outcome.reason,
            ended_at: outcome.endedAt,
            charged_credits: outcome.chargedCredits,
            charged_seconds: outcome.chargedSeconds,
          },
          $inc: { version: 1 },
        },
      )
      .exec();
    return result.modifiedCount === 1;
  }
}

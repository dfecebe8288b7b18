import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Model } from 'mongoose';
import { BetaSession, type BetaEndReason, type BetaSessionStatus } from './beta-session.schema.js';

export type BetaSessionRecord = BetaSession;

export interface SessionProgress {
  sessionId: string;
  chargedCredits: number;
  chargedSeconds: number;
  heartbeatAt: Date;
}

@Injectable()
export class BetaSessionsRepository implements OnModuleInit {
  constructor(@InjectModel(BetaSession.name) private readonly sessions: Model<BetaSession>) {}

  async onModuleInit(): Promise<void> {
    await this.sessions.init();
  }

  async insert(session: BetaSessionRecord): Promise<void> {
    await this.sessions.create(session);
  }

  async find(id: string): Promise<BetaSessionRecord | undefined> {
    return (await this.sessions.findById(id).lean<BetaSessionRecord>().exec()) ?? undefined;
  }

  async findActive(filter: { instanceId?: string } = {}): Promise<BetaSessionRecord[]> {
    const query: Record<string, unknown> = { status: 'active' };
    if (filter.instanceId !== undefined) {
      query.instance_id = filter.instanceId;
    }
    return this.sessions.find(query).lean<BetaSessionRecord[]>().exec();
  }

  async list(filter: { status?: BetaSessionStatus; email?: string }, limit: number): Promise<BetaSessionRecord[]> {
    return this.sessions.find(filter).sort({ started_at: -1 }).limit(limit).lean<BetaSessionRecord[]>().exec();
  }

  /** Records charges and the heartbeat of many sessions in one round trip; `$max` keeps them monotone under races. */
  async recordProgress(progress: SessionProgress[]): Promise<void> {
    if (progress.length === 0) {
      return;
    }
    const operations: AnyBulkWriteOperation<BetaSession>[] = progress.map((item) => ({
      updateOne: {
        filter: { _id: item.sessionId },
        update: { $max: { charged_credits: item.chargedCredits, charged_seconds: item.chargedSeconds, heartbeat_at: item.heartbeatAt } },
      },
    }));
    await this.sessions.bulkWrite(operations, { ordered: false });
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

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import { JobLease } from './job-lease.schema.js';

export interface LeaseState {
  holder: string;
  expiresAtMs: number;
  acquiredAtMs: number;
}

@Injectable()
export class JobLeasesRepository {
  constructor(@InjectModel(JobLease.name) private readonly leases: Model<JobLease>) {}

  /**
   * Takes or renews the lease until `untilMs` if `holder` holds it or it expired by `nowMs`: true when the claim
   * landed. Of two instances claiming an expired lease at once, one compare-and-set matches; the other finds the
   * lease held (or, when neither found a document, its insert collides on `_id`).
   */
  async claim(job: string, holder: string, nowMs: number, untilMs: number): Promise<{ held: boolean; taken: boolean }> {
    try {
      const before = await this.leases
        .findOneAndUpdate(
          { _id: job, $or: [{ holder }, { expires_at: { $lte: nowMs } }] },
          { $set: { holder, expires_at: untilMs }, $setOnInsert: { acquired_at: nowMs } },
          { upsert: true, returnDocument: 'before' },
        )
        .lean<JobLease>()
        .exec();
      const taken = before === null || before.holder !== holder;
      if (taken && before !== null) {
        await this.leases.updateOne({ _id: job, holder, expires_at: untilMs }, { $set: { acquired_at: nowMs } }).exec();
      }
      return { held: true, taken };
    } catch (error) {
      if (isDuplicateKeyError(error)) {
        return { held: false, taken: false };
      }
      throw error;
    }
  }

  /** Gives the lease up at once (a clean shutdown), so another instance need not wait for it to expire. */
  async release(job: string, holder: string): Promise<void> {
    await this.leases.updateOne({ _id: job, holder }, { $set: { expires_at: 0 } }).exec();
  }

  async find(job: string): Promise<LeaseState | undefined> {
    const found = await this.leases.findById(job).lean<JobLease>().exec();
    return found === null ? undefined : { holder: found.holder, expiresAtMs: found.expires_at, acquiredAtMs: found.acquired_at };
  }
}

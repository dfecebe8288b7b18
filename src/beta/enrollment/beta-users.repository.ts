import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { driverCollection } from '../../database/driver-collection.js';
import { FindByIdBatcher } from '../../database/find-by-id-batcher.js';
import { BetaUser } from './beta-user.schema.js';

export type BetaUserRecord = BetaUser;

@Injectable()
export class BetaUsersRepository {
  /** Openings at the same time read their users' membership in one query. */
  private readonly byId = new FindByIdBatcher(() => driverCollection(this.users));

  constructor(@InjectModel(BetaUser.name) private readonly users: Model<BetaUser>) {}

  find(email: string): Promise<BetaUserRecord | undefined> {
    return this.byId.find(email);
  }

  /** Sets membership on; creates the record the first time. Returns whether it was off (or absent) before. */
  async enroll(email: string, via: string, at: Date): Promise<{ wasMember: boolean }> {
    const before = await this.users
      .findOneAndUpdate(
        { _id: email },
        { $set: { is_beta_user: true, email }, $unset: { revoked_at: 1 }, $setOnInsert: { enrolled_at: at, enrolled_via: via } },
        { upsert: true, returnDocument: 'before' },
      )
      .lean<BetaUserRecord>()
      .exec();
    return { wasMember: before?.is_beta_user === true };
  }

  async revoke(email: string, at: Date): Promise<boolean> {
    const result = await this.users.updateOne({ _id: email }, { $set: { is_beta_user: false, revoked_at: at } }).exec();
    return result.matchedCount === 1;
  }

  async findRevoked(emails: string[]): Promise<Set<string>> {
    if (emails.length === 0) {
      return new Set();
    }
    const revoked = await this.users.find({ is_beta_user: false }, { _id: 1 }).lean<{ _id: string }[]>().exec();
    const wanted = new Set(emails);
    return new Set(revoked.map((user) => user._id).filter((email) => wanted.has(email)));
  }
}

import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { BetaUser } from './beta-user.schema.js';

export type BetaUserRecord = BetaUser;

@Injectable()
export class BetaUsersRepository {
  constructor(@InjectModel(BetaUser.name) private readonly users: Model<BetaUser>) {}

  async find(email: string): Promise<BetaUserRecord | undefined> {
    return (await this.users.findById(email).lean<BetaUserRecord>().exec()) ?? undefined;
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

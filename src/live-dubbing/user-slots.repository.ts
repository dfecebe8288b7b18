import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { CompareAndSetBatcher } from '../database/compare-and-set-batcher.js';
import { driverCollection } from '../database/driver-collection.js';
import { FindByIdBatcher } from '../database/find-by-id-batcher.js';
import { InsertBatcher } from '../database/insert-batcher.js';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import { UserSlots } from './user-slots.schema.js';

export interface UserSlot {
  sessionId: string;
  takenAtMs: number;
}

/** One user's occupied slots, at the version its next compare-and-set is conditioned on. */
export interface UserSlotsRecord {
  userId: string;
  version: number;
  slots: UserSlot[];
}

@Injectable()
export class UserSlotsRepository implements OnModuleInit {
  /** Openings at the same time read, and write, their users' slots in one command of each kind. */
  private readonly byId = new FindByIdBatcher(() => driverCollection(this.userSlots));
  private readonly inserts = new InsertBatcher(() => driverCollection(this.userSlots));
  private readonly replaces = new CompareAndSetBatcher(() => driverCollection(this.userSlots));

  constructor(@InjectModel(UserSlots.name) private readonly userSlots: Model<UserSlots>) {}

  async onModuleInit(): Promise<void> {
    await this.userSlots.init();
  }

  async find(userId: string): Promise<UserSlotsRecord | undefined> {
    // Read and written through the driver: every opening does both, and the documents are plain (see the schema).
    const found = await this.byId.find(userId);
    return found === undefined
      ? undefined
      : {
          userId: found._id,
          version: found.version,
          slots: found.slots.map((slot) => ({ sessionId: slot.session_id, takenAtMs: slot.taken_at })),
        };
  }

  /** Writes the user's first slots; false when another instance wrote them first. */
  async insert(userId: string, slots: UserSlot[]): Promise<boolean> {
    try {
      await this.inserts.insert({ _id: userId, version: 0, slots: toDocuments(slots) });
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) {
        return false;
      }
      throw error;
    }
  }

  /** Replaces the slots if the record is still at `record.version`; false when another write got there first. */
  replace(record: UserSlotsRecord, slots: UserSlot[]): Promise<boolean> {
    return this.replaces.write(record.userId, record.version, { $set: { slots: toDocuments(slots) }, $inc: { version: 1 } });
  }
}

function toDocuments(slots: UserSlot[]): { session_id: string; taken_at: number }[] {
  return slots.map((slot) => ({ session_id: slot.sessionId, taken_at: slot.takenAtMs }));
}

import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { CompareAndSetBatcher } from '../database/compare-and-set-batcher.js';
import { driverCollection } from '../database/driver-collection.js';
import { FindByIdBatcher } from '../database/find-by-id-batcher.js';
import { InsertBatcher } from '../database/insert-batcher.js';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import { ConnectionOpens } from './connection-open.schema.js';

/** The recent session opens of one user, at the version its next compare-and-set is conditioned on. */
export interface ConnectionOpensRecord {
  userId: string;
  version: number;
  openedAtMs: number[];
}

@Injectable()
export class ConnectionOpensRepository implements OnModuleInit {
  /** Openings at the same time read, and write, their users' records in one command of each kind. */
  private readonly byId = new FindByIdBatcher(() => driverCollection(this.opens));
  private readonly inserts = new InsertBatcher(() => driverCollection(this.opens));
  private readonly replaces = new CompareAndSetBatcher(() => driverCollection(this.opens));

  constructor(@InjectModel(ConnectionOpens.name) private readonly opens: Model<ConnectionOpens>) {}

  async onModuleInit(): Promise<void> {
    await this.opens.init();
  }

  async find(userId: string): Promise<ConnectionOpensRecord | undefined> {
    // Read and written through the driver: every opening does both, and the documents are plain (see the schema).
    const found = await this.byId.find(userId);
    return found === undefined ? undefined : { userId: found._id, version: found.version, openedAtMs: found.opened_at };
  }

  /** Records the user's first opens; false when another instance recorded the user first. */
  async insert(userId: string, openedAtMs: number[]): Promise<boolean> {
    try {
      await this.inserts.insert({ _id: userId, version: 0, opened_at: openedAtMs });
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) {
        return false;
      }
      throw error;
    }
  }

  /** Replaces the opens if the record is still at `record.version`; false when another write got there first. */
  replace(record: ConnectionOpensRecord, openedAtMs: number[]): Promise<boolean> {
    return this.replaces.write(record.userId, record.version, { $set: { opened_at: openedAtMs }, $inc: { version: 1 } });
  }
}

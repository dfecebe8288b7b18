import type { mongo } from 'mongoose';
import { isDuplicateKeyError, settleUnorderedWrite } from './mongo-errors.js';
import { chunks, TurnQueue } from './turn-queue.js';

/** The most compare-and-sets one command carries; more in one turn are split into several commands, sent together. */
export const MAX_WRITES_PER_COMMAND = 500;

interface CompareAndSet<T> {
  id: unknown;
  version: number;
  update: mongo.UpdateFilter<T>;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Compare-and-sets on `{_id, version}` in one collection, sending every one asked for in the same turn of the event
 * loop (`TurnQueue`) as one unordered `update` command, and still telling each caller whether its own write was
 * applied, which a bulk result's counts cannot (docs/credits.md, "Many writes in one command").
 *
 * Each statement is an upsert on `{_id, version}`: the document at that version is updated; a document at another
 * version makes the server try to insert a second document with the same `_id`, which the `_id` index refuses with a
 * duplicate-key error for that statement alone: the compare-and-set failed. The server retries no such upsert (its
 * filter is not the unique index's key alone, and the update changes `version`). The update must `$inc` `version` by
 * one and `$set` the whole state, so that the document it would create, were the record deleted meanwhile (nothing in
 * the service deletes these records), holds that state at the next version. A command that fails as a whole (the
 * database unreachable) fails every write it carried, which may or may not have been applied, as a lone `updateOne`
 * that fails that way.
 */
export class CompareAndSetBatcher<T extends { _id: unknown; version: number }> {
  private readonly queue = new TurnQueue<CompareAndSet<T>>((writes) => this.send(writes));

  /** @param collection the collection, asked for at each command (a model's is there once its connection is) */
  constructor(private readonly collection: () => mongo.Collection<T>) {}

  /** True when the document was at `version` and now has `update` applied; false when it was at another version. */
  write(id: T['_id'], version: number, update: mongo.UpdateFilter<T>): Promise<boolean> {
    return new Promise((resolve, reject) => this.queue.push({ id, version, update, resolve, reject }));
  }

  private send(writes: CompareAndSet<T>[]): void {
    chunks(writes, MAX_WRITES_PER_COMMAND).forEach((run) => void this.apply(run));
  }

  private async apply(writes: CompareAndSet<T>[]): Promise<void> {
    const statements = writes.map((write): mongo.AnyBulkWriteOperation<T> => ({
      updateOne: { filter: { _id: write.id, version: write.version } as mongo.Filter<T>, update: write.update, upsert: true },
    }));
    try {
      await this.collection().bulkWrite(statements, { ordered: false });
      writes.forEach((write) => write.resolve(true));
    } catch (error) {
      settleUnorderedWrite(writes, error, (write, writeError) => {
        if (writeError === undefined) {
          write.resolve(true);
        } else if (isDuplicateKeyError(writeError)) {
          write.resolve(false);
        } else {
          write.reject(writeError);
        }
      });
    }
  }
}

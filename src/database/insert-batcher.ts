import type { mongo } from 'mongoose';
import { settleUnorderedWrite } from './mongo-errors.js';
import { chunks, TurnQueue } from './turn-queue.js';

/** The most documents one command inserts; more in one turn are split into several commands, sent together. */
export const MAX_DOCUMENTS_PER_INSERT = 500;

interface Insert<T> {
  doc: mongo.OptionalUnlessRequiredId<T>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Inserts documents into one collection, sending every insert asked for in the same turn of the event loop
 * (`TurnQueue`) as one command: `insertOne` for one document, as before, an unordered `insertMany` for several, so
 * one document refused (a duplicate `_id`) neither stops nor fails the others. Each caller learns the fate of its own
 * document: done, or the server's error for it (a duplicate key keeps its code, 11000); a command that fails as a
 * whole (the database unreachable) fails every insert it carried, which may or may not have been written, as a lone
 * `insertOne` that fails that way.
 */
export class InsertBatcher<T extends { _id: unknown }> {
  private readonly queue = new TurnQueue<Insert<T>>((inserts) => this.send(inserts));

  /** @param collection the collection, asked for at each command (a model's is there once its connection is) */
  constructor(private readonly collection: () => mongo.Collection<T>) {}

  insert(doc: mongo.OptionalUnlessRequiredId<T>): Promise<void> {
    return new Promise((resolve, reject) => this.queue.push({ doc, resolve, reject }));
  }

  private send(inserts: Insert<T>[]): void {
    chunks(inserts, MAX_DOCUMENTS_PER_INSERT).forEach((run) => void this.write(run));
  }

  private async write(inserts: Insert<T>[]): Promise<void> {
    try {
      if (inserts.length === 1) {
        await this.collection().insertOne(inserts[0].doc);
      } else {
        await this.collection().insertMany(
          inserts.map((insert) => insert.doc),
          { ordered: false },
        );
      }
      inserts.forEach((insert) => insert.resolve());
    } catch (error) {
      settleUnorderedWrite(inserts, error, (insert, writeError) =>
        writeError === undefined ? insert.resolve() : insert.reject(writeError),
      );
    }
  }
}

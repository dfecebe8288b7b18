import type { mongo } from 'mongoose';
import { chunks, TurnQueue } from './turn-queue.js';

/** The most keys one query asks for; more lookups in one turn are split into several queries, sent together. */
export const MAX_KEYS_PER_QUERY = 500;

interface Lookup<T> {
  id: unknown;
  resolve: (found: T | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Looks documents up by `_id`, one collection's, and sends every lookup asked for in the same turn of the event loop
 * (`TurnQueue`) as one query: `{_id: x}` for one key, as before, `{_id: {$in: [...]}}` for several. Under a burst of
 * openings many look up the same kinds of documents at the same time, and each database command costs the gateway
 * far more CPU than one more key in a query (README, "Benchmarks"). Each caller gets the document as the query found
 * it, or undefined, and a document of its own (a key asked for twice in one turn is looked up twice); a query that
 * fails fails every lookup it carried. Both query forms use the `_id` index, on MongoDB and on the embedded server.
 */
export class FindByIdBatcher<T extends { _id: unknown }> {
  private readonly queue = new TurnQueue<Lookup<T>>((lookups) => this.send(lookups));

  /**
   * @param collection the collection, asked for at each query (a model's is there once its connection is)
   * @param projection the fields to return, the same for every lookup
   */
  constructor(
    private readonly collection: () => mongo.Collection<T>,
    private readonly projection?: mongo.Document,
  ) {}

  find(id: T['_id']): Promise<T | undefined> {
    return new Promise((resolve, reject) => this.queue.push({ id, resolve, reject }));
  }

  private send(lookups: Lookup<T>[]): void {
    // A key asked for again in the turn is sent as a query of its own, so that no two callers share a document.
    const first = new Map<string, Lookup<T>>();
    const again: Lookup<T>[] = [];
    for (const lookup of lookups) {
      const key = keyOf(lookup.id);
      if (first.has(key)) {
        again.push(lookup);
      } else {
        first.set(key, lookup);
      }
    }
    chunks([...first.values()], MAX_KEYS_PER_QUERY).forEach((run) => void this.query(run));
    again.forEach((lookup) => void this.query([lookup]));
  }

  private async query(lookups: Lookup<T>[]): Promise<void> {
    const options = this.projection === undefined ? {} : { projection: this.projection };
    try {
      const found =
        lookups.length === 1
          ? [await this.collection().findOne({ _id: lookups[0].id } as mongo.Filter<T>, options)].filter((doc) => doc !== null)
          : await this.collection()
              .find({ _id: { $in: lookups.map((lookup) => lookup.id) } } as mongo.Filter<T>, { ...options, batchSize: lookups.length })
              .toArray();
      const byKey = new Map(found.map((doc) => [keyOf(doc._id), doc as T]));
      lookups.forEach((lookup) => lookup.resolve(byKey.get(keyOf(lookup.id))));
    } catch (error) {
      lookups.forEach((lookup) => lookup.reject(error));
    }
  }
}

/** One key per stored `_id`: a string as it is, an ObjectId as its hex. */
function keyOf(id: unknown): string {
  return typeof id === 'string' ? `s:${id}` : `o:${String(id)}`;
}

import type { mongo } from 'mongoose';
import { FindByIdBatcher, MAX_KEYS_PER_QUERY } from './find-by-id-batcher.js';

interface Doc {
  _id: string;
  value: number;
}

/** A collection over `docs` that records each query it is sent; `failing` makes the queries naming that key fail. */
function fakeCollection(docs: Doc[], failing?: string) {
  const queries: Array<{ kind: 'findOne' | 'find'; ids: string[]; options: unknown }> = [];
  const answer = (ids: string[]) => {
    if (failing !== undefined && ids.includes(failing)) {
      throw new Error('connection reset');
    }
    // Copies, as a driver decodes each reply afresh; in reverse, as a query's order is not the keys' order.
    return docs
      .filter((doc) => ids.includes(doc._id))
      .map((doc) => ({ ...doc }))
      .reverse();
  };
  const collection = {
    findOne: async (filter: { _id: string }, options: unknown) => {
      queries.push({ kind: 'findOne', ids: [filter._id], options });
      return answer([filter._id])[0] ?? null;
    },
    find: (filter: { _id: { $in: string[] } }, options: unknown) => {
      queries.push({ kind: 'find', ids: filter._id.$in, options });
      return { toArray: async () => answer(filter._id.$in) };
    },
  };
  return { collection: collection as unknown as mongo.Collection<Doc>, queries };
}

const docs: Doc[] = Array.from({ length: 1200 }, (_, i) => ({ _id: `doc-${i}`, value: i }));

describe('FindByIdBatcher', () => {
  it('sends the lookups of one turn as one $in query and gives each caller its document, or undefined', async () => {
    const { collection, queries } = fakeCollection(docs);
    const batcher = new FindByIdBatcher(() => collection);
    const found = await Promise.all(['doc-3', 'missing', 'doc-7', 'doc-1'].map((id) => batcher.find(id)));
    expect(found).toEqual([{ _id: 'doc-3', value: 3 }, undefined, { _id: 'doc-7', value: 7 }, { _id: 'doc-1', value: 1 }]);
    expect(queries).toEqual([{ kind: 'find', ids: ['doc-3', 'missing', 'doc-7', 'doc-1'], options: { batchSize: 4 } }]);
  });

  it('sends a lone lookup as findOne, with the projection', async () => {
    const { collection, queries } = fakeCollection(docs);
    const batcher = new FindByIdBatcher(() => collection, { value: 1 });
    expect(await batcher.find('doc-5')).toEqual({ _id: 'doc-5', value: 5 });
    expect(await batcher.find('missing')).toBeUndefined();
    expect(queries).toEqual([
      { kind: 'findOne', ids: ['doc-5'], options: { projection: { value: 1 } } },
      { kind: 'findOne', ids: ['missing'], options: { projection: { value: 1 } } },
    ]);
  });

  it('looks a key asked for twice in one turn up twice, so no two callers share a document', async () => {
    const { collection, queries } = fakeCollection(docs);
    const batcher = new FindByIdBatcher(() => collection);
    const [first, second, other] = await Promise.all([batcher.find('doc-2'), batcher.find('doc-2'), batcher.find('doc-9')]);
    expect(first).toEqual({ _id: 'doc-2', value: 2 });
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(other).toEqual({ _id: 'doc-9', value: 9 });
    expect(queries.map((query) => query.ids)).toEqual([['doc-2', 'doc-9'], ['doc-2']]);
  });

  it('fails the lookups of a failed query, and only those', async () => {
    const { collection } = fakeCollection(docs, 'doc-1');
    const batcher = new FindByIdBatcher(() => collection);
    const [together, alsoTogether, again] = await Promise.allSettled([batcher.find('doc-1'), batcher.find('doc-2'), batcher.find('doc-1')]);
    expect(together).toMatchObject({ status: 'rejected', reason: new Error('connection reset') });
    expect(alsoTogether).toMatchObject({ status: 'rejected', reason: new Error('connection reset') });
    expect(again).toMatchObject({ status: 'rejected' });
    // The next turn's query is a new one.
    expect(await batcher.find('doc-2')).toEqual({ _id: 'doc-2', value: 2 });
  });

  it(`splits more than ${MAX_KEYS_PER_QUERY} lookups of one turn into queries of at most ${MAX_KEYS_PER_QUERY} keys`, async () => {
    const { collection, queries } = fakeCollection(docs);
    const batcher = new FindByIdBatcher(() => collection);
    const found = await Promise.all(docs.map((doc) => batcher.find(doc._id)));
    expect(found).toEqual(docs);
    expect(queries.map((query) => query.ids.length)).toEqual([
      MAX_KEYS_PER_QUERY,
      MAX_KEYS_PER_QUERY,
      docs.length - 2 * MAX_KEYS_PER_QUERY,
    ]);
  });

  it('sends the lookups of different turns as different queries', async () => {
    const { collection, queries } = fakeCollection(docs);
    const batcher = new FindByIdBatcher(() => collection);
    const first = batcher.find('doc-1');
    await new Promise((resolve) => setImmediate(resolve));
    const second = batcher.find('doc-2');
    expect(await Promise.all([first, second])).toEqual([docs[1], docs[2]]);
    expect(queries.map((query) => query.kind)).toEqual(['findOne', 'findOne']);
  });
});

import type { mongo } from 'mongoose';
import { InsertBatcher, MAX_DOCUMENTS_PER_INSERT } from './insert-batcher.js';

interface Doc {
  _id: string;
  value: number;
}

/** A collection that records each command it is sent; with `fail`, every command fails as a whole. */
function fakeCollection(fail?: Error) {
  const commands: Array<{ kind: 'insertOne' | 'insertMany'; ids: string[]; options?: unknown }> = [];
  const collection = {
    insertOne: async (doc: Doc) => {
      commands.push({ kind: 'insertOne', ids: [doc._id] });
      if (fail !== undefined) {
        throw fail;
      }
    },
    insertMany: async (docs: Doc[], options: unknown) => {
      commands.push({ kind: 'insertMany', ids: docs.map((doc) => doc._id), options });
      if (fail !== undefined) {
        throw fail;
      }
    },
  };
  return { collection: collection as unknown as mongo.Collection<Doc>, commands };
}

const doc = (i: number): Doc => ({ _id: `doc-${i}`, value: i });

describe('InsertBatcher', () => {
  it('sends the inserts of one turn as one unordered insertMany, and a lone insert as insertOne', async () => {
    const { collection, commands } = fakeCollection();
    const batcher = new InsertBatcher(() => collection);
    await Promise.all([batcher.insert(doc(1)), batcher.insert(doc(2)), batcher.insert(doc(3))]);
    await batcher.insert(doc(4));
    expect(commands).toEqual([
      { kind: 'insertMany', ids: ['doc-1', 'doc-2', 'doc-3'], options: { ordered: false } },
      { kind: 'insertOne', ids: ['doc-4'] },
    ]);
  });

  it('fails every insert of a command that failed as a whole', async () => {
    const { collection } = fakeCollection(new Error('connection reset'));
    const batcher = new InsertBatcher(() => collection);
    const settled = await Promise.allSettled([batcher.insert(doc(1)), batcher.insert(doc(2))]);
    expect(settled).toEqual([
      { status: 'rejected', reason: new Error('connection reset') },
      { status: 'rejected', reason: new Error('connection reset') },
    ]);
  });

  it(`splits more than ${MAX_DOCUMENTS_PER_INSERT} inserts of one turn into commands of at most ${MAX_DOCUMENTS_PER_INSERT}`, async () => {
    const { collection, commands } = fakeCollection();
    const batcher = new InsertBatcher(() => collection);
    await Promise.all(Array.from({ length: 1100 }, (_, i) => batcher.insert(doc(i))));
    expect(commands.map((command) => command.ids.length)).toEqual([MAX_DOCUMENTS_PER_INSERT, MAX_DOCUMENTS_PER_INSERT, 100]);
  });
});

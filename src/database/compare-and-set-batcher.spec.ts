import type { mongo } from 'mongoose';
import { CompareAndSetBatcher, MAX_WRITES_PER_COMMAND } from './compare-and-set-batcher.js';

interface Doc {
  _id: string;
  version: number;
  value: number;
}

type Statement = { updateOne: { filter: { _id: string; version: number }; upsert: boolean } };

/**
 * A collection that records each bulk write it is sent; with `fail`, every command fails as a whole. (How the server
 * refuses one statement is tested on the embedded server: test/e2e/database.e2e-spec.ts.)
 */
function fakeCollection(fail?: Error) {
  const commands: Array<{ ids: string[]; upserts: boolean[]; versions: number[]; ordered: unknown }> = [];
  const collection = {
    bulkWrite: async (statements: Statement[], options: { ordered?: boolean }) => {
      commands.push({
        ids: statements.map((statement) => statement.updateOne.filter._id),
        versions: statements.map((statement) => statement.updateOne.filter.version),
        upserts: statements.map((statement) => statement.updateOne.upsert),
        ordered: options.ordered,
      });
      if (fail !== undefined) {
        throw fail;
      }
    },
  };
  return { collection: collection as unknown as mongo.Collection<Doc>, commands };
}

const update = (value: number): mongo.UpdateFilter<Doc> => ({ $set: { value }, $inc: { version: 1 } });

describe('CompareAndSetBatcher', () => {
  it('sends the compare-and-sets of one turn as one unordered command of upserts on {_id, version}', async () => {
    const { collection, commands } = fakeCollection();
    const batcher = new CompareAndSetBatcher(() => collection);
    const applied = await Promise.all([batcher.write('a', 3, update(1)), batcher.write('b', 0, update(2))]);
    await batcher.write('c', 7, update(3));
    expect(applied).toEqual([true, true]);
    expect(commands).toEqual([
      { ids: ['a', 'b'], versions: [3, 0], upserts: [true, true], ordered: false },
      { ids: ['c'], versions: [7], upserts: [true], ordered: false },
    ]);
  });

  it('fails every write of a command that failed as a whole', async () => {
    const { collection } = fakeCollection(new Error('connection reset'));
    const batcher = new CompareAndSetBatcher(() => collection);
    const settled = await Promise.allSettled([batcher.write('a', 1, update(1)), batcher.write('b', 1, update(2))]);
    expect(settled).toEqual([
      { status: 'rejected', reason: new Error('connection reset') },
      { status: 'rejected', reason: new Error('connection reset') },
    ]);
  });

  it(`splits more than ${MAX_WRITES_PER_COMMAND} writes of one turn into commands of at most ${MAX_WRITES_PER_COMMAND}`, async () => {
    const { collection, commands } = fakeCollection();
    const batcher = new CompareAndSetBatcher(() => collection);
    await Promise.all(Array.from({ length: 1100 }, (_, i) => batcher.write(`doc-${i}`, 0, update(i))));
    expect(commands.map((command) => command.ids.length)).toEqual([MAX_WRITES_PER_COMMAND, MAX_WRITES_PER_COMMAND, 100]);
  });
});

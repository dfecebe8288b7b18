import mongoose from 'mongoose';
import { CompareAndSetBatcher } from '../../src/database/compare-and-set-batcher.js';
import { FindByIdBatcher } from '../../src/database/find-by-id-batcher.js';
import { InsertBatcher } from '../../src/database/insert-batcher.js';
import { startEmbeddedDatabase } from '../../src/database/embedded-database.js';
import { isDatabaseUnreachableError, isDuplicateKeyError } from '../../src/database/mongo-errors.js';
import { testDatabaseUri } from '../harness/database.js';

/** How long reads race updates in the consistency test. */
const READ_RACE_MS = 4000;

describe('embedded database', () => {
  const uri = testDatabaseUri('database');
  let first: mongoose.Connection;
  let second: mongoose.Connection;

  beforeAll(async () => {
    first = await mongoose.createConnection(uri).asPromise();
    second = await mongoose.createConnection(uri).asPromise();
  });

  afterAll(async () => {
    await first.dropDatabase();
    await Promise.all([first.close(), second.close()]);
  });

  it('reports MongoDB 4.4 with wire version 9', async () => {
    const admin = first.db!.admin();
    const [buildInfo, hello] = await Promise.all([admin.command({ buildInfo: 1 }), admin.command({ isMaster: 1 })]);
    expect(buildInfo.version).toBe('4.4.0');
    expect(hello.maxWireVersion).toBe(9);
  });

  it('shows a write made through one connection to another connection', async () => {
    await first.collection('shared').insertOne({ _id: 'written-by-first' as never, value: 42 });
    const read = await second.collection('shared').findOne({ _id: 'written-by-first' as never });
    expect(read).toEqual({ _id: 'written-by-first', value: 42 });
  });

  // Each pre-image is the balance its debit's condition was checked against.
  it('applies 50 concurrent conditional debits atomically: none lost, the condition never passed twice', async () => {
    const accounts = first.collection<{ _id: string; balance: number }>('accounts');
    await accounts.insertOne({ _id: 'account', balance: 1000 });
    const debit = 30;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 === 0 ? first : second)
          .collection<{ _id: string; balance: number }>('accounts')
          .findOneAndUpdate({ _id: 'account', balance: { $gte: debit } }, { $inc: { balance: -debit } }, { returnDocument: 'before' }),
      ),
    );
    const succeeded = results.filter((result) => result !== null);
    expect(succeeded).toHaveLength(Math.floor(1000 / debit));
    const preImages = succeeded.map((result) => result!.balance).sort((a, b) => b - a);
    expect(preImages).toEqual(Array.from({ length: succeeded.length }, (_, i) => 1000 - debit * i));
    expect(await accounts.findOne({ _id: 'account' })).toEqual({ _id: 'account', balance: 1000 - debit * succeeded.length });
  });

  it('enforces unique indexes on the server', async () => {
    const emails = first.collection('emails');
    await emails.createIndex({ email: 1 }, { unique: true });
    await emails.insertOne({ email: 'a@example.com' });
    await expect(second.collection('emails').insertOne({ email: 'a@example.com' })).rejects.toMatchObject({ code: 11000 });
  });

  it('answers the lookups of one turn with one find by _id, as each findOne would, string and ObjectId keys alike', async () => {
    const monitored = await mongoose.createConnection(`${uri}?monitorCommands=true`).asPromise();
    try {
      type Keyed = { _id: string | mongoose.Types.ObjectId; n: number };
      const keyed = monitored.collection<Keyed>('keyed');
      const objectIds = Array.from({ length: 5 }, () => new mongoose.Types.ObjectId());
      const ids: Keyed['_id'][] = [...Array.from({ length: 25 }, (_, i) => `key-${i}`), ...objectIds];
      await keyed.insertMany(ids.map((_id, n) => ({ _id, n })));
      const batcher = new FindByIdBatcher(() => keyed as unknown as mongoose.mongo.Collection<Keyed>);
      const asked = [...ids, 'absent', new mongoose.Types.ObjectId()];
      const finds: unknown[] = [];
      const client = monitored.getClient();
      const record = (event: { commandName: string; command: Record<string, unknown> }) => {
        if (event.commandName === 'find') {
          finds.push(event.command.filter);
        }
      };
      client.on('commandStarted', record);
      const batched = await Promise.all(asked.map((id) => batcher.find(id)));
      client.off('commandStarted', record);
      const oneByOne = await Promise.all(asked.map(async (id) => (await keyed.findOne({ _id: id })) ?? undefined));
      expect(batched).toEqual(oneByOne);
      expect(batched.slice(0, ids.length).map((doc) => doc?.n)).toEqual(ids.map((_, n) => n));
      expect(batched.slice(ids.length)).toEqual([undefined, undefined]);
      expect(finds).toEqual([{ _id: { $in: asked } }]);
    } finally {
      await monitored.close();
    }
  });

  it('inserts the documents of one turn in one command: a refused one fails its caller alone, with its duplicate key', async () => {
    const inserted = first.collection<{ _id: string; n: number }>('inserted');
    await inserted.insertOne({ _id: 'taken', n: 0 });
    const batcher = new InsertBatcher(() => inserted as unknown as mongoose.mongo.Collection<{ _id: string; n: number }>);
    const settled = await Promise.allSettled(['a', 'taken', 'b', 'c'].map((_id, n) => batcher.insert({ _id, n: n + 1 })));
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(isDuplicateKeyError((settled[1] as PromiseRejectedResult).reason)).toBe(true);
    expect(await inserted.find({}).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', n: 1 },
      { _id: 'b', n: 3 },
      { _id: 'c', n: 4 },
      { _id: 'taken', n: 0 },
    ]);
  });

  it('applies the compare-and-sets of one turn in one command, telling each caller whether its own was applied', async () => {
    const monitored = await mongoose.createConnection(`${uri}?monitorCommands=true`).asPromise();
    try {
      type Versioned = { _id: string; version: number; n: number };
      const versioned = monitored.collection<Versioned>('versioned');
      await versioned.insertMany([
        { _id: 'a', version: 0, n: 0 },
        { _id: 'b', version: 3, n: 0 },
        { _id: 'c', version: 1, n: 0 },
      ]);
      const batcher = new CompareAndSetBatcher(() => versioned as unknown as mongoose.mongo.Collection<Versioned>);
      const set = (n: number) => ({ $set: { n }, $inc: { version: 1 as const } });
      const updates: number[] = [];
      const client = monitored.getClient();
      const record = (event: { commandName: string; command: Record<string, unknown> }) => {
        if (event.commandName === 'update') {
          updates.push((event.command.updates as unknown[]).length);
        }
      };
      client.on('commandStarted', record);
      // 'b' is at 3, not 2; the second write to 'c' at 1 comes after the first one moved it to 2.
      const applied = await Promise.all([
        batcher.write('a', 0, set(1)),
        batcher.write('b', 2, set(2)),
        batcher.write('c', 1, set(3)),
        batcher.write('c', 1, set(4)),
      ]);
      client.off('commandStarted', record);
      expect(applied).toEqual([true, false, true, false]);
      expect(updates).toEqual([4]);
      expect(await versioned.find({}).sort({ _id: 1 }).toArray()).toEqual([
        { _id: 'a', version: 1, n: 1 },
        { _id: 'b', version: 3, n: 0 },
        { _id: 'c', version: 2, n: 3 },
      ]);
    } finally {
      await monitored.close();
    }
  });

  // Writes on one connection, reads on the other, for READ_RACE_MS: what every read answers must match its query, and
  // each document must be one state of it. The embedded server updates documents in place; without the launcher's
  // consistent reads, a few reads a second answered a document as an update left it after the match, or half updated.
  it('answers a read from one state of each document, however many updates race it: matching the query, never half updated', async () => {
    type Toggled = { _id: string; token: string; status: 'a' | 'b' } & Record<`f${number}`, number>;
    const fields = (n: number) => Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`f${i}`, n]));
    const written = first.collection<Toggled>('toggled');
    const read = second.collection<Toggled>('toggled');
    await written.createIndex({ token: 1 }, { unique: true });
    const ids = Array.from({ length: 20 }, (_, i) => `d${i}`);
    await written.insertMany(ids.map((id) => ({ _id: id, token: `${id}-0`, status: 'a' as const, ...fields(0) })));
    const tokens = new Map(ids.map((id) => [id, `${id}-0`]));
    const until = Date.now() + READ_RACE_MS;
    const bad: unknown[] = [];
    const check = (doc: Toggled | null, matches: (doc: Toggled) => boolean) => {
      if (doc === null) {
        return;
      }
      const values = Object.keys(fields(0)).map((key) => doc[key as `f${number}`]);
      if (!matches(doc) || values.some((value) => value !== values[0])) {
        bad.push(doc);
      }
    };
    const writer = async (offset: number) => {
      for (let n = 1; Date.now() < until; n++) {
        const id = ids[(n * 7 + offset) % ids.length];
        const token = `${id}-${offset}-${n}`;
        await written.updateOne({ _id: id }, { $set: { token, status: n % 2 === 0 ? 'a' : 'b', ...fields(n) } });
        tokens.set(id, token);
      }
    };
    const reader = async (offset: number) => {
      for (let n = 0; Date.now() < until; n++) {
        const token = tokens.get(ids[(n + offset) % ids.length])!;
        check(await read.findOne({ token }), (doc) => doc.token === token);
        for (const doc of await read.find({ status: 'a' }).toArray()) {
          check(doc, (found) => found.status === 'a');
        }
      }
    };
    await Promise.all([writer(1), writer(2), writer(3), reader(0), reader(5)]);
    expect(bad).toEqual([]);
  });
});

describe('a database that has gone away', () => {
  it('fails batched writes, as lone ones, with an error the service knows as "unreachable" (not a refused write)', async () => {
    const database = await startEmbeddedDatabase({ backend: 'memory' });
    const connection = await mongoose.createConnection(database.serverUri, { serverSelectionTimeoutMS: 500 }).asPromise();
    try {
      type Versioned = { _id: string; version: number };
      const collection = connection.collection<Versioned>('gone') as unknown as mongoose.mongo.Collection<Versioned>;
      await collection.insertMany([
        { _id: 'a', version: 0 },
        { _id: 'b', version: 0 },
      ]);
      const writes = new CompareAndSetBatcher(() => collection);
      const inserts = new InsertBatcher(() => collection);
      await database.stop();
      const bump = { $inc: { version: 1 as const } };
      const failures: PromiseSettledResult<unknown>[] = await Promise.allSettled<unknown>([
        // Batched: two of each kind in one turn; then a lone compare-and-set and a plain updateOne.
        writes.write('a', 0, bump),
        writes.write('b', 0, bump),
        inserts.insert({ _id: 'c', version: 0 }),
        inserts.insert({ _id: 'd', version: 0 }),
      ]);
      failures.push(...(await Promise.allSettled([writes.write('a', 0, bump)])));
      failures.push(...(await Promise.allSettled([collection.updateOne({ _id: 'a' }, bump)])));
      expect(failures.map((failure) => failure.status)).toEqual(new Array(6).fill('rejected'));
      const reasons = failures.map((failure) => (failure as PromiseRejectedResult).reason as unknown);
      expect(reasons.map((reason) => isDatabaseUnreachableError(reason))).toEqual(new Array(6).fill(true));
      // The bulk commands report it wrapped; the plain command as the driver's own error.
      expect(reasons[0]).toBeInstanceOf(mongoose.mongo.MongoBulkWriteError);
      expect(reasons[5]).not.toBeInstanceOf(mongoose.mongo.MongoBulkWriteError);
    } finally {
      await connection.close();
      await database.stop();
    }
  });
});

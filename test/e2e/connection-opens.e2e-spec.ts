import { randomUUID } from 'node:crypto';
import { getConnectionToken, MongooseModule } from '@nestjs/mongoose';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import { ConnectionOpens, ConnectionOpensSchema } from '../../src/live-dubbing/connection-open.schema.js';
import { ConnectionOpensRepository } from '../../src/live-dubbing/connection-opens.repository.js';
import { testDatabaseUri } from '../harness/database.js';

describe(ConnectionOpensRepository.name, () => {
  let moduleRef: TestingModule;
  let opens: ConnectionOpensRepository;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        MongooseModule.forRoot(testDatabaseUri('connection_opens')),
        MongooseModule.forFeature([{ name: ConnectionOpens.name, schema: ConnectionOpensSchema }]),
      ],
      providers: [ConnectionOpensRepository],
    }).compile();
    await moduleRef.init();
    opens = moduleRef.get(ConnectionOpensRepository);
  });

  afterAll(async () => {
    await moduleRef.get<Connection>(getConnectionToken()).dropDatabase();
    await moduleRef.close();
  });

  it('finds nothing for a user who never opened a session', async () => {
    expect(await opens.find(randomUUID())).toBeUndefined();
  });

  it('records a user once: a second insert for the same user is refused', async () => {
    const userId = randomUUID();
    expect(await opens.insert(userId, [1_000])).toBe(true);
    expect(await opens.insert(userId, [2_000])).toBe(false);
    expect(await opens.find(userId)).toEqual({ userId, version: 0, openedAtMs: [1_000] });
  });

  it('replaces the opens of the version read and moves the version on', async () => {
    const userId = randomUUID();
    await opens.insert(userId, [1_000]);
    const read = (await opens.find(userId))!;
    expect(await opens.replace(read, [1_000, 2_000])).toBe(true);
    expect(await opens.find(userId)).toEqual({ userId, version: 1, openedAtMs: [1_000, 2_000] });
  });

  it('lets exactly one of many concurrent replaces of the same version through', async () => {
    const userId = randomUUID();
    await opens.insert(userId, []);
    const read = (await opens.find(userId))!;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => opens.replace(read, [i])));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await opens.find(userId))!.version).toBe(1);
  });
});

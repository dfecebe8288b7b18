import { performance } from 'node:perf_hooks';
import { MongoClient } from 'mongodb';

/**
 * The floor under the gateway benchmark's openings: the database commands of one beta opening (docs/protocol.md,
 * "Opening a session": 12 commands, test/e2e/opening-round-trips.e2e-spec.ts) for every session at once, sent
 * through the MongoDB driver alone — no WebSocket, no token, no application — from a process of its own, as the
 * gateway sends them. Each opening reads six documents together, then writes six one after another, each on its own
 * collection. Driven over IPC by gateway.bench.ts:
 *   { type: 'floor', databaseUri, openings } → replies { type: 'floor-done', readyMs, cpuMicros }
 */

export type FloorCommand = { type: 'floor'; databaseUri: string; openings: number };
export type FloorReport = { type: 'floor-done'; readyMs: number[]; cpuMicros: number };

const READS = 6;
const WRITES = 6;

async function floor(databaseUri: string, openings: number): Promise<FloorReport> {
  const client = await new MongoClient(databaseUri).connect();
  try {
    const db = client.db();
    const collections = Array.from({ length: Math.max(READS, WRITES) }, (_, i) => db.collection<{ _id: string; v: number }>(`floor_${i}`));
    const ids = Array.from({ length: openings }, (_, i) => `opening-${i}`);
    await Promise.all(collections.map((collection) => collection.insertMany(ids.map((_id) => ({ _id, v: 0 })))));
    const openAll = () =>
      Promise.all(
        ids.map(async (_id) => {
          const started = performance.now();
          await Promise.all(collections.slice(0, READS).map((collection) => collection.findOne({ _id })));
          for (const collection of collections.slice(0, WRITES)) {
            await collection.updateOne({ _id }, { $inc: { v: 1 } });
          }
          return performance.now() - started;
        }),
      );
    // Once out of the measure: the driver's connection pool grown and its code compiled, as a gateway's are after
    // its first openings.
    await openAll();

    const cpuAtStart = process.cpuUsage();
    const readyMs = await openAll();
    const cpu = process.cpuUsage(cpuAtStart);
    await Promise.all(collections.map((collection) => collection.drop()));
    return { type: 'floor-done', readyMs, cpuMicros: cpu.user + cpu.system };
  } finally {
    await client.close();
  }
}

process.once('message', (command: FloorCommand) => {
  floor(command.databaseUri, command.openings).then(
    (report) => process.send!(report, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`opening floor: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
});

import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import mongoose from 'mongoose';
import { CreditCheckpointService } from '../../src/beta/checkpoint/credit-checkpoint.service.js';
import { planSettlement, secondsCoveredBy, type AccountCredit } from '../../src/beta/credits/credit-math.js';
import { BetaCreditsService } from '../../src/beta/credits/beta-credits.service.js';
import { nextExpiry } from '../../src/beta/credits/grants.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { Clock } from '../../src/common/clock.js';
import { BetaSessionsService } from '../../src/beta/sessions/beta-sessions.service.js';
import { EMBEDDED_DB_NAME, startEmbeddedDatabase, withDatabaseName } from '../../src/database/embedded-database.js';
import { BenchClock } from './bench-clock.js';
import { startBetaBenchContext } from './beta-bench-context.js';
import { formatTable, median, repetitions, timeMs, type Benchmark } from './benchmark.js';

type Db = mongoose.mongo.Db;
/** Every Beta collection is keyed by a string (an email, a UUID, an idempotency key). */
type Doc = mongoose.mongo.Document & { _id: string };

const SIZES = [1_000, 5_000, 10_000];
const INTERVAL_MS = 30_000;
const SEED_CONCURRENCY = 64;
const COLLECTIONS = ['beta_users', 'beta_credits', 'beta_credit_transactions', 'beta_sessions'];
/** Fields that differ between two correct runs (the wall-clock write time). */
const VOLATILE_FIELDS = new Set(['updated_at']);

interface Sample {
  tickMs: number;
  baselineMs: number;
}

export const checkpointBenchmark: Benchmark = {
  name: 'checkpoint',
  description: 'one CreditCheckpointService.tick over N active beta sessions vs. its writes as raw-driver bulk calls',
  async run() {
    const runs = repetitions(5);
    const database = await startEmbeddedDatabase({ backend: 'memory' });
    const client = await new mongoose.mongo.MongoClient(database.serverUri).connect();
    try {
      // Warm-up, not reported: the database server's JIT and node's.
      await measure(database.serverUri, client, SIZES[0], true);
      const rows: string[][] = [];
      for (const size of SIZES) {
        const samples: Sample[] = [];
        for (let repetition = 0; repetition < runs; repetition++) {
          const sample = await measure(database.serverUri, client, size, repetition % 2 === 0);
          samples.push(sample);
          process.stderr.write(
            `checkpoint: ${size} sessions, run ${repetition + 1}/${runs}: tick ${sample.tickMs.toFixed(0)} ms, baseline ${sample.baselineMs.toFixed(0)} ms\n`,
          );
        }
        const tickMs = median(samples.map((sample) => sample.tickMs));
        const baselineMs = median(samples.map((sample) => sample.baselineMs));
        // Each run's tick and baseline run back to back, so the ratio is taken per run (both see the same machine load).
        const ratio = median(samples.map((sample) => sample.tickMs / sample.baselineMs));
        rows.push([
          size.toLocaleString('en-US'),
          tickMs.toFixed(0),
          baselineMs.toFixed(0),
          `${ratio.toFixed(2)}×`,
          `${((100 * tickMs) / INTERVAL_MS).toFixed(2)} %`,
        ]);
      }
      process.stdout.write(`Medians of ${runs} runs.\n\n`);
      process.stdout.write(formatTable(['sessions', 'tick ms', 'baseline ms', 'ratio', 'tick / 30 s interval'], rows) + '\n');
    } finally {
      await client.close();
      await database.stop();
    }
  },
};

/**
 * One repetition on fresh databases: `size` enrolled viewers with a session each (see startSessions),
 * the clock moved one interval; a copy of that database for the baseline. Then one tick on
 * the original and the same writes as raw bulk calls on the copy (order alternating), and a check that
 * both ended with the same documents.
 */
async function measure(serverUri: string, client: mongoose.mongo.MongoClient, size: number, tickFirst: boolean): Promise<Sample> {
  const suffix = randomBytes(4).toString('hex');
  const tickDbName = `${EMBEDDED_DB_NAME}_bench_tick_${suffix}`;
  const tickDb = client.db(tickDbName);
  const baselineDb = client.db(`${EMBEDDED_DB_NAME}_bench_baseline_${suffix}`);
  const clock = new BenchClock(Date.UTC(2026, 0, 1));
  const context = await startBetaBenchContext(withDatabaseName(serverUri, tickDbName), clock);
  try {
    await startSessions(context, tickDb, size);
    clock.advance(INTERVAL_MS);
    await copyDatabase(tickDb, baselineDb);
    const baseline = await planBaselineWrites(baselineDb, clock.now());

    const tick = async () => {
      const report = await context.get(CreditCheckpointService).tick();
      if (report.checkpointed !== size) {
        throw new Error(`tick checkpointed ${report.checkpointed} of ${size} sessions`);
      }
    };
    let tickMs: number;
    let baselineMs: number;
    if (tickFirst) {
      tickMs = await timeMs(tick);
      baselineMs = await timeMs(baseline);
    } else {
      baselineMs = await timeMs(baseline);
      tickMs = await timeMs(tick);
    }
    await expectSameDocuments(tickDb, baselineDb);
    return { tickMs, baselineMs };
  } finally {
    await context.close();
    await Promise.all([tickDb.dropDatabase(), baselineDb.dropDatabase()]);
  }
}

/**
 * `size` enrolled viewers with three grants each (the enrolment, a promotion spent first, a grant that expires in 30
 * days), each with a session started through BetaSessionsService (so this instance owns and watches it, as the
 * gateway's sessions are). The first viewer is enrolled and granted through the service; the others get copies of
 * the documents that wrote (enrolling 10 000 viewers one by one would make the benchmark take minutes and measures
 * nothing the tick does).
 */
async function startSessions(context: INestApplicationContext, db: Db, size: number): Promise<void> {
  const viewers = Array.from({ length: size }, (_, i) => ({ id: `bench-user-${i}`, email: `viewer-${i}@bench.local` }));
  const [template, ...others] = viewers;
  await context.get(BetaEnrollmentService).enroll({ email: template.email, via: 'admin' });
  const credits = context.get(BetaCreditsService);
  const now = context.get(Clock).now();
  await credits.grant({ email: template.email, amount: 20, key: `promo:${template.email}`, reason: 'promotion', priority: 0 });
  await credits.grant({
    email: template.email,
    amount: 100,
    key: `bonus:${template.email}`,
    reason: 'bonus',
    expiresAt: new Date(now + 30 * 86_400_000),
  });
  for (const name of ['beta_users', 'beta_credits', 'beta_credit_transactions']) {
    const written = await db.collection<Doc>(name).find().toArray();
    const copies = others.flatMap((viewer) => written.map((document) => replaceText(document, template.email, viewer.email) as Doc));
    if (copies.length > 0) {
      await db.collection<Doc>(name).insertMany(copies);
    }
  }
  const sessions = context.get(BetaSessionsService);
  for (let from = 0; from < viewers.length; from += SEED_CONCURRENCY) {
    await Promise.all(
      viewers.slice(from, from + SEED_CONCURRENCY).map(async (viewer) => {
        const start = await sessions.start(viewer);
        if (!start.ok) {
          throw new Error(`session start refused for ${viewer.email}`);
        }
      }),
    );
  }
}

/** A deep copy of `value` with `from` replaced by `to` in every string. */
function replaceText(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') {
    return value.split(from).join(to);
  }
  if (Array.isArray(value)) {
    return value.map((item) => replaceText(item, from, to));
  }
  if (value !== null && typeof value === 'object' && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, replaceText(inner, from, to)]));
  }
  return value;
}

/** Indexes and documents of the Beta collections, so the baseline writes to the same state. */
async function copyDatabase(from: Db, to: Db): Promise<void> {
  for (const name of COLLECTIONS) {
    for (const index of await from.collection(name).indexes()) {
      if (index.name !== '_id_') {
        await to.collection(name).createIndex(index.key, { name: index.name, unique: index.unique, sparse: index.sparse });
      }
    }
    const documents = await from.collection(name).find().toArray();
    if (documents.length > 0) {
      await to.collection(name).insertMany(documents);
    }
  }
}

/**
 * The writes a tick must make, planned before the clock starts: one ledger entry per debit, one
 * compare-and-set per account on `{_id, version}` (with the batch token and write time a batched
 * write sets), one progress update per session on `{_id}`.
 * Returns the timed part: each as one raw-driver bulk call.
 */
async function planBaselineWrites(db: Db, now: number): Promise<() => Promise<void>> {
  const accounts = await db
    .collection<Doc>('beta_credits')
    .find({ active_sessions: { $gt: 0 } })
    .toArray();
  const entries: Doc[] = [];
  const accountWrites: mongoose.mongo.AnyBulkWriteOperation<Doc>[] = [];
  const progressWrites: mongoose.mongo.AnyBulkWriteOperation<Doc>[] = [];
  const writtenAt = new Date(now);
  for (const account of accounts) {
    const credit = account as unknown as AccountCredit;
    const plan = planSettlement(credit, Object.keys(credit.sessions), now, new Set());
    for (const debit of plan.debits) {
      entries.push({
        _id: debit.key,
        email: account._id,
        type: 'debit',
        amount: -debit.amount,
        session_id: debit.sessionId,
        seq: debit.seq,
        takes: debit.takes,
        created_at: writtenAt,
      });
    }
    const next = plan.account;
    accountWrites.push({
      updateOne: {
        filter: { _id: account._id, version: account.version },
        update: {
          $set: {
            updated_at: writtenAt,
            total_granted: next.total_granted,
            total_debited: next.total_debited,
            held: next.held,
            sessions: next.sessions,
            active_sessions: Object.keys(next.sessions).length,
            grants: next.grants,
            expired_granted: next.expired_granted ?? 0,
            next_expiry: new Date(nextExpiry(next.grants)!),
          },
          $inc: { version: 1 },
        },
        upsert: true,
      },
    });
    for (const [sessionId, state] of Object.entries(next.sessions)) {
      progressWrites.push({
        updateOne: {
          filter: { _id: sessionId },
          update: {
            $max: { charged_credits: state.charged, charged_seconds: secondsCoveredBy(state.charged, state.rate) },
          },
        },
      });
    }
  }
  return async () => {
    await db.collection<Doc>('beta_credit_transactions').insertMany(entries, { ordered: false });
    await db.collection<Doc>('beta_credits').bulkWrite(accountWrites, { ordered: false });
    await db.collection<Doc>('beta_sessions').bulkWrite(progressWrites, { ordered: false });
  };
}

/** The tick and the baseline must have written the same documents, or the comparison means nothing. */
async function expectSameDocuments(tickDb: Db, baselineDb: Db): Promise<void> {
  for (const name of COLLECTIONS) {
    const [tick, baseline] = await Promise.all([snapshot(tickDb, name), snapshot(baselineDb, name)]);
    if (tick !== baseline) {
      throw new Error(`the tick and the baseline left different documents in ${name}`);
    }
  }
}

async function snapshot(db: Db, name: string): Promise<string> {
  const documents = await db.collection(name).find().sort({ _id: 1 }).toArray();
  return JSON.stringify(documents.map(canonical));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(canonical);
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !VOLATILE_FIELDS.has(key))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, inner]) => [key, canonical(inner)]),
    );
  }
  return value;
}

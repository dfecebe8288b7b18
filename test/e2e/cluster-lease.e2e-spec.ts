import { readFileSync } from 'node:fs';
import { MongooseModule, getConnectionToken } from '@nestjs/mongoose';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import { ClusterJobsLease, CLUSTER_JOBS } from '../../src/cluster/cluster-jobs-lease.js';
import { ClusterModule } from '../../src/cluster/cluster.module.js';
import { JobLeasesRepository } from '../../src/cluster/job-leases.repository.js';
import { CommonModule } from '../../src/common/common.module.js';
import type { InstanceIdentity } from '../../src/common/instance-identity.js';
import { AppConfig, loadAppConfig } from '../../src/config/app-config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { testEnvironment } from '../harness/app.js';
import { startCluster } from '../harness/cluster.js';
import { testDatabaseUri } from '../harness/database.js';
import type { DatabaseContext } from '../harness/database-context.js';
import { observeUntil, openSession, sleep, viewer } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import { FAULT_ENV, FAULT_INTERVAL_MS, stopAllProcesses, withInstanceLogs, type ServiceInstance } from '../harness/processes.js';

const LEASE_MS = 3000;
/** A claim lasts two thirds of the lease period. */
const CLAIM_MS = 2000;

describe('The cluster-wide jobs lease, on an exact clock', () => {
  let module: TestingModule;
  let repository: JobLeasesRepository;
  let config: AppConfig;

  beforeAll(async () => {
    config = loadAppConfig(testEnvironment({ MONGODB_URI: testDatabaseUri('lease'), JOB_LEASE_MS: String(LEASE_MS) }));
    module = await Test.createTestingModule({
      imports: [ConfigModule, CommonModule, MongooseModule.forRoot(config.database.uri!), ClusterModule],
    })
      .overrideProvider(AppConfig)
      .useValue(config)
      .compile();
    repository = module.get(JobLeasesRepository);
  });

  afterEach(async () => {
    await module.get<Connection>(getConnectionToken()).collection('job_leases').deleteMany({});
  });

  afterAll(async () => {
    await module.get<Connection>(getConnectionToken()).dropDatabase();
    await module.close();
  });

  /** An instance's lease keeper on a clock of its own (instances' clocks run apart); no timer, the test claims. */
  function instance(id: string, clock: ManualClock): ClusterJobsLease {
    return new ClusterJobsLease(repository, { id } as InstanceIdentity, config, clock);
  }

  it('has one holder at a time, renewed by its claims, and taken over once a silent holder’s claim lapses', async () => {
    const clock = new ManualClock();
    const a = instance('a', clock);
    const b = instance('b', clock);
    const taken: string[] = [];
    a.onAcquired(() => taken.push('a'));
    b.onAcquired(() => taken.push('b'));
    expect(await a.claim()).toBe(true);
    expect(await b.claim()).toBe(false);

    await clock.advance(1000);
    expect(await a.claim()).toBe(true); // renewed: now held until start + 3000
    await clock.advance(CLAIM_MS - 1); // start + 2999: a stops claiming, as if killed
    expect(await b.claim()).toBe(false);
    expect(a.held()).toBe(true);

    await clock.advance(1);
    expect(a.held()).toBe(false); // a counts itself out when its claim lapses, whether or not it hears of b
    expect(await b.claim()).toBe(true);
    expect(await a.claim()).toBe(false);
    expect(taken).toEqual(['a', 'b']); // taking the lease tells the jobs; renewing it does not
    expect(await repository.find(CLUSTER_JOBS)).toEqual({ holder: 'b', expiresAtMs: clock.now() + CLAIM_MS, acquiredAtMs: clock.now() });
  });

  it('lets exactly one of several instances claiming at once take a lease nobody holds, or one that lapsed', async () => {
    const clock = new ManualClock();
    const claimants = ['a', 'b', 'c', 'd'].map((id) => instance(id, clock));
    const first = await Promise.all(claimants.map((claimant) => claimant.claim()));
    expect(first.filter(Boolean)).toHaveLength(1);

    await clock.advance(CLAIM_MS);
    const holder = claimants[first.indexOf(true)];
    const others = claimants.filter((claimant) => claimant !== holder);
    const second = await Promise.all(others.map((claimant) => claimant.claim()));
    expect(second.filter(Boolean)).toHaveLength(1);
    expect(claimants.filter((claimant) => claimant.held())).toHaveLength(1);
  });

  it('is given up at a clean shutdown, so another instance takes it at once', async () => {
    const clock = new ManualClock();
    const a = instance('a', clock);
    const b = instance('b', clock);
    expect(await a.claim()).toBe(true);
    await a.onApplicationShutdown();
    expect(a.held()).toBe(false);
    expect(await a.claim()).toBe(false); // a stopped instance claims nothing more
    expect(await b.claim()).toBe(true);
  });
});

/**
 * Three real instances on one database: one holds the lease and runs the lost-session sweep; killed, another takes
 * the lease within one lease period and sweeps the dead holder's session, once.
 */
describe('The cluster-wide jobs lease across real processes', () => {
  const PROCESS_LEASE_MS = 900;
  /** Scheduling and database round trips on a loaded 2-core machine. */
  const MARGIN_MS = 1500;
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  const leaseHolder = async (): Promise<string | undefined> =>
    ((await ctx!.connection.collection('job_leases').findOne({ _id: CLUSTER_JOBS as never })) as any)?.holder;
  const pidOf = (holder: string) => Number(holder.split(':').at(-2));
  const holds = async (instance: ServiceInstance): Promise<boolean> => {
    const metrics = await (await fetch(`${instance.baseUrl}/metrics`)).text();
    return /^cluster_jobs_lease_held 1$/m.test(metrics);
  };
  const sweptBy = (instance: ServiceInstance) =>
    readFileSync(instance.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('Ended a live session its owner no longer serves')).length;

  it(
    'moves to a survivor within one lease period when the holder is killed, and only the holder sweeps',
    () =>
      withInstanceLogs(async () => {
        const started = await startCluster(['a', 'b', 'c'], { ...FAULT_ENV, JOB_LEASE_MS: String(PROCESS_LEASE_MS) }, 'lease');
        ctx = started.ctx;
        const instances = started.instances;
        const holderId = await observeUntil(leaseHolder, (holder) => holder !== undefined, 5000);
        const holder = instances.find((instance) => instance.pid === pidOf(holderId!))!;
        expect(holder).toBeDefined();
        expect(await Promise.all(instances.map(holds))).toEqual(instances.map((instance) => instance === holder));

        const v = await viewer(ctx.app, { credits: 500 });
        const { ready } = await openSession(holder, v);
        await holder.kill();
        const killedAt = Date.now();
        const successorId = await observeUntil(leaseHolder, (id) => id !== holderId, PROCESS_LEASE_MS + MARGIN_MS);
        const tookOverMs = Date.now() - killedAt;
        expect(tookOverMs).toBeLessThanOrEqual(PROCESS_LEASE_MS + MARGIN_MS);
        const successor = instances.find((instance) => instance.pid === pidOf(successorId!))!;
        const survivors = instances.filter((instance) => instance !== holder);
        expect(survivors).toContain(successor);

        // The dead holder's session is found silent and ended by the new holder alone.
        await observeUntil(
          () => ctx!.betaSession(ready.beta.session_id),
          (session) => session?.status === 'ended',
          10_000,
        );
        expect((await ctx.betaSession(ready.beta.session_id)).end_reason).toBe('instance_lost');
        // The sweeper logs the end after its last write; then one more sweep interval, for any second sweep to show.
        await observeUntil(
          async () => survivors.map(sweptBy),
          (counts) => counts.some((count) => count > 0),
          5000,
        );
        await sleep(FAULT_INTERVAL_MS);
        expect(survivors.map(sweptBy)).toEqual(survivors.map((instance) => (instance === successor ? 1 : 0)));
        expect(await Promise.all(survivors.map(holds))).toEqual(survivors.map((instance) => instance === successor));
        console.log(`Lease moved ${tookOverMs} ms after its holder was killed (lease period ${PROCESS_LEASE_MS} ms)`);
      }),
    60_000,
  );
});

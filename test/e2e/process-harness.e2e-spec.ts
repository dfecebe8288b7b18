import { chargeableSeconds, creditsForSeconds } from '../../src/beta/credits/credit-math.js';
import { openDatabaseContext, type DatabaseContext } from '../harness/database-context.js';
import { openSession, sleep, viewer } from '../harness/live.js';
import { startDatabaseProcess, startInstance, stopAllProcesses, withInstanceLogs, type ServiceInstance } from '../harness/processes.js';

/** Two service processes on one embedded database process: what the fault tests build on, working on today's code. */
describe('Process harness', () => {
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  it(
    'runs two instances on one database: a session on each for one user, both stopped, each charged ceil(seconds) × rate',
    () =>
      withInstanceLogs(async () => {
        const database = await startDatabaseProcess();
        const uri = database.uri('harness');
        const env = { MONGODB_URI: uri, BETA_CHECKPOINT_INTERVAL_MS: '1000', QUOTA_UPDATE_INTERVAL_MS: '1000', WS_HEARTBEAT_MS: '500' };
        const [a, b] = await Promise.all([startInstance(env, { label: 'a' }), startInstance(env, { label: 'b' })]);
        ctx = await openDatabaseContext(uri);
        const v = await viewer(ctx.app, { credits: 500 });

        const run = async (instance: ServiceInstance, seconds: number) => {
          const openedAt = Date.now();
          const { client, ready } = await openSession(instance, v);
          const readyAt = Date.now();
          await sleep(seconds * 1000);
          const stoppedAt = Date.now();
          client.send({ type: 'stop' });
          const ended = await client.next('session_ended');
          const endedAt = Date.now();
          return { ready, ended, closed: await client.waitClose(), openedAt, readyAt, stoppedAt, endedAt };
        };
        const runs = await Promise.all([run(a, 2.3), run(b, 3.6)]);

        for (const { ready, ended, closed, openedAt, readyAt, stoppedAt, endedAt } of runs) {
          expect(ended).toMatchObject({ reason: 'user_stopped' });
          expect(closed.code).toBe(1000);
          const session = await ctx.betaSession(ready.beta.session_id);
          expect(session).toMatchObject({ status: 'ended', end_reason: 'user_stopped' });
          const ranMs = session.ended_at.getTime() - session.started_at.getTime();
          // The service's own start and end instants lie within what the client saw.
          expect(session.started_at.getTime()).toBeGreaterThanOrEqual(openedAt);
          expect(session.started_at.getTime()).toBeLessThanOrEqual(readyAt);
          expect(session.ended_at.getTime()).toBeGreaterThanOrEqual(stoppedAt);
          expect(session.ended_at.getTime()).toBeLessThanOrEqual(endedAt);
          expect(session.charged_credits).toBe(creditsForSeconds(chargeableSeconds(ranMs, true), session.rate));
          expect(ended.session_charged).toBe(session.charged_credits);
          expect(await ctx.debited(session._id)).toBe(session.charged_credits);
        }
        const charged = runs.map(({ ended }) => ended.session_charged as number);
        const account = await ctx.connection.collection('beta_credits').findOne({ _id: v.user.email as never });
        expect(account).toMatchObject({ total_granted: 500, total_debited: charged[0] + charged[1], held: 0 });
        expect((await ctx.quotaSessions(v.user.id)).map((session) => session.status)).toEqual(['completed', 'completed']);

        // Nest re-raises SIGTERM once its shutdown hooks ran; a SIGKILL here would mean stop() had to force it.
        for (const exit of await Promise.all([a.stop(), b.stop()])) {
          expect([
            { code: 0, signal: null },
            { code: null, signal: 'SIGTERM' },
          ]).toContainEqual(exit);
        }
      }),
    60_000,
  );
});

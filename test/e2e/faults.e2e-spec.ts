import { startCluster, type Cluster } from '../harness/cluster.js';
import { chargeableSeconds, creditsForSeconds } from '../../src/beta/credits/credit-math.js';
import type { DatabaseContext } from '../harness/database-context.js';
import { createUserWithToken } from '../harness/factories.js';
import { http } from '../harness/http.js';
import { observeUntil, openSession, sleep, viewer } from '../harness/live.js';
import {
  FAULT_ENV,
  FAULT_HEARTBEAT_MS,
  FAULT_INTERVAL_MS,
  FAULT_LOST_AFTER_MS,
  stopAllProcesses,
  withInstanceLogs,
} from '../harness/processes.js';
import type { Closed, TestWsClient } from '../harness/ws-client.js';

const INTERVAL_MS = FAULT_INTERVAL_MS;
const HEARTBEAT_MS = FAULT_HEARTBEAT_MS;
const LOST_AFTER_MS = FAULT_LOST_AFTER_MS;
/** Scheduling and database round trips on a loaded 2-core machine. */
const MARGIN_MS = 1500;
/** One checkpoint runs this long after a session's heartbeat turns stale, at the latest. */
const LOST_FOUND_WITHIN_MS = LOST_AFTER_MS + INTERVAL_MS + MARGIN_MS;
const TEST_TIMEOUT_MS = 60_000;

const ENV = FAULT_ENV;

/**
 * Real faults across real processes: service instances on an embedded database of their own, an instance killed or
 * paused, the database frozen. Every process is killed after each test, passed or failed.
 */
describe('Live sessions under real faults', () => {
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  async function cluster(labels: string[], env: Record<string, string> = {}): Promise<Cluster> {
    const started = await startCluster(labels, { ...ENV, ...env }, 'faults');
    ctx = started.ctx;
    return started;
  }

  /** The socket's error message and close code once it closed, or what it had when `timeoutMs` ran out. */
  async function endOf(client: TestWsClient, timeoutMs: number): Promise<{ error: unknown; close: number | undefined }> {
    const closed = await client.waitFor(() => client.closed, timeoutMs, 'close').catch((): Closed | undefined => undefined);
    return { error: client.messages.find((message) => message.type === 'error'), close: closed?.code };
  }

  /** Charged time in ms, to compare with measured time: whole seconds at the session's rate. */
  const chargedMs = (session: { charged_credits: number; rate: number }) => (session.charged_credits / session.rate) * 1000;

  it(
    'ends a killed instance’s session from a survivor serving the same user: instance_lost within 3 intervals, charged to its last heartbeat, quota error',
    () =>
      withInstanceLogs(async () => {
        const {
          instances: [a, b],
          ctx,
        } = await cluster(['a', 'b']);
        const v = await viewer(ctx.app, { credits: 500 });
        const onA = await openSession(a, v);
        const onB = await openSession(b, v);
        const lostId = onB.ready.beta.session_id;
        await sleep(3000);

        // The survivor checkpoints the same user's account: it must not keep the lost session's heartbeat alive.
        const killedAt = Date.now();
        await b.kill();
        const lost = await observeUntil(
          async () => ({ beta: await ctx.betaSession(lostId), quota: (await ctx.quotaSessions(v.user.id))[1] }),
          ({ beta, quota }) => beta?.status === 'ended' && quota?.status !== 'active',
          LOST_FOUND_WITHIN_MS,
        );
        expect({ status: lost.beta.status, end_reason: lost.beta.end_reason, quota_status: lost.quota.status }).toEqual({
          status: 'ended',
          end_reason: 'instance_lost',
          quota_status: 'error',
        });
        const ranMs = killedAt - lost.beta.started_at.getTime();
        expect(chargedMs(lost.beta)).toBeGreaterThanOrEqual(ranMs - 1000 - HEARTBEAT_MS);
        expect(chargedMs(lost.beta)).toBeLessThanOrEqual(ranMs + 1000);
        expect(await ctx.debited(lostId)).toBe(lost.beta.charged_credits);

        // The survivor's own session of the same user runs on and is charged as usual.
        const keptId = onA.ready.beta.session_id;
        expect({ closed: onA.client.closed, status: (await ctx.betaSession(keptId)).status === 'ended' }).toEqual({
          closed: undefined,
          status: false,
        });
        onA.client.send({ type: 'stop' });
        expect(await onA.client.next('session_ended')).toMatchObject({ reason: 'user_stopped' });
        const kept = await ctx.betaSession(keptId);
        expect(kept).toMatchObject({ status: 'ended', end_reason: 'user_stopped' });
        expect(kept.charged_credits).toBe(creditsForSeconds(chargeableSeconds(kept.ended_at - kept.started_at, true), kept.rate));
        const account = await ctx.connection.collection('beta_credits').findOne({ _id: v.user.email as never });
        expect(account).toMatchObject({ total_debited: kept.charged_credits + lost.beta.charged_credits, held: 0 });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'closes a paused owner’s session 4409 session_moved on resume once another instance ended it instance_lost: no pong, no charge after the end',
    () =>
      withInstanceLogs(async () => {
        const {
          instances: [a],
          ctx,
        } = await cluster(['a', 'b']);
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.beta.session_id;
        await sleep(2000);

        const pausedAt = Date.now();
        a.pause();
        const lost = await observeUntil(
          () => ctx.betaSession(id),
          (session) => session?.status === 'ended',
          LOST_FOUND_WITHIN_MS,
        );
        expect({ status: lost.status, end_reason: lost.end_reason }).toEqual({ status: 'ended', end_reason: 'instance_lost' });
        const ranMs = pausedAt - lost.started_at.getTime();
        expect(chargedMs(lost)).toBeGreaterThanOrEqual(ranMs - 1000 - HEARTBEAT_MS);
        expect(chargedMs(lost)).toBeLessThanOrEqual(ranMs + 1000);
        await sleep(pausedAt + 4 * INTERVAL_MS + 500 - Date.now());

        a.resume();
        const pings = setInterval(() => client.socket.readyState === client.socket.OPEN && client.send({ type: 'ping' }), 100);
        client.send({ type: 'ping' });
        const end = await endOf(client, HEARTBEAT_MS + MARGIN_MS).finally(() => clearInterval(pings));
        expect({ ...end, pongs: client.messages.filter((message) => message.type === 'pong').length }).toEqual({
          error: expect.objectContaining({ type: 'error', code: 'session_moved' }),
          close: 4409,
          pongs: 0,
        });

        await sleep(2 * INTERVAL_MS);
        const later = await ctx.betaSession(id);
        expect({ status: later.status, charged: later.charged_credits, debited: await ctx.debited(id) }).toEqual({
          status: 'ended',
          charged: lost.charged_credits,
          debited: lost.charged_credits,
        });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'ends a session whose client left while the database was frozen once it thaws: user_stopped, charged up to the moment it left, once',
    () =>
      withInstanceLogs(async () => {
        const {
          database,
          instances: [a],
          ctx,
        } = await cluster(['a'], { MONGODB_TIMEOUT_MS: '1000' });
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.beta.session_id;
        await sleep(2000);

        database.freeze();
        const leftAt = Date.now();
        client.close();
        // Long enough for the end's writes to time out and be tried again at least once.
        await sleep(4000);
        database.thaw();

        const ended = await observeUntil(
          async () => ({ beta: await ctx.betaSession(id), quota: (await ctx.quotaSessions(v.user.id))[0] }),
          ({ beta, quota }) => beta?.status === 'ended' && quota?.status !== 'active',
          5000,
        );
        expect({ status: ended.beta.status, end_reason: ended.beta.end_reason, quota_status: ended.quota.status }).toEqual({
          status: 'ended',
          end_reason: 'user_stopped',
          quota_status: 'completed',
        });
        const ranMs = leftAt - ended.beta.started_at.getTime();
        expect(chargedMs(ended.beta)).toBeGreaterThanOrEqual(ranMs - 1000);
        expect(chargedMs(ended.beta)).toBeLessThanOrEqual(ranMs + 1000);

        // The instance's log reaches its file a moment after it is written: read until it is there.
        const logs = await observeUntil(
          async () => a.logs(),
          (text) => text.includes('Ending the session failed; writing it again'),
          5000,
        );
        expect(logs).toContain('Ending the session failed; writing it again');
        await sleep(2 * INTERVAL_MS);
        const later = await ctx.betaSession(id);
        const account = await ctx.connection.collection('beta_credits').findOne({ _id: v.user.email as never });
        expect({ charged: later.charged_credits, debited: await ctx.debited(id), account_debited: account?.total_debited }).toEqual({
          charged: ended.beta.charged_credits,
          debited: ended.beta.charged_credits,
          account_debited: ended.beta.charged_credits,
        });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'closes a live session 4033 beta_revoked within one interval of an admin revoking the user',
    () =>
      withInstanceLogs(async () => {
        const {
          instances: [a],
          ctx,
        } = await cluster(['a']);
        const v = await viewer(ctx.app, { credits: 500 });
        const admin = await createUserWithToken(ctx.app, { admin: true });
        const { client, ready } = await openSession(a, v);
        await sleep(1500);

        const revoked = await http(a.baseUrl, 'DELETE', `/api/v1/admin/beta/enrollments/${encodeURIComponent(v.user.email)}`, {
          token: admin.token,
        });
        expect(revoked.status).toBe(200);
        expect(await endOf(client, INTERVAL_MS + MARGIN_MS)).toEqual({
          error: expect.objectContaining({ type: 'error', code: 'beta_revoked' }),
          close: 4033,
        });
        const ended = await observeUntil(
          async () => ({ beta: await ctx.betaSession(ready.beta.session_id), quota: (await ctx.quotaSessions(v.user.id))[0] }),
          ({ beta, quota }) => beta?.status === 'ended' && quota?.status !== 'active',
          MARGIN_MS,
        );
        expect({ status: ended.beta.status, end_reason: ended.beta.end_reason, quota_status: ended.quota.status }).toEqual({
          status: 'ended',
          end_reason: 'beta_revoked',
          quota_status: 'completed',
        });
      }),
    TEST_TIMEOUT_MS,
  );
});

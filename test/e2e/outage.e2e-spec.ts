import { startCluster, type Cluster } from '../harness/cluster.js';
import { creditsForSeconds, chargeableSeconds } from '../../src/beta/credits/credit-math.js';
import { CreditReconcilerService } from '../../src/beta/credits/credit-reconciler.service.js';
import { silence } from '../harness/audio.js';
import { expectExactBooks } from '../harness/beta-books.js';
import type { DatabaseContext } from '../harness/database-context.js';
import { http } from '../harness/http.js';
import { authMessage, observeUntil, openSession, resumeSession, sleep, viewer, type Viewer } from '../harness/live.js';
import { FAULT_ENV, FAULT_HEARTBEAT_MS, stopAllProcesses, withInstanceLogs, type ServiceInstance } from '../harness/processes.js';
import { TestWsClient } from '../harness/ws-client.js';

/** Scheduling and database round trips on a loaded 2-core machine. */
const MARGIN_MS = 1500;
/** The database is found unreachable within a ping interval and a ping timeout, and openings are refused then. */
const REFUSED_WITHIN_MS = 2000;
const TEST_TIMEOUT_MS = 60_000;
const RESUME_WINDOW_MS = 10_000;

/**
 * The database unreachable under live sessions (docs/protocol.md, "When the database is unreachable"): real service
 * instances on a real embedded database process that is frozen (SIGSTOP) or killed.
 */
describe('Live sessions while the database is unreachable', () => {
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  async function cluster(labels: string[], env: Record<string, string>): Promise<Cluster> {
    const started = await startCluster(labels, { ...FAULT_ENV, WS_RESUME_WINDOW_MS: String(RESUME_WINDOW_MS), ...env }, 'outage');
    ctx = started.ctx;
    return started;
  }

  /** Streams 100-ms frames of silence in real time until stopped. */
  function stream(client: TestWsClient): () => void {
    const frame = silence(100);
    const timer = setInterval(() => client.socket.readyState === client.socket.OPEN && client.sendAudio(frame), 100);
    return () => clearInterval(timer);
  }

  /**
   * Resumes on `instance` as a client does after the database came back: a resume refused 1013 (the instance has not
   * seen the database answer yet; docs/protocol.md, close codes) is tried again shortly. Fails with the last refusal.
   */
  async function resumeOnceReachable(
    instance: ServiceInstance,
    v: Viewer,
    resumeToken: string,
  ): Promise<{ client: TestWsClient; reply: any }> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const attempt = await resumeSession(instance, v, resumeToken);
      if (attempt.reply.type === 'ready') {
        return attempt;
      }
      const closed = await attempt.client.waitClose();
      if (closed.code !== 1013 || Date.now() > deadline) {
        throw new Error(`Resume refused: ${JSON.stringify(attempt.reply)}, closed ${closed.code}`);
      }
      await sleep(200);
    }
  }

  /** How long an opening (or a resume) sent now takes to be refused, and how. */
  async function refusalOf(
    instance: ServiceInstance,
    first: object,
  ): Promise<{ code: number | undefined; error: unknown; afterMs: number }> {
    const client = await TestWsClient.connect(instance.baseUrl);
    const sentAt = Date.now();
    client.send(first);
    const closed = await client.waitClose(REFUSED_WITHIN_MS + MARGIN_MS).catch(() => undefined);
    return { code: closed?.code, error: client.messages.find((m) => m.type === 'error')?.code, afterMs: Date.now() - sentAt };
  }

  /** I7: charged once for each second connected — up to the loss, then from the resume to the end. */
  async function expectChargedForConnectedTime(sessionId: string, betaSessionId: string, lostAtMs: number): Promise<void> {
    const beta = await ctx!.betaSession(betaSessionId);
    const record = await ctx!.connection.collection('live_sessions').findOne({ _id: sessionId as never });
    const connectedMs = lostAtMs - beta.started_at.getTime() + (beta.ended_at.getTime() - record!.resumed_at.getTime());
    expect(beta.charged_credits).toBe(creditsForSeconds(chargeableSeconds(connectedMs, true), beta.rate));
    expect(await ctx!.debited(betaSessionId)).toBe(beta.charged_credits);
    await expectExactBooks({ connection: ctx!.connection, reconciler: ctx!.app.get(CreditReconcilerService) });
  }

  it(
    'rides out a frozen database: opens and resumes refused 1013 within 2 s, the live session served, then 4503 at the offline limit; resumed once it is back, charged exactly',
    () =>
      withInstanceLogs(async () => {
        // Offline limit: min(3 × 600 ms, 3 checkpoint intervals − a heartbeat) = 1.8 s after the last heartbeat that landed.
        const offlineLimitMs = 1800;
        const {
          database,
          instances: [a, b],
          ctx,
        } = await cluster(['a', 'b'], { QUOTA_UPDATE_INTERVAL_MS: '600' });
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const stopStreaming = stream(client);
        await sleep(2000);

        const frozenAt = Date.now();
        database.freeze();
        const [opening, resume] = await Promise.all([
          refusalOf(b, authMessage(v)),
          refusalOf(a, { type: 'auth', token: v.token, resume_token: 'not-a-token-but-never-4410-while-offline' }),
        ]);
        expect({ opening: [opening.error, opening.code], resume: [resume.error, resume.code] }).toEqual({
          opening: ['service_unavailable', 1013],
          resume: ['service_unavailable', 1013],
        });
        expect(Math.max(opening.afterMs, resume.afterMs)).toBeLessThan(REFUSED_WITHIN_MS);

        // Still served on its hold until the offline limit: then suspended, with the token to resume it.
        const suspended = await client.next('error', offlineLimitMs + 2 * MARGIN_MS);
        const suspendedAfterMs = Date.now() - frozenAt;
        stopStreaming();
        expect(suspended).toMatchObject({
          code: 'service_unavailable',
          resume_token: expect.any(String),
          resume_within_ms: RESUME_WINDOW_MS,
        });
        expect((await client.waitClose()).code).toBe(4503);
        expect(suspendedAfterMs).toBeGreaterThanOrEqual(offlineLimitMs - FAULT_HEARTBEAT_MS - 100);
        expect(suspendedAfterMs).toBeLessThanOrEqual(offlineLimitMs + MARGIN_MS);

        await sleep(500);
        database.thaw();
        // The owner writes the suspension it kept once the database is back.
        const record = await observeUntil(
          () => ctx.connection.collection('live_sessions').findOne({ _id: ready.session_id as never }),
          (found) => found?.status === 'suspended',
          10_000,
        );
        expect(record).toMatchObject({ suspend_cause: 'service_unavailable' });
        const lostAtMs = record!.lost_at.getTime();
        expect(lostAtMs).toBeGreaterThanOrEqual(frozenAt);

        const resumed = await resumeOnceReachable(b, v, suspended.resume_token);
        expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true, session_id: ready.session_id });
        await sleep(1000);
        resumed.client.send({ type: 'stop' });
        await resumed.client.next('session_ended');
        await expectChargedForConnectedTime(ready.session_id, ready.beta.session_id, lostAtMs);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'stops a session whose hold runs out while the database is frozen: 4503, never more used than held (I8)',
    () =>
      withInstanceLogs(async () => {
        // A 2-credit hold, and an offline limit far beyond it: min(3 × 3 s, 3 × 3 s − 0.5 s) = 8.5 s.
        const {
          database,
          instances: [a, b],
          ctx,
        } = await cluster(['a', 'b'], { BETA_PREAUTH_SECONDS: '2', BETA_CHECKPOINT_INTERVAL_MS: '3000', QUOTA_UPDATE_INTERVAL_MS: '3000' });
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const stopStreaming = stream(client);
        await sleep(1200);

        const frozenAt = Date.now();
        database.freeze();
        const suspended = await client.next('error', 5000);
        const suspendedAfterMs = Date.now() - frozenAt;
        stopStreaming();
        expect(suspended).toMatchObject({ code: 'service_unavailable' });
        expect((await client.waitClose()).code).toBe(4503);
        // Paid (charged + held) at most 2 s beyond the last renewal, which was before the freeze.
        expect(suspendedAfterMs).toBeLessThanOrEqual(2000 + MARGIN_MS);

        database.thaw();
        const record = await observeUntil(
          () => ctx.connection.collection('live_sessions').findOne({ _id: ready.session_id as never }),
          (found) => found?.status === 'suspended',
          10_000,
        );
        const resumed = await resumeOnceReachable(b, v, suspended.resume_token);
        expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true });
        resumed.client.send({ type: 'stop' });
        await resumed.client.next('session_ended');
        await expectChargedForConnectedTime(ready.session_id, ready.beta.session_id, record!.lost_at.getTime());
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'cuts a session off 4402 when the hold it spends offline is all the balance there is, and writes the end once the database is back',
    () =>
      withInstanceLogs(async () => {
        const {
          database,
          instances: [a],
          ctx,
        } = await cluster(['a'], { BETA_PREAUTH_SECONDS: '3', BETA_CHECKPOINT_INTERVAL_MS: '3000', QUOTA_UPDATE_INTERVAL_MS: '3000' });
        const v = await viewer(ctx.app, { credits: 3 });
        const { client, ready } = await openSession(a, v);
        const openedAt = Date.now();
        const stopStreaming = stream(client);
        await sleep(200);
        database.freeze();
        const exhausted = await client.next('error', 3000 + 2 * MARGIN_MS);
        const endedAfterMs = Date.now() - openedAt;
        stopStreaming();
        expect(exhausted).toMatchObject({ code: 'credits_exhausted' });
        expect((await client.waitClose()).code).toBe(4402);
        expect(endedAfterMs).toBeGreaterThanOrEqual(3000 - 200);
        expect(endedAfterMs).toBeLessThanOrEqual(3000 + MARGIN_MS);

        database.thaw();
        const beta = await observeUntil(
          () => ctx.betaSession(ready.beta.session_id),
          (session) => session?.status === 'ended',
          15_000,
        );
        expect(beta).toMatchObject({ end_reason: 'credits_exhausted', charged_credits: 3 });
        expect(await ctx.connection.collection('beta_credits').findOne({ _id: v.user.email as never })).toMatchObject({
          total_granted: 3,
          total_debited: 3,
          held: 0,
        });
        await expectExactBooks({ connection: ctx.connection, reconciler: ctx.app.get(CreditReconcilerService) });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'keeps running when the database is killed: opens refused 1013 within 2 s, the live session suspended 4503, /health 503',
    () =>
      withInstanceLogs(async () => {
        const {
          database,
          instances: [a],
          ctx,
        } = await cluster(['a'], { QUOTA_UPDATE_INTERVAL_MS: '600' });
        const v = await viewer(ctx.app, { credits: 500 });
        const { client } = await openSession(a, v);
        const stopStreaming = stream(client);
        await sleep(1000);
        await database.kill();
        const opening = await refusalOf(a, authMessage(v));
        expect([opening.error, opening.code]).toEqual(['service_unavailable', 1013]);
        expect(opening.afterMs).toBeLessThan(REFUSED_WITHIN_MS);
        expect(await client.next('error', 1800 + 2 * MARGIN_MS)).toMatchObject({
          code: 'service_unavailable',
          resume_token: expect.any(String),
        });
        expect((await client.waitClose()).code).toBe(4503);
        stopStreaming();
        expect((await http(a.baseUrl, 'GET', '/health')).status).toBe(503);
      }),
    TEST_TIMEOUT_MS,
  );
});

import { startCluster, type Cluster } from '../harness/cluster.js';
import { chargeableSeconds, creditsForSeconds } from '../../src/beta/credits/credit-math.js';
import { CreditReconcilerService } from '../../src/beta/credits/credit-reconciler.service.js';
import { expectExactBooks } from '../harness/beta-books.js';
import type { DatabaseContext } from '../harness/database-context.js';
import { observeUntil, openSession, sleep, viewer, type Viewer } from '../harness/live.js';
import {
  FAULT_ENV,
  FAULT_HEARTBEAT_MS,
  FAULT_INTERVAL_MS,
  FAULT_LOST_AFTER_MS,
  stopAllProcesses,
  withInstanceLogs,
  type ServiceInstance,
} from '../harness/processes.js';
import { TestWsClient, type Closed } from '../harness/ws-client.js';

const INTERVAL_MS = FAULT_INTERVAL_MS;
const HEARTBEAT_MS = FAULT_HEARTBEAT_MS;
const LOST_AFTER_MS = FAULT_LOST_AFTER_MS;
const RESUME_WINDOW_MS = 4000;
/** Scheduling and database round trips on a loaded 2-core machine. */
const MARGIN_MS = 1500;
/** A frame already on its way when the client cut the connection is read by the server just after the cut. */
const IN_FLIGHT_MS = 100;
const TEST_TIMEOUT_MS = 60_000;

const ENV = { ...FAULT_ENV, WS_RESUME_WINDOW_MS: String(RESUME_WINDOW_MS) };

/** A stretch of time the session's client was connected to an owner that served it: [from, to] in epoch ms. */
type Span = [number, number];

/**
 * Resuming across real processes (the in-process version, on an exact clock, is live-resume.e2e-spec.ts): two service
 * instances on an embedded database of their own, real clients on real ports, connections dropped without a close
 * frame, an instance stopped (SIGTERM) or killed (SIGKILL). Every charge is checked exactly against the instants the
 * database recorded: a session is charged ceil(connected seconds) × rate, where its connected spans run from its start
 * to where it stopped being charged (`lost_at`, or a dead owner's last `heartbeat_at`) and from each resume to its end.
 * Every process is killed after each test, passed or failed.
 */
describe('Resuming live sessions across real processes', () => {
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  async function cluster(
    env: Record<string, string> = {},
  ): Promise<Omit<Cluster, 'instances'> & { a: ServiceInstance; b: ServiceInstance }> {
    const { database, instances, ctx: started } = await startCluster(['a', 'b'], { ...ENV, ...env }, 'resume');
    ctx = started;
    return { database, a: instances[0], b: instances[1], ctx: started };
  }

  const liveRecord = (id: string): Promise<any> => ctx!.connection.collection('live_sessions').findOne({ _id: id as never });
  const account = (email: string): Promise<any> => ctx!.connection.collection('beta_credits').findOne({ _id: email as never });

  /** Waits for the session's record to be suspended (the owner wrote the loss) and returns it. */
  async function suspendedRecord(id: string, timeoutMs = MARGIN_MS): Promise<any> {
    const record = await observeUntil(
      () => liveRecord(id),
      (found) => found?.status === 'suspended',
      timeoutMs,
    );
    expect(record).toMatchObject({ status: 'suspended' });
    return record;
  }

  /** Connects to `instance` and asks to resume with `token`; when the request went out and when its answer came. */
  async function resumeOn(instance: ServiceInstance, v: Viewer, token: string) {
    const client = await TestWsClient.connect(instance.baseUrl);
    const sentAt = Date.now();
    client.send({ type: 'auth', token: v.token, resume_token: token });
    const reply = await client.next();
    return { client, reply, sentAt, repliedAt: Date.now() };
  }

  /**
   * The instant the resume took the session over, as the database records it: the account moved the session's start
   * later by exactly resume − cut (`cut`: where it stopped being charged). It must lie between the test sending the
   * resume and receiving `ready`, which a wrong cut or a gap charged anyway would miss. `earlierGaps`: what earlier
   * resumes of the session moved its start by.
   */
  async function resumedAt(
    email: string,
    beta: any,
    cut: number,
    window: { sentAt: number; repliedAt: number },
    earlierGaps = 0,
  ): Promise<number> {
    const moved = (await account(email))?.sessions?.[beta._id]?.started_at as number | undefined;
    expect(moved).toEqual(expect.any(Number));
    const resumeAt = cut + (moved! - beta.started_at.getTime() - earlierGaps);
    expectWithin('resume instant', resumeAt, window.sentAt, window.repliedAt);
    return resumeAt;
  }

  /** Credits owed for the connected spans: every started second of their total, at the session's rate (I7). */
  const owed = (spans: Span[], rate: number) =>
    creditsForSeconds(
      chargeableSeconds(
        spans.reduce((sum, [from, to]) => sum + (to - from), 0),
        true,
      ),
      rate,
    );

  /**
   * No debit of the session ever charged time it was not connected: at each ledger entry's creation, what the session
   * had been charged in all is at most its connected seconds up to then. An owner charging the gap, or an old owner
   * charging after a takeover, shows here even when a later, larger final charge would hide it in the total.
   */
  async function expectDebitsWithinConnected(betaId: string, spans: Span[], rate: number): Promise<void> {
    const debits = await ctx!.connection
      .collection('beta_credit_transactions')
      .find({ session_id: betaId, type: 'debit' })
      .sort({ seq: 1 })
      .toArray();
    let charged = 0;
    for (const debit of debits) {
      charged -= debit.amount as number;
      const at = (debit.created_at as Date).getTime();
      const allowed = owed(
        spans.map(([from, to]): Span => [from, Math.max(from, Math.min(to, at))]),
        rate,
      );
      expect({ debit: debit._id, charged, allowed, within: charged <= allowed }).toEqual({
        debit: debit._id,
        charged,
        allowed,
        within: true,
      });
    }
  }

  /** The session ended as `reason`, charged exactly `expected` in its beta session and its ledger, its quota `quota`; the books are clean. */
  /**
   * Stops a resumed session and works out what it owes: its connected spans are [start, cut] and [resume, end], the
   * gap between them never charged (I7).
   */
  async function stopResumed(client: TestWsClient, beta: any, cutAt: number, resumeAt: number) {
    client.send({ type: 'stop' });
    const ended = await client.next('session_ended');
    const endAt = (await ctx!.betaSession(beta._id)).ended_at.getTime();
    const spans: Span[] = [
      [beta.started_at.getTime(), cutAt],
      [resumeAt, endAt],
    ];
    return { ended, endAt, spans, charged: owed(spans, beta.rate) };
  }

  async function expectEnded(v: Viewer, betaId: string, expected: { reason: string; charged: number; quota: string }): Promise<any> {
    const beta = await ctx!.betaSession(betaId);
    const quota = (await ctx!.quotaSessions(v.user.id))[0];
    expect({
      status: beta.status,
      end_reason: beta.end_reason,
      charged: beta.charged_credits,
      debited: await ctx!.debited(betaId),
      quota: quota?.status,
    }).toEqual({
      status: 'ended',
      end_reason: expected.reason,
      charged: expected.charged,
      debited: expected.charged,
      quota: expected.quota,
    });
    const { total_debited, held, sessions } = await account(v.user.email);
    expect({ total_debited, held, sessions }).toEqual({ total_debited: expected.charged, held: 0, sessions: {} });
    await expectExactBooks({ connection: ctx!.connection, reconciler: ctx!.app.get(CreditReconcilerService) });
    return beta;
  }

  /** `value` lies in [low, high]; a failure shows all three. */
  function expectWithin(what: string, value: number, low: number, high: number): void {
    expect({ what, value, low, high, within: low <= value && value <= high }).toEqual({ what, value, low, high, within: true });
  }

  async function closeOf(client: TestWsClient, timeoutMs: number): Promise<Closed | undefined> {
    return client.waitFor(() => client.closed, timeoutMs, 'close').catch((): undefined => undefined);
  }

  it(
    'resumes on another instance after a blip: same ids, a new token; charged ceil((lost_at − start) + (end − resume)) s',
    () =>
      withInstanceLogs(async () => {
        const { a, b, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        const ownerA = (await liveRecord(id)).owner_instance_id;
        await sleep(2000);

        const droppedAt = Date.now();
        client.drop();
        const lost = await suspendedRecord(id);
        const lostAt = lost.lost_at.getTime();
        // Charged up to its last frame or pong: the owner pings every heartbeat.
        expect(lost.suspend_cause).toBe('disconnected');
        // (A pong the client sent just before the drop may still be read a moment after it.)
        expectWithin('lost_at', lostAt, droppedAt - HEARTBEAT_MS - MARGIN_MS, droppedAt + IN_FLIGHT_MS);
        expect(lost.resume_until.getTime() - lostAt).toBeGreaterThanOrEqual(RESUME_WINDOW_MS);
        // Its beta session follows: charged the completed seconds up to lost_at, its hold kept for the resume.
        const suspendedBeta = await observeUntil(
          () => ctx.betaSession(betaId),
          (found) => found.status === 'suspended',
          MARGIN_MS,
        );
        expect(suspendedBeta.status).toBe('suspended');
        const credit = (await account(v.user.email)).sessions[betaId];
        expect({ charged: credit.charged, hold: credit.hold }).toEqual({
          charged: creditsForSeconds(chargeableSeconds(lostAt - suspendedBeta.started_at.getTime(), false), suspendedBeta.rate),
          hold: ready.beta.estimated_cost,
        });
        await sleep(1500);

        const resumed = await resumeOn(b, v, ready.resume_token);
        expect(resumed.reply).toMatchObject({
          type: 'ready',
          resumed: true,
          session_id: id,
          beta: { session_id: betaId },
          resume_token: expect.stringMatching(/^[\w-]{43}$/),
        });
        expect(resumed.reply.resume_token).not.toBe(ready.resume_token);
        const taken = await liveRecord(id);
        expect({ status: taken.status, epoch: taken.owner_epoch, moved: taken.owner_instance_id !== ownerA }).toEqual({
          status: 'live',
          epoch: 2,
          moved: true,
        });
        expect(await ctx.connection.collection('beta_sessions').countDocuments({ email: v.user.email })).toBe(1);
        expect(await ctx.connection.collection('live_quota_sessions').countDocuments({ user_id: v.user.id })).toBe(1);
        const beta = await ctx.betaSession(betaId);
        const resumeAt = await resumedAt(v.user.email, beta, lostAt, resumed);
        await sleep(2000);

        const { ended, endAt, spans, charged } = await stopResumed(resumed.client, beta, lostAt, resumeAt);
        // The gap (1.5 s at least) is not charged.
        expect(charged).toBeLessThan(owed([[beta.started_at.getTime(), endAt]], beta.rate));
        expect(ended).toMatchObject({ reason: 'user_stopped', session_charged: charged, remaining_credits: 500 - charged });
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });
        await expectDebitsWithinConnected(betaId, spans, beta.rate);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'on a rolling restart (SIGTERM) tells the client to reconnect (1012), which resumes elsewhere: the restart gap is not charged',
    () =>
      withInstanceLogs(async () => {
        const { a, b, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        await sleep(2000);

        const stoppedAt = Date.now();
        const exit = a.stop();
        const reconnect = await client.next('reconnect');
        const toldAt = Date.now();
        expect(reconnect).toEqual({
          type: 'reconnect',
          resume_token: expect.stringMatching(/^[\w-]{43}$/),
          resume_within_ms: RESUME_WINDOW_MS,
        });
        expect((await client.waitClose()).code).toBe(1012);
        // The suspension is written before the client is told: charged up to the instant the shutdown began.
        const lost = await liveRecord(id);
        const lostAt = lost.lost_at.getTime();
        expect({ status: lost.status, cause: lost.suspend_cause }).toEqual({ status: 'suspended', cause: 'server_shutdown' });
        expectWithin('lost_at', lostAt, stoppedAt, toldAt);
        expect([
          { code: 0, signal: null },
          { code: null, signal: 'SIGTERM' },
        ]).toContainEqual(await exit);
        await sleep(1000);

        const resumed = await resumeOn(b, v, reconnect.resume_token);
        expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true, session_id: id, beta: { session_id: betaId } });
        const beta = await ctx.betaSession(betaId);
        const resumeAt = await resumedAt(v.user.email, beta, lostAt, resumed);

        // The session goes on: served, and charged by its new owner.
        for (let i = 0; i < 4; i++) {
          await sleep(500);
          resumed.client.send({ type: 'ping' });
          expect(await resumed.client.next('pong')).toEqual({ type: 'pong' });
        }
        const { ended, endAt, spans, charged } = await stopResumed(resumed.client, beta, lostAt, resumeAt);
        expect(charged).toBeLessThan(owed([[beta.started_at.getTime(), endAt]], beta.rate));
        expect(ended).toMatchObject({ reason: 'user_stopped', session_charged: charged });
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });
        await expectDebitsWithinConnected(betaId, spans, beta.rate);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'takes over a killed owner’s session on a resume before the sweep: charged up to the dead owner’s last heartbeat, then from the resume',
    () =>
      withInstanceLogs(async () => {
        const { a, b, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        await sleep(2500);

        const killedAt = Date.now();
        await a.kill();
        expect((await client.waitClose()).code).toBe(1006);
        // Read after the kill: nothing writes this record until the takeover.
        const dead = await liveRecord(id);
        const cut = dead.heartbeat_at.getTime();
        expect({ status: dead.status, epoch: dead.owner_epoch }).toEqual({ status: 'live', epoch: 0 });
        expectWithin('last heartbeat', cut, killedAt - HEARTBEAT_MS - MARGIN_MS, killedAt);

        const resumed = await resumeOn(b, v, ready.resume_token);
        expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true, session_id: id, beta: { session_id: betaId } });
        // Taken over by the resume (epoch 0 → 1), not first found lost by a sweep (which would have ended it).
        const taken = await liveRecord(id);
        expect({ status: taken.status, epoch: taken.owner_epoch }).toEqual({ status: 'live', epoch: 1 });
        const beta = await ctx.betaSession(betaId);
        expect(beta.status).toBe('active');
        const resumeAt = await resumedAt(v.user.email, beta, cut, resumed);
        await sleep(2000);

        const { ended, spans, charged } = await stopResumed(resumed.client, beta, cut, resumeAt);
        expect(ended).toMatchObject({ reason: 'user_stopped', session_charged: charged });
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });
        await expectDebitsWithinConnected(betaId, spans, beta.rate);
        // A sweep later finds nothing of it left to end.
        await sleep(LOST_AFTER_MS + INTERVAL_MS);
        expect({ live: (await liveRecord(id)).end_cause, charged: (await ctx.betaSession(betaId)).charged_credits }).toEqual({
          live: 'user_stopped',
          charged,
        });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'of two resumes with one token racing on two instances, exactly one gets ready, the other resume_failed 4410: three rounds',
    () =>
      withInstanceLogs(async () => {
        const { database, a, b, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        const opened = await openSession(a, v);
        const id = opened.ready.session_id;
        const betaId = opened.ready.beta.session_id;
        const ownerA = (await liveRecord(id)).owner_instance_id;
        const beta = await ctx.betaSession(betaId);
        const spans: Span[] = [];
        let connected = { client: opened.client, token: opened.ready.resume_token as string, since: beta.started_at.getTime() };
        let shift = 0;
        for (let round = 1; round <= 3; round++) {
          await sleep(1200);
          connected.client.drop();
          const lostAt = (await suspendedRecord(id)).lost_at.getTime();
          spans.push([connected.since, lostAt]);

          // Both connected first; then both asks go out while the database answers nothing, so that both instances
          // wait on it at once and race from the same point when it answers again.
          const racers = await Promise.all([TestWsClient.connect(a.baseUrl), TestWsClient.connect(b.baseUrl)]);
          database.freeze();
          const sentAt = Date.now();
          racers.forEach((racer) => racer.send({ type: 'auth', token: v.token, resume_token: connected.token }));
          await sleep(250);
          database.thaw();
          const replies = await Promise.all(racers.map((racer) => racer.next()));
          const repliedAt = Date.now();
          expect({ round, replies: replies.map((reply) => reply.type).sort() }).toEqual({ round, replies: ['error', 'ready'] });
          const winner = replies.findIndex((reply) => reply.type === 'ready');
          const loser = racers[1 - winner];
          expect(replies[1 - winner]).toMatchObject({ type: 'error', code: 'resume_failed' });
          expect((await loser.waitClose()).code).toBe(4410);
          expect(replies[winner]).toMatchObject({ resumed: true, session_id: id, beta: { session_id: betaId } });
          const taken = await liveRecord(id);
          expect({ round, epoch: taken.owner_epoch, onA: taken.owner_instance_id === ownerA }).toEqual({
            round,
            epoch: 2 * round,
            onA: winner === 0,
          });
          const resumeAt = await resumedAt(v.user.email, beta, lostAt, { sentAt, repliedAt }, shift);
          shift += resumeAt - lostAt;
          connected = { client: racers[winner], token: replies[winner].resume_token, since: resumeAt };
        }
        await sleep(1000);

        connected.client.send({ type: 'stop' });
        const ended = await connected.client.next('session_ended');
        spans.push([connected.since, (await ctx.betaSession(betaId)).ended_at.getTime()]);
        const charged = owed(spans, beta.rate);
        expect(ended).toMatchObject({ session_charged: charged });
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });
        await expectDebitsWithinConnected(betaId, spans, beta.rate);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'ends a dropped session whose owner was then killed once its window closes, from the survivor: user_stopped, charged up to lost_at',
    () =>
      withInstanceLogs(async () => {
        const { a, b, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        await sleep(2000);

        client.drop();
        const lost = await suspendedRecord(id);
        // The whole suspension landed (record, beta session, quota session) before the owner dies.
        await observeUntil(
          async () => ({ beta: (await ctx.betaSession(betaId)).status, quota: (await ctx.quotaSessions(v.user.id))[0].status }),
          (statuses) => statuses.beta === 'suspended' && statuses.quota === 'suspended',
          MARGIN_MS,
        );
        await a.kill();

        const resumeUntil = lost.resume_until.getTime();
        const ended = await observeUntil(
          () => liveRecord(id),
          (record) => record.status === 'ended',
          resumeUntil + INTERVAL_MS + 2 * MARGIN_MS - Date.now(),
        );
        expect({ status: ended.status, cause: ended.end_cause, end_at: ended.end_at }).toEqual({
          status: 'ended',
          cause: 'disconnected',
          end_at: lost.lost_at,
        });
        // Found by the survivor's sweep, which runs every interval, once the window closed.
        expectWithin('ended_at', ended.ended_at.getTime(), resumeUntil, resumeUntil + INTERVAL_MS + MARGIN_MS);
        const beta = await ctx.betaSession(betaId);
        const charged = owed([[beta.started_at.getTime(), lost.lost_at.getTime()]], beta.rate);
        expect(beta.ended_at).toEqual(lost.lost_at);
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });

        const late = await resumeOn(b, v, ready.resume_token);
        expect(late.reply).toMatchObject({ type: 'error', code: 'resume_failed' });
        expect((await late.client.waitClose()).code).toBe(4410);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'ends a session suspended by a SIGTERM and never resumed once its window closes, from the survivor: server_shutdown, charged up to lost_at',
    () =>
      withInstanceLogs(async () => {
        const { a, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        const { client, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        await sleep(2000);

        const exit = a.stop();
        expect(await client.next('reconnect')).toMatchObject({ type: 'reconnect' });
        expect((await client.waitClose()).code).toBe(1012);
        await exit;
        const lost = await liveRecord(id);
        expect({ status: lost.status, cause: lost.suspend_cause }).toEqual({ status: 'suspended', cause: 'server_shutdown' });

        const resumeUntil = lost.resume_until.getTime();
        const ended = await observeUntil(
          () => liveRecord(id),
          (record) => record.status === 'ended',
          resumeUntil + INTERVAL_MS + 2 * MARGIN_MS - Date.now(),
        );
        expect({ status: ended.status, cause: ended.end_cause, end_at: ended.end_at }).toEqual({
          status: 'ended',
          cause: 'server_shutdown',
          end_at: lost.lost_at,
        });
        expectWithin('ended_at', ended.ended_at.getTime(), resumeUntil, resumeUntil + INTERVAL_MS + MARGIN_MS);
        const beta = await ctx.betaSession(betaId);
        const charged = owed([[beta.started_at.getTime(), lost.lost_at.getTime()]], beta.rate);
        expect(beta.ended_at).toEqual(lost.lost_at);
        await expectEnded(v, betaId, { reason: 'server_shutdown', charged, quota: 'completed' });
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'takes a session over from a live owner that has not noticed its client moved: the old connection gets 4409 at the owner’s next heartbeat; nothing charged after the takeover',
    () =>
      withInstanceLogs(async () => {
        const { a, b, ctx } = await cluster();
        const v = await viewer(ctx.app, { credits: 500 });
        // The old connection stays open and answers pings: to its owner, nothing is wrong.
        const { client: old, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        await sleep(2500);

        const before = await liveRecord(id);
        const resumed = await resumeOn(b, v, ready.resume_token);
        expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true, session_id: id, beta: { session_id: betaId } });
        const closed = await closeOf(old, HEARTBEAT_MS + MARGIN_MS);
        expect({ error: old.messages.find((message) => message.type === 'error'), close: closed?.code }).toEqual({
          error: expect.objectContaining({ code: 'session_moved' }),
          close: 4409,
        });
        expect((await liveRecord(id)).owner_epoch).toBe(before.owner_epoch + 1);

        // The takeover cut the old owner's charge at the heartbeat it read: one at least as recent as `before`'s, and
        // no later than the resume. Whatever that instant, the account moved the start by exactly resume − cut.
        const beta = await ctx.betaSession(betaId);
        const shift = (await account(v.user.email)).sessions[betaId].started_at - beta.started_at.getTime();
        expectWithin('start moved by', shift, 0, resumed.repliedAt - before.heartbeat_at.getTime());
        await sleep(2000);

        resumed.client.send({ type: 'stop' });
        const ended = await resumed.client.next('session_ended');
        const endAt = (await ctx.betaSession(betaId)).ended_at.getTime();
        // Connected from the start to the cut, and from the resume (cut + shift) to the end.
        const charged = owed([[beta.started_at.getTime() + shift, endAt]], beta.rate);
        expect(ended).toMatchObject({ session_charged: charged });
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });
        // An old-owner checkpoint after the takeover would charge against the unmoved start.
        const cutLatest = resumed.repliedAt - shift;
        await expectDebitsWithinConnected(
          betaId,
          [
            [beta.started_at.getTime(), cutLatest],
            [cutLatest + shift, endAt],
          ],
          beta.rate,
        );
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'takes a session over from an owner paused across the resume: 4409 once it wakes, and its overdue checkpoint charges nothing of the gap',
    () =>
      withInstanceLogs(async () => {
        // Lost after 6 s: the sweep leaves the paused owner's session to the resume.
        const interval = 2000;
        const { a, b, ctx } = await cluster({ BETA_CHECKPOINT_INTERVAL_MS: String(interval) });
        const v = await viewer(ctx.app, { credits: 500 });
        const { client: old, ready } = await openSession(a, v);
        const id = ready.session_id;
        const betaId = ready.beta.session_id;
        await sleep(2500);

        a.pause();
        // A heartbeat already on its way lands meanwhile; after that, nothing writes the record until the takeover.
        await sleep(300);
        const paused = await liveRecord(id);
        const cut = paused.heartbeat_at.getTime();
        // Two seconds and more after the owner last proved it held the session, well before the sweep would end it.
        await sleep(cut + 2500 - Date.now());
        const resumed = await resumeOn(b, v, ready.resume_token);
        expect(resumed.reply).toMatchObject({ type: 'ready', resumed: true, session_id: id, beta: { session_id: betaId } });
        expect((await liveRecord(id)).owner_epoch).toBe(paused.owner_epoch + 1);
        const beta = await ctx.betaSession(betaId);
        const resumeAt = await resumedAt(v.user.email, beta, cut, resumed);

        // Awake, the owner finds the session taken at its first heartbeat, checkpoints included (each proves first).
        a.resume();
        const closed = await closeOf(old, HEARTBEAT_MS + MARGIN_MS);
        expect({ error: old.messages.find((message) => message.type === 'error'), close: closed?.code }).toEqual({
          error: expect.objectContaining({ code: 'session_moved' }),
          close: 4409,
        });
        // The owner's overdue checkpoints have run by now.
        await sleep(interval + 500);

        const { ended, endAt, spans, charged } = await stopResumed(resumed.client, beta, cut, resumeAt);
        // Over 2 s of gap: at least 2 credits less than the whole time.
        expect(charged).toBeLessThanOrEqual(owed([[beta.started_at.getTime(), endAt]], beta.rate) - 2);
        expect(ended).toMatchObject({ session_charged: charged });
        await expectEnded(v, betaId, { reason: 'user_stopped', charged, quota: 'completed' });
        await expectDebitsWithinConnected(betaId, spans, beta.rate);
      }),
    TEST_TIMEOUT_MS,
  );
});

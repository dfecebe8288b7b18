import { CreditCheckpointService } from '../../src/beta/checkpoint/credit-checkpoint.service.js';
import { LiveSessionsRepository } from '../../src/live-dubbing/live-sessions.repository.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { openSession, resumeSession, viewer, waitUntil } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';

/**
 * The usage summary on the message that ends a session (docs/protocol.md, "The usage summary"): the same amounts as
 * the ledger's debits of the session and its quota session's `used_seconds`, however it ends.
 */
describe('Live session usage summary', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { WS_IDLE_TIMEOUT_MS: '60000' } });
  });

  afterAll(async () => {
    await t.close();
  });

  /** What the books say the beta session was charged (the sum of its debits) and the quota session used. */
  async function books(betaSessionId: string | undefined, userId: string) {
    const debits = await t.connection.collection('beta_credit_transactions').find({ type: 'debit', session_id: betaSessionId }).toArray();
    const quota = await t.connection.collection('live_quota_sessions').findOne({ user_id: userId });
    return { charged_credits: debits.reduce((sum, debit) => sum - (debit.amount as number), 0), quota_used_seconds: quota!.used_seconds };
  }

  it('on stop, after a resume: the time connected over both connections, the ledger debits, the quota seconds', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(4_200);
    client.send({ type: 'ping' });
    await client.next('pong');
    client.drop();
    await waitUntil(async () => (await t.app.get(LiveSessionsRepository).find(ready.session_id))?.status === 'suspended');
    await clock.advance(3_000);
    const { client: resumed, reply } = await resumeSession(t, v, ready.resume_token);
    expect(reply).toMatchObject({ type: 'ready', resumed: true });
    await clock.advance(5_500);
    resumed.send({ type: 'stop' });
    const ended = await resumed.next('session_ended');
    // Connected 4.2 s, then 5.5 s: 9.7 s, charged as 10 started seconds (the gap moves the session's start).
    expect(ended).toEqual({
      type: 'session_ended',
      reason: 'user_stopped',
      duration_ms: 9_700,
      charged_credits: 10,
      remaining_credits: 490,
      quota_used_seconds: 10,
      session_charged: 10,
    });
    expect(ended).toMatchObject(await books(ready.beta.session_id, v.user.id));
  });

  it('on credits_exhausted: the error carries what the end charged', async () => {
    const v = await viewer(t.app, { credits: 70 });
    const { client, ready } = await openSession(t, v);
    for (let second = 0; second < 70; second += 10) {
      // Audio keeps the session from idling; a checkpoint charges it now and then.
      client.sendAudio(Buffer.alloc(3_200));
      client.send({ type: 'ping' });
      await client.next('pong');
      await clock.advance(10_000);
      await t.app.get(CreditCheckpointService).tick();
    }
    const error = await client.next('error');
    expect(error).toMatchObject({
      code: 'credits_exhausted',
      duration_ms: 70_000,
      charged_credits: 70,
      remaining_credits: 0,
      quota_used_seconds: 70,
    });
    expect((await client.waitClose()).code).toBe(4402);
    expect(error).toMatchObject(await books(ready.beta.session_id, v.user.id));
  });

  it('on idle_timeout, outside the programme: no credits, remaining_credits null', async () => {
    const v = await viewer(t.app);
    const { client, ready } = await openSession(t, v);
    expect(ready.beta).toBeNull();
    await clock.advance(60_000);
    const ended = await client.next('session_ended');
    expect(ended).toEqual({
      type: 'session_ended',
      reason: 'idle_timeout',
      duration_ms: 60_000,
      charged_credits: 0,
      remaining_credits: null,
      quota_used_seconds: 60,
    });
    expect((await client.waitClose()).code).toBe(4408);
    expect(ended).toMatchObject(await books(undefined, v.user.id));
  });

  it('on idle_timeout, in the programme: the ledger debits up to the timeout', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    await clock.advance(2_500);
    client.sendAudio(Buffer.alloc(3_200));
    client.send({ type: 'ping' });
    await client.next('pong');
    await clock.advance(60_000);
    const ended = await client.next('session_ended');
    expect(ended).toMatchObject({ reason: 'idle_timeout', duration_ms: 62_500, charged_credits: 63, remaining_credits: 437 });
    expect(ended).toMatchObject(await books(ready.beta.session_id, v.user.id));
  });
});

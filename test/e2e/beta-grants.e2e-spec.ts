import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { BetaAccountsRepository } from '../../src/beta/credits/beta-accounts.repository.js';
import { betaViewer, expectExactBooks } from '../harness/beta-books.js';
import { startBetaContext, type BetaContext } from '../harness/beta-context.js';
import { testDatabaseUri } from '../harness/database.js';
import { uniqueEmail } from '../harness/factories.js';
import { ManualClock } from '../harness/manual-clock.js';

const DAY_MS = 86_400_000;

/**
 * Credit grants on the embedded database (docs/credits.md, "Grants"): the burn-down order, expiry written off once
 * by two instances, a session's hold moved off an expiring grant, a session cut off at an expiry, and accounts from
 * before grants.
 */
describe('Beta credit grants', () => {
  const clock = new ManualClock();
  const databaseUri = testDatabaseUri('beta_grants');
  let a: BetaContext;
  let b: BetaContext;

  beforeAll(async () => {
    a = await startBetaContext({ databaseUri, clock });
    b = await startBetaContext({ databaseUri, clock });
  });

  afterAll(async () => {
    await a.connection.dropDatabase();
    await Promise.all([a.close(), b.close()]);
  });

  const key = (name: string) => `${name}:${randomBytes(4).toString('hex')}`;

  async function grantsOf(email: string): Promise<Record<string, number>> {
    return Object.fromEntries((await a.credits.grants(email)).map((grant) => [grant.reason ?? grant.id, grant.remaining]));
  }

  async function takesOf(email: string): Promise<{ type: string; takes: { grant: string; amount: number }[] }[]> {
    const entries = await a.connection
      .collection('beta_credit_transactions')
      .find({ email, takes: { $exists: true } })
      .sort({ created_at: 1 })
      .toArray();
    return entries.map((entry) => ({ type: entry.type, takes: entry.takes }));
  }

  it('burns grants down by priority, then earliest expiry, then age, and records which grants each debit took from', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    const promo = await a.credits.grant({ email: user.email, amount: 50, key: key('promo'), reason: 'promo', priority: 0 });
    const soon = await a.credits.grant({
      email: user.email,
      amount: 30,
      key: key('soon'),
      reason: 'soon',
      expiresAt: new Date(clock.now() + DAY_MS),
    });
    const later = await a.credits.grant({
      email: user.email,
      amount: 20,
      key: key('later'),
      reason: 'later',
      expiresAt: new Date(clock.now() + 2 * DAY_MS),
    });
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(200);

    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(30_000);
    await a.checkpoint.tick();
    await clock.advance(69_500);
    await a.sessions.end(start.sessionId, 'user_stopped');

    expect(await grantsOf(user.email)).toEqual({ promo: 0, soon: 0, later: 0, 'enrolment (admin)': 100 });
    const debits = await takesOf(user.email);
    // The checkpoint's 30 s from the promotion; the end's 70 s from what the hold then was (its top-up had taken the
    // rest of the promotion's order), then the last 10 s topped up from the grant next in line.
    expect(debits.map((debit) => debit.takes)).toEqual([
      [{ grant: promo.id, amount: 30 }],
      [
        { grant: promo.id, amount: 20 },
        { grant: soon.id, amount: 30 },
        { grant: later.id, amount: 10 },
      ],
      [{ grant: later.id, amount: 10 }],
    ]);
    await expectExactBooks(a);
  });

  it('burns a removal down in the same order, from credits no session holds', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    await a.credits.grant({ email: user.email, amount: 40, key: key('bonus'), reason: 'bonus', priority: 5 });
    await a.credits.change({ email: user.email, amount: -60, key: key('chargeback'), type: 'adjustment', reason: 'chargeback' });
    expect(await grantsOf(user.email)).toEqual({ bonus: 0, 'enrolment (admin)': 80 });
    await expectExactBooks(a);
  });

  it('writes an expired grant off once when two instances run the expiry at the same time', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    await a.credits.grant({ email: user.email, amount: 40, key: key('trial'), reason: 'trial', expiresAt: new Date(clock.now() + 10_000) });
    await a.credits.change({ email: user.email, amount: -15, key: key('spent'), type: 'adjustment', reason: 'spent' });
    // The removal took the expiring grant first (same priority, earlier expiry).
    expect(await grantsOf(user.email)).toEqual({ trial: 25, 'enrolment (admin)': 100 });

    await clock.advance(9_999);
    expect(await Promise.all([a.expiry.run(), b.expiry.run()])).toEqual([0, 0]);
    await clock.advance(1);
    const written = await Promise.all([a.expiry.run(), b.expiry.run(), a.expiry.run()]);
    expect(written.reduce((sum, credits) => sum + credits, 0)).toBe(25);
    const expiries = await a.connection.collection('beta_credit_transactions').find({ email: user.email, type: 'expiry' }).toArray();
    expect(expiries.map((entry) => entry.amount)).toEqual([-25]);
    expect(await a.credits.balance(user.email)).toMatchObject({ remainingCredits: 100, availableCredits: 100 });
    expect(await grantsOf(user.email)).toEqual({ trial: 0, 'enrolment (admin)': 100 });
    expect((await a.credits.grants(user.email)).find((grant) => grant.reason === 'trial')?.status).toBe('expired');
    await expectExactBooks(a);
  });

  it('writes an expired grant off once when the process died between the expiry entry and the account write', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    await a.credits.grant({ email: user.email, amount: 40, key: key('trial'), reason: 'trial', expiresAt: new Date(clock.now() + 1_000) });
    await clock.advance(1_000);
    const accounts = a.module.get(BetaAccountsRepository);
    const crash = jest.spyOn(accounts, 'write').mockRejectedValueOnce(new Error('process died'));
    await expect(a.credits.expireGrants(user.email)).rejects.toThrow('process died');
    crash.mockRestore();
    // The expired credits are no longer the user's, though the account has not written them off yet.
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(100);
    expect((await a.credits.account(user.email))?.total_debited).toBe(0);
    expect(await Promise.all([b.expiry.run(), a.expiry.run()])).toEqual(expect.arrayContaining([40]));
    expect((await a.credits.account(user.email))?.total_debited).toBe(40);
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(100);
    expect(await a.connection.collection('beta_credit_transactions').countDocuments({ email: user.email, type: 'expiry' })).toBe(1);
    await expectExactBooks(a);
  });

  it('moves a session’s hold off a grant at its expiry: seconds before it burn the grant, none after', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    await a.credits.grant({
      email: user.email,
      amount: 50,
      key: key('promo'),
      reason: 'promo',
      priority: 0,
      expiresAt: new Date(clock.now() + 20_500),
    });
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    let ended = false;
    a.signals.subscribe(start.sessionId, (signal) => {
      if (signal.type === 'ended') ended = true;
    });
    // The cut-off timer fires at the expiry: the hold moves to the enrolment grant and the session goes on.
    await clock.advance(20_500);
    expect(ended).toBe(false);
    const account = await a.credits.account(user.email);
    expect(account?.sessions[start.sessionId]).toMatchObject({
      charged: 20,
      hold: 60,
      holds: [{ grant: `enrollment:${user.email}`, amount: 60 }],
    });
    // The promo's unspent 30 credits are no longer available while its write-off waits for the expiry job.
    expect((await a.credits.balance(user.email)).availableCredits).toBe(40);

    await clock.advance(29_500);
    await a.sessions.end(start.sessionId, 'user_stopped');
    expect(await a.expiry.run()).toBe(30);
    expect(await grantsOf(user.email)).toEqual({ promo: 0, 'enrolment (admin)': 70 });
    expect((await a.sessions.find(start.sessionId))?.charged_credits).toBe(50);
    await expectExactBooks(a);
  });

  it('cuts a session off at the expiry of the only grant it can spend (I4), and writes the rest off', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    await a.credits.change({ email: user.email, amount: -100, key: key('spent'), type: 'adjustment', reason: 'spent' });
    await a.credits.grant({
      email: user.email,
      amount: 300,
      key: key('event'),
      reason: 'event',
      expiresAt: new Date(clock.now() + 45_000),
    });
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    const startedAt = clock.now();
    let endedAfter: number | undefined;
    a.signals.subscribe(start.sessionId, (signal) => {
      if (signal.type === 'ended') endedAfter = clock.now() - startedAt;
    });
    await clock.advance(30_000);
    await a.checkpoint.tick();
    await clock.advance(30_000);
    expect(endedAfter).toBe(45_000);
    expect(await a.sessions.find(start.sessionId)).toMatchObject({ end_reason: 'credits_exhausted', charged_credits: 45 });
    expect(await a.expiry.run()).toBe(255);
    expect(await a.credits.balance(user.email)).toMatchObject({ remainingCredits: 0, heldCredits: 0 });
    await expectExactBooks(a);
  });

  it('keeps the exact balance of an account from before grants on one opening grant, and spends it', async () => {
    const email = uniqueEmail();
    await a.connection.collection('beta_credit_transactions').insertMany([
      {
        _id: `enrollment:${email}` as never,
        email,
        type: 'grant',
        amount: 500,
        reason: 'enrolment (admin)',
        created_at: clock.date(),
        account_seq: 1,
      },
      { _id: `debit:old:${email}:1` as never, email, type: 'debit', amount: -80, session_id: 'old', seq: 1, created_at: clock.date() },
    ]);
    await a.connection.collection('beta_credits').insertOne({
      _id: email as never,
      version: 12,
      total_granted: 500,
      total_debited: 80,
      held: 0,
      sessions: {},
      active_sessions: 0,
      applied_seq: 1,
    });
    expect(await a.credits.balance(email)).toMatchObject({ remainingCredits: 420, availableCredits: 420 });
    expect(await a.credits.grants(email)).toMatchObject([{ id: `opening:${email}`, amount: 420, remaining: 420, status: 'active' }]);
    expect((await a.reconciler.reconcile({ repair: false, full: true })).drifts).toEqual([]);

    const user = betaViewer(email);
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(10_000);
    await a.sessions.end(start.sessionId, 'user_stopped');
    expect(await a.credits.grants(email)).toMatchObject([{ id: `opening:${email}`, remaining: 410 }]);
    await expectExactBooks(a);
  });

  it('refuses bad grants with a specific error and changes nothing', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    const base = { email: user.email, key: key('bad'), reason: 'bad' };
    await expect(a.credits.grant({ ...base, amount: 0 })).rejects.toThrow('at least 1');
    await expect(a.credits.grant({ ...base, amount: -5 })).rejects.toThrow('adjustment');
    await expect(a.credits.grant({ ...base, amount: 1.5 })).rejects.toThrow('whole number');
    await expect(a.credits.grant({ ...base, amount: 5, priority: 101 })).rejects.toThrow('priority');
    await expect(a.credits.grant({ ...base, amount: 5, priority: -1 })).rejects.toThrow('priority');
    await expect(a.credits.grant({ ...base, amount: 5, expiresAt: new Date(clock.now()) })).rejects.toThrow('future');
    await a.credits.grant({ ...base, amount: 5 });
    await expect(a.credits.grant({ ...base, amount: 6 })).rejects.toThrow('already used');
    await expect(a.credits.grant({ ...base, amount: 5, priority: 3 })).rejects.toThrow('already used');
    expect((await a.credits.grant({ ...base, amount: 5 })).remaining).toBe(5);
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(105);
    await expectExactBooks(a);
  });
});

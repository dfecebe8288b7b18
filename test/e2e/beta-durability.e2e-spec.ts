import { jest } from '@jest/globals';
import { BetaAccountsRepository } from '../../src/beta/credits/beta-accounts.repository.js';
import { CreditLedgerRepository } from '../../src/beta/credits/credit-ledger.repository.js';
import { RECONCILE_OVERLAP_MS } from '../../src/beta/credits/credit-reconciler.service.js';
import { creditsForSeconds, chargeableSeconds } from '../../src/beta/credits/credit-math.js';
import { BetaSessionsRepository } from '../../src/beta/sessions/beta-sessions.repository.js';
import { betaViewer, expectExactBooks } from '../harness/beta-books.js';
import { startBetaContext, type BetaContext } from '../harness/beta-context.js';
import { testDatabaseUri } from '../harness/database.js';
import { ManualClock } from '../harness/manual-clock.js';

describe('Beta credits across instances and crashes', () => {
  const clock = new ManualClock();
  const databaseUri = testDatabaseUri('beta_durability');
  let a: BetaContext;
  let b: BetaContext;

  beforeAll(async () => {
    // Both contexts claim the same instance id, so both checkpoint the same sessions at once.
    a = await startBetaContext({ databaseUri, clock, instanceId: 'shared-owner' });
    b = await startBetaContext({ databaseUri, clock, instanceId: 'shared-owner' });
  });

  afterAll(async () => {
    await a.connection.dropDatabase();
    await Promise.all([a.close(), b.close()]);
  });

  it('charges every session exactly ceil(seconds) × rate when two instances checkpoint the same sessions for 10 minutes (I2, I3)', async () => {
    const users = Array.from({ length: 4 }, () => betaViewer());
    await Promise.all(users.map((user) => a.enrollment.enroll({ email: user.email, via: 'admin', credits: 5000 })));
    const started = [];
    for (const user of users) {
      for (let i = 0; i < 3; i++) {
        const start = await (i % 2 === 0 ? a : b).sessions.start(user);
        if (!start.ok) throw new Error('start refused');
        started.push({ id: start.sessionId, at: clock.now() });
        await clock.advance(1_300);
      }
    }
    for (let elapsed = 0; elapsed < 600_000; elapsed += 7_000) {
      await clock.advance(7_000);
      await Promise.all([a.checkpoint.tick(), b.checkpoint.tick(), a.checkpoint.tick()]);
    }
    await clock.advance(2_450);
    const endedAt = clock.now();
    await Promise.all(started.flatMap(({ id }) => [a.sessions.end(id, 'user_stopped'), b.sessions.end(id, 'user_stopped')]));
    for (const { id, at } of started) {
      const session = await a.sessions.find(id);
      expect({ id, charged: session?.charged_credits }).toEqual({
        id,
        charged: creditsForSeconds(chargeableSeconds(endedAt - at, true), 1),
      });
    }
    await expectExactBooks(a);
  }, 60_000);

  /**
   * A new viewer's session, 30 s in, whose checkpoint recorded its debit in the ledger and then died before the
   * account write: the debit is recorded, not applied.
   */
  async function crashCheckpointBeforeAccountWrite() {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin' });
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(30_000);
    const accounts = a.module.get(BetaAccountsRepository);
    const crash = jest.spyOn(accounts, 'writeMany').mockRejectedValueOnce(new Error('process died'));
    await expect(a.checkpoint.tick()).rejects.toThrow('process died');
    crash.mockRestore();
    return { user, sessionId: start.sessionId, accounts };
  }

  it('recovers exactly from a crash between the ledger write and the account write of a checkpoint', async () => {
    const { user, sessionId } = await crashCheckpointBeforeAccountWrite();
    expect(await a.connection.collection('beta_credit_transactions').countDocuments({ session_id: sessionId })).toBe(1);
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(500);
    await clock.advance(5_000);
    await b.checkpoint.tick();
    await clock.advance(10_000);
    expect(await b.sessions.end(sessionId, 'user_stopped')).toMatchObject({ sessionCharged: 45, remainingCredits: 455 });
    await expectExactBooks(a);
  });

  it('reconciles a debit a crash left unapplied without charging any time of its own, even on a stale read', async () => {
    const { user, sessionId, accounts } = await crashCheckpointBeforeAccountWrite();
    // The reconcile reads the account before the recorded debit is applied, and acts after it was: by then the time
    // since is the owner's to charge (or, for a suspended session, not to be charged at all), never the reconcile's.
    const stale = await accounts.findAll();
    await a.reconciler.reconcile({ repair: true, confirmMs: 10 });
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(470);
    await clock.advance(15_000);
    const staleRead = jest.spyOn(accounts, 'findAll').mockResolvedValueOnce(stale);
    await a.reconciler.reconcile({ repair: true, confirmMs: 10 });
    staleRead.mockRestore();
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(470);
    expect(await a.connection.collection('beta_credit_transactions').countDocuments({ session_id: sessionId })).toBe(1);
    expect(await a.sessions.end(sessionId, 'user_stopped')).toMatchObject({ sessionCharged: 45, remainingCredits: 455 });
    await expectExactBooks(a);
  });

  it('recovers exactly from a crash between the account write and the session write of a checkpoint', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin' });
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(30_000);
    const sessions = a.module.get(BetaSessionsRepository);
    const crash = jest.spyOn(sessions, 'recordProgress').mockRejectedValueOnce(new Error('process died'));
    await expect(a.checkpoint.tick()).rejects.toThrow('process died');
    crash.mockRestore();
    await a.checkpoint.tick();
    await clock.advance(9_500);
    expect(await a.sessions.end(start.sessionId, 'user_stopped')).toMatchObject({ sessionCharged: 40, remainingCredits: 460 });
    await expectExactBooks(a);
  });

  it('recovers exactly from a crash between the final charge and marking the session ended', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin' });
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(12_200);
    const sessions = a.module.get(BetaSessionsRepository);
    const crash = jest.spyOn(sessions, 'markEnded').mockRejectedValueOnce(new Error('process died'));
    await expect(a.sessions.end(start.sessionId, 'user_stopped')).rejects.toThrow('process died');
    crash.mockRestore();
    expect(await a.credits.balance(user.email)).toMatchObject({ remainingCredits: 487, heldCredits: 0 });
    await clock.advance(60_000);
    expect(await a.sessions.end(start.sessionId, 'user_stopped')).toMatchObject({ sessionCharged: 13, remainingCredits: 487, ended: true });
    await expectExactBooks(a);
  });

  it('recovers exactly from a crash between the ledger write and the account write of a final charge', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin' });
    const start = await a.sessions.start(user);
    if (!start.ok) throw new Error('start refused');
    await clock.advance(20_500);
    const stoppedAt = clock.now();
    const accounts = a.module.get(BetaAccountsRepository);
    const crash = jest.spyOn(accounts, 'write').mockRejectedValueOnce(new Error('process died'));
    await expect(a.sessions.end(start.sessionId, 'user_stopped', stoppedAt)).rejects.toThrow('process died');
    crash.mockRestore();
    await a.reconciler.reconcile({ repair: true, confirmMs: 10 });
    await clock.advance(60_000);
    // The retry ends the session at the time the user stopped, as the first attempt did.
    expect(await a.sessions.end(start.sessionId, 'user_stopped', stoppedAt)).toMatchObject({ sessionCharged: 21, remainingCredits: 479 });
    await expectExactBooks(a);
  });

  it('recovers exactly from a crash between the ledger write and the account write of a grant', async () => {
    const user = betaViewer();
    const accounts = a.module.get(BetaAccountsRepository);
    const crash = jest.spyOn(accounts, 'write').mockRejectedValueOnce(new Error('process died'));
    await expect(a.enrollment.enroll({ email: user.email, via: 'admin' })).rejects.toThrow('process died');
    crash.mockRestore();
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(0);
    expect((await a.enrollment.enroll({ email: user.email, via: 'admin' })).balance.remainingCredits).toBe(500);
    await expectExactBooks(a);
  });

  it('applies a grant and a removal a crash recorded but did not apply exactly once: by the next change, and by reconcile', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    const ledger = a.module.get(CreditLedgerRepository);
    const crashedChange = async (key: string, amount: number) => {
      const account = await a.credits.account(user.email);
      await ledger.appendChange({
        _id: `${key}:${user.email}`,
        email: user.email,
        type: 'adjustment',
        amount,
        reason: 'crashed',
        created_at: clock.date(),
        account_seq: account!.applied_seq + 1,
        // As the service records them: an addition is a grant of the default priority, a removal names its grants.
        ...(amount > 0 ? { priority: 10 } : { takes: [{ grant: `enrollment:${user.email}`, amount: -amount }] }),
      });
    };
    await crashedChange('crashed-grant', 40);
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(100);
    const next = { email: user.email, amount: 5, key: `next:${user.email}`, type: 'adjustment' as const, reason: 'next' };
    expect((await b.credits.change(next)).remainingCredits).toBe(145);
    expect((await a.credits.change(next)).remainingCredits).toBe(145);
    await crashedChange('crashed-removal', -30);
    expect(await a.reconciler.reconcile({ repair: true, confirmMs: 10 })).toMatchObject({ drifts: [], repaired: 0 });
    expect(await b.reconciler.reconcile({ repair: true, confirmMs: 10 })).toMatchObject({ drifts: [], repaired: 0 });
    expect((await a.credits.balance(user.email)).remainingCredits).toBe(115);
    const replay = { email: user.email, amount: 40, key: `crashed-grant:${user.email}`, type: 'adjustment' as const, reason: 'crashed' };
    expect((await b.credits.change(replay)).remainingCredits).toBe(115);
    await expectExactBooks(a);
  });

  it('records the reversal of a removal that lost its race exactly once after a crash before the reversal entry was written', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin', credits: 100 });
    const ledger = a.module.get(CreditLedgerRepository);
    const insert = ledger.appendChange.bind(ledger);
    let sessionId = '';
    const race = jest.spyOn(ledger, 'appendChange').mockImplementationOnce(async (entry) => {
      const start = await a.sessions.start(user);
      if (start.ok) sessionId = start.sessionId;
      return insert(entry);
    });
    const crash = jest.spyOn(ledger, 'append').mockRejectedValueOnce(new Error('process died'));
    const removal = { email: user.email, amount: -50, key: `chargeback:${user.email}`, type: 'adjustment' as const, reason: 'chargeback' };
    await expect(a.credits.change(removal)).rejects.toThrow('process died');
    race.mockRestore();
    crash.mockRestore();
    expect(await a.connection.collection('beta_credit_transactions').countDocuments({ email: user.email })).toBe(2);
    expect(await a.reconciler.reconcile({ repair: true, confirmMs: 10 })).toMatchObject({ drifts: [], repaired: 0 });
    await expect(b.credits.change(removal)).rejects.toMatchObject({ code: 'insufficient_credits', details: { available_credits: 40 } });
    const entries = await a.connection.collection('beta_credit_transactions').find({ email: user.email }).toArray();
    expect(entries.map((entry) => entry.amount).sort((x, y) => x - y)).toEqual([-50, 50, 100]);
    await a.sessions.end(sessionId, 'user_stopped');
    expect(await a.credits.balance(user.email)).toMatchObject({ remainingCredits: 100, heldCredits: 0 });
    await expectExactBooks(a);
  });

  it('reports no drift after all of the above, and finds and repairs a drift planted by hand', async () => {
    expect((await a.reconciler.reconcile({ repair: true, confirmMs: 10 })).drifts).toEqual([]);
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin' });
    await a.connection.collection('beta_credits').updateOne({ _id: user.email as never }, { $inc: { total_debited: 37, held: 5 } });
    const report = await a.reconciler.reconcile({ repair: true, confirmMs: 10 });
    expect(report.drifts).toEqual([
      { email: user.email, field: 'remaining', expected: 500, actual: 463 },
      { email: user.email, field: 'held', expected: 0, actual: 5 },
    ]);
    expect(report.repaired).toBe(1);
    expect(await a.credits.balance(user.email)).toMatchObject({ remainingCredits: 500, heldCredits: 0 });
    expect((await a.reconciler.reconcile({ repair: false })).drifts).toEqual([]);
  });

  it('reconciles only the accounts changed since its last run (and those with sessions), and every account with full', async () => {
    const untouched = betaViewer();
    await a.enrollment.enroll({ email: untouched.email, via: 'admin' });
    const everyAccount = await a.connection.collection('beta_credits').countDocuments();
    expect(await a.reconciler.reconcile({ repair: true, confirmMs: 10, full: true })).toMatchObject({
      scope: 'full',
      accounts: everyAccount,
      drifts: [],
    });
    // The next run reads what changed since shortly before this one began: nothing, by then.
    await clock.advance(RECONCILE_OVERLAP_MS + 1000);
    expect(await a.reconciler.reconcile({ repair: true, confirmMs: 10, full: true })).toMatchObject({ drifts: [] });
    await clock.advance(RECONCILE_OVERLAP_MS + 1000);
    const withSessions = await a.connection.collection('beta_credits').countDocuments({ active_sessions: { $gt: 0 } });
    expect(await a.reconciler.reconcile({ repair: true, confirmMs: 10 })).toMatchObject({
      scope: 'incremental',
      accounts: withSessions,
      drifts: [],
    });

    // One account gets a grant; another, untouched by the application, is changed by hand.
    await clock.advance(RECONCILE_OVERLAP_MS + 1000);
    const granted = betaViewer();
    await a.enrollment.enroll({ email: granted.email, via: 'admin' });
    await a.connection.collection('beta_credits').updateOne({ _id: untouched.email as never }, { $inc: { total_debited: 3 } });
    expect(await a.reconciler.reconcile({ repair: true, confirmMs: 10 })).toMatchObject({
      scope: 'incremental',
      accounts: withSessions + 1,
      drifts: [],
    });
    const full = await a.reconciler.reconcile({ repair: true, confirmMs: 10, full: true });
    expect(full).toMatchObject({ scope: 'full', accounts: everyAccount + 1, repaired: 1 });
    expect(full.drifts).toEqual([{ email: untouched.email, field: 'remaining', expected: 500, actual: 497 }]);
    expect((await a.reconciler.reconcile({ repair: false, full: true })).drifts).toEqual([]);
  });

  it('never repairs a balance below 0: a drift the ledger cannot cover is reported, not written', async () => {
    const user = betaViewer();
    await a.enrollment.enroll({ email: user.email, via: 'admin' });
    // An account granted its enrolment twice (a forgotten key), then spent beyond what the ledger grants.
    await a.connection
      .collection('beta_credits')
      .updateOne({ _id: user.email as never }, { $inc: { total_granted: 500, 'grants.0.remaining': 500 } });
    await a.credits.change({ email: user.email, amount: -800, key: `spent:${user.email}`, type: 'adjustment', reason: 'spent' });
    const report = await a.reconciler.reconcile({ repair: true, confirmMs: 10 });
    expect(report).toMatchObject({
      drifts: [
        { email: user.email, field: 'remaining', expected: -300, actual: 200 },
        { email: user.email, field: `grant:enrollment:${user.email}`, expected: -300, actual: 200 },
      ],
      repaired: 0,
    });
    expect(await a.credits.balance(user.email)).toMatchObject({ remainingCredits: 200, availableCredits: 200 });
    await a.connection.collection('beta_credits').deleteOne({ _id: user.email as never });
    await a.connection.collection('beta_credit_transactions').deleteMany({ email: user.email });
  });
});

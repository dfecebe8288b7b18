import { jest } from '@jest/globals';
import { CreditCheckpointService } from '../../src/beta/checkpoint/credit-checkpoint.service.js';
import { BetaAccountsRepository } from '../../src/beta/credits/beta-accounts.repository.js';
import { betaViewer, expectExactBooks } from '../harness/beta-books.js';
import { startBetaContext, type BetaContext } from '../harness/beta-context.js';
import { testDatabaseUri } from '../harness/database.js';
import { ManualClock } from '../harness/manual-clock.js';

const VIEWERS = 20;

describe(CreditCheckpointService.name, () => {
  const clock = new ManualClock();
  let ctx: BetaContext;

  beforeEach(async () => {
    ctx = await startBetaContext({ databaseUri: testDatabaseUri('beta_checkpoint_batch'), clock });
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await ctx.connection.dropDatabase();
    await ctx.close();
  });

  async function startViewers(): Promise<{ email: string; sessionId: string }[]> {
    const viewers = Array.from({ length: VIEWERS }, () => betaViewer());
    return Promise.all(
      viewers.map(async (viewer) => {
        await ctx.enrollment.enroll({ email: viewer.email, via: 'admin' });
        const start = await ctx.sessions.start(viewer);
        if (!start.ok) throw new Error('start refused');
        return { email: viewer.email, sessionId: start.sessionId };
      }),
    );
  }

  async function debitsBySession(): Promise<Map<string, number[]>> {
    const entries = await ctx.connection.collection('beta_credit_transactions').find({ type: 'debit' }).toArray();
    const debits = new Map<string, number[]>();
    for (const entry of entries) {
      debits.set(entry.session_id, [...(debits.get(entry.session_id) ?? []), -entry.amount]);
    }
    return debits;
  }

  it('charges each session of a batch once however often ticks run at the same instant, at once or in turn', async () => {
    const started = await startViewers();
    await clock.advance(30_000);
    await Promise.all([ctx.checkpoint.tick(), ctx.checkpoint.tick()]);
    await ctx.checkpoint.tick();
    const debits = await debitsBySession();
    expect(started.map(({ sessionId }) => debits.get(sessionId))).toEqual(started.map(() => [30]));
    expect(await ctx.connection.collection('beta_sessions').countDocuments({ charged_credits: 30, charged_seconds: 30 })).toBe(VIEWERS);
    await expectExactBooks(ctx);
  });

  it('settles again, one by one, exactly the accounts whose compare-and-set in the batch lost a race', async () => {
    const started = await startViewers();
    const granted = started.filter((_, i) => i % 2 === 0).map(({ email }) => email);
    await clock.advance(30_000);
    const accounts = ctx.module.get(BetaAccountsRepository);
    const read = accounts.findWithActiveSessions.bind(accounts);
    // Grants land between the tick's read of the accounts and its batched write: those writes must lose.
    jest.spyOn(accounts, 'findWithActiveSessions').mockImplementationOnce(async () => {
      const snapshot = await read();
      await Promise.all(granted.map((email) => ctx.credits.change({ email, amount: 100, key: `race:${email}`, type: 'grant' })));
      return snapshot;
    });
    const settle = jest.spyOn(ctx.credits, 'settle');

    expect(await ctx.checkpoint.tick()).toMatchObject({ checkpointed: VIEWERS, ended: 0 });

    expect(settle.mock.calls.map(([email]) => email).sort()).toEqual([...granted].sort());
    const debits = await debitsBySession();
    expect(started.map(({ sessionId }) => debits.get(sessionId))).toEqual(started.map(() => [30]));
    for (const { email } of started) {
      expect({ email, ...(await ctx.credits.balance(email)) }).toMatchObject({
        email,
        remainingCredits: granted.includes(email) ? 570 : 470,
        heldCredits: 60,
      });
    }
    await expectExactBooks(ctx);
  });

  it('adopts the debits a crashed tick recorded for its whole batch and charges each second once', async () => {
    const started = await startViewers();
    await clock.advance(30_000);
    const accounts = ctx.module.get(BetaAccountsRepository);
    jest.spyOn(accounts, 'writeMany').mockRejectedValueOnce(new Error('process died'));
    await expect(ctx.checkpoint.tick()).rejects.toThrow('process died');
    await clock.advance(15_000);

    expect(await ctx.checkpoint.tick()).toMatchObject({ checkpointed: VIEWERS });

    await clock.advance(4_200);
    const ended = await Promise.all(started.map(({ sessionId }) => ctx.sessions.end(sessionId, 'user_stopped')));
    expect(ended.map(({ sessionCharged, remainingCredits }) => ({ sessionCharged, remainingCredits }))).toEqual(
      started.map(() => ({ sessionCharged: 50, remainingCredits: 450 })),
    );
    const debits = await debitsBySession();
    expect(started.map(({ sessionId }) => debits.get(sessionId)!.reduce((sum, amount) => sum + amount, 0))).toEqual(started.map(() => 50));
    await expectExactBooks(ctx);
  });
});

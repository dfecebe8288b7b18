import { randomBytes } from 'node:crypto';
import type { BetaContext } from './beta-context.js';
import { uniqueEmail } from './factories.js';

export function betaViewer(email = uniqueEmail()): { id: string; email: string } {
  return { id: randomBytes(12).toString('hex'), email };
}

/**
 * The books are exact: each balance is the ledger's replay, never below 0, and the sum of its grants' remainders, none
 * below 0; each ended session's charge is its debits; and reconcile (which replays each grant) finds no drift.
 */
export async function expectExactBooks(ctx: Pick<BetaContext, 'connection' | 'reconciler'>): Promise<void> {
  const entries = await ctx.connection.collection('beta_credit_transactions').find().toArray();
  const accounts = await ctx.connection.collection('beta_credits').find().toArray();
  for (const account of accounts) {
    const replay = entries.filter((entry) => entry.email === account._id).reduce((sum, entry) => sum + entry.amount, 0);
    expect({ email: account._id, remaining: account.total_granted - account.total_debited }).toEqual({
      email: account._id,
      remaining: replay,
    });
    expect(account.total_granted - account.total_debited - account.held).toBeGreaterThanOrEqual(0);
    if (account.grants !== undefined) {
      const grants = account.grants as { id: string; remaining: number }[];
      expect({ email: account._id, remaining: grants.reduce((sum, grant) => sum + grant.remaining, 0) }).toEqual({
        email: account._id,
        remaining: replay,
      });
      expect(grants.filter((grant) => grant.remaining < 0)).toEqual([]);
    }
  }
  const sessions = await ctx.connection.collection('beta_sessions').find({ status: 'ended' }).toArray();
  for (const session of sessions) {
    const debited = 0 - entries.filter((entry) => entry.session_id === session._id).reduce((sum, entry) => sum + entry.amount, 0);
    expect({ session: session._id, charged: session.charged_credits }).toEqual({ session: session._id, charged: debited });
  }
  expect((await ctx.reconciler.reconcile({ repair: false })).drifts).toEqual([]);
}

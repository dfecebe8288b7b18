import {
  applyRecordedChange,
  availableCredits,
  chargeableSeconds,
  creditsForSeconds,
  debitKey,
  paidUntil,
  planSettlement,
  reachesBalanceAt,
  secondsCoveredBy,
  type AccountCredit,
  type RecordedChange,
  type SessionCredit,
} from './credit-math.js';

const T0 = 1_000_000;

/** A session whose hold is on the one grant `g` of `account`. */
function session(overrides: Partial<SessionCredit> = {}): SessionCredit {
  const hold = overrides.hold ?? 60;
  return {
    seq: 0,
    hold,
    holds: hold > 0 ? [{ grant: 'g', amount: hold }] : [],
    charged: 0,
    started_at: T0,
    rate: 1,
    hold_target: 60,
    ...overrides,
  };
}

/** An account whose balance is all on one grant `g` that never expires. */
function account(sessions: Record<string, SessionCredit>, overrides: Partial<AccountCredit> = {}): AccountCredit {
  const held = Object.values(sessions).reduce((sum, s) => sum + s.hold, 0);
  const totals = { total_granted: 500, total_debited: 0, ...overrides };
  const grant = {
    id: 'g',
    amount: totals.total_granted,
    remaining: totals.total_granted - totals.total_debited,
    priority: 10,
    created_at: 0,
  };
  return { held, sessions, grants: [grant], ...totals };
}

function recorded(amount: number): RecordedChange {
  return { _id: 'k', amount, created_at: new Date(T0), ...(amount > 0 ? { priority: 10 } : {}) };
}

describe(creditsForSeconds.name, () => {
  it.each([
    [0, 1, 0],
    [30, 1, 30],
    [3, 0.5, 2],
    [4, 0.5, 2],
    [3, 0.1, 1],
    [10, 0.1, 1],
    [7, 2, 14],
  ])('charges %i s at %f credits/s as %i credits', (seconds, rate, credits) => {
    expect(creditsForSeconds(seconds, rate)).toBe(credits);
  });
});

describe(chargeableSeconds.name, () => {
  it('counts completed seconds at a checkpoint and started seconds at the end', () => {
    expect(chargeableSeconds(30_400, false)).toBe(30);
    expect(chargeableSeconds(30_400, true)).toBe(31);
    expect(chargeableSeconds(30_000, true)).toBe(30);
    expect(chargeableSeconds(-5, true)).toBe(0);
  });
});

describe(secondsCoveredBy.name, () => {
  it.each([
    [60, 1, 60],
    [5, 0.5, 10],
    [0, 1, 0],
    [7, 2, 3],
  ])('%i credits at %f credits/s pay for %i s', (credits, rate, seconds) => {
    expect(secondsCoveredBy(credits, rate)).toBe(seconds);
  });
});

describe(planSettlement.name, () => {
  it('debits completed seconds from the hold and tops the hold back up', () => {
    const plan = planSettlement(account({ s1: session() }), ['s1'], T0 + 30_700, new Set());
    expect(plan.debits).toEqual([
      {
        key: debitKey('s1', 1),
        sessionId: 's1',
        seq: 1,
        amount: 30,
        chargedSeconds: 30,
        takes: [{ grant: 'g', amount: 30 }],
        until: T0 + 30_700,
      },
    ]);
    expect(plan.account.sessions.s1).toMatchObject({ seq: 1, hold: 60, charged: 30 });
    expect(plan.account).toMatchObject({ total_debited: 30, held: 60 });
    expect(availableCredits(plan.account, T0)).toBe(410);
  });

  it('charges every started second at the end and releases the hold', () => {
    const plan = planSettlement(
      account({ s1: session({ seq: 1, charged: 30, hold: 60 }) }, { total_debited: 30 }),
      ['s1'],
      T0 + 45_200,
      new Set(['s1']),
    );
    expect(plan.debits.map((d) => d.amount)).toEqual([16]);
    expect(plan.closed).toEqual(['s1']);
    expect(plan.account).toMatchObject({ total_debited: 46, held: 0, sessions: {} });
  });

  it('renews only what is available and reports the session exhausted when nothing is left', () => {
    const start = account({ s1: session({ hold: 60 }) }, { total_granted: 70 });
    const first = planSettlement(start, ['s1'], T0 + 30_000, new Set());
    expect(first.account.sessions.s1).toMatchObject({ charged: 30, hold: 40 });
    const second = planSettlement(first.account, ['s1'], T0 + 70_000, new Set());
    expect(second.account.sessions.s1).toMatchObject({ charged: 70, hold: 0 });
    expect(second.exhausted).toEqual(['s1']);
    expect(availableCredits(second.account, T0)).toBe(0);
  });

  it('never charges more than the balance allowed, however long the session ran', () => {
    const plan = planSettlement(account({ s1: session({ hold: 50 }) }, { total_granted: 50 }), ['s1'], T0 + 600_000, new Set(['s1']));
    expect(plan.account.total_debited).toBe(50);
    expect(plan.account.held).toBe(0);
  });

  it('takes more from the available balance at the end when the hold does not cover the last seconds', () => {
    const plan = planSettlement(account({ s1: session({ hold: 10 }) }, { total_granted: 100 }), ['s1'], T0 + 25_000, new Set(['s1']));
    expect(plan.debits.map((d) => d.amount)).toEqual([10, 15]);
    expect(plan.account.total_debited).toBe(25);
  });

  it('applies an adopted debit amount fixed by an earlier attempt instead of recomputing it', () => {
    const plan = planSettlement(account({ s1: session() }), ['s1'], T0 + 40_000, new Set(), new Map([[debitKey('s1', 1), { amount: 30 }]]));
    expect(plan.debits[0]).toMatchObject({ key: debitKey('s1', 1), amount: 30 });
    expect(plan.account.sessions.s1.charged).toBe(30);
  });

  it('settles several sessions of one account against the same available balance', () => {
    const plan = planSettlement(account({ a: session(), b: session() }, { total_granted: 150 }), ['a', 'b'], T0 + 30_000, new Set());
    expect(plan.account.total_debited).toBe(60);
    expect(plan.account.sessions.a.hold + plan.account.sessions.b.hold).toBe(90);
    expect(availableCredits(plan.account, T0)).toBe(0);
  });

  it('leaves an unchanged session unchanged', () => {
    const plan = planSettlement(account({ s1: session() }), ['s1'], T0 + 500, new Set());
    expect(plan.changed).toBe(false);
    expect(plan.debits).toEqual([]);
  });

  it('charges at a fractional rate rounding up to whole credits over the whole session', () => {
    const half = session({ rate: 0.5, hold: 30, hold_target: 30 });
    const checkpoint = planSettlement(account({ s1: half }), ['s1'], T0 + 3_000, new Set());
    const end = planSettlement(checkpoint.account, ['s1'], T0 + 4_500, new Set(['s1']));
    expect([...checkpoint.debits, ...end.debits].reduce((sum, d) => sum + d.amount, 0)).toBe(creditsForSeconds(5, 0.5));
  });
});

describe(paidUntil.name, () => {
  it('is the start plus the seconds paid by the charged and held credits', () => {
    expect(paidUntil(session({ charged: 30, hold: 5 }))).toBe(T0 + 35_000);
  });
});

describe(reachesBalanceAt.name, () => {
  it('is when the running balance first drops to the threshold', () => {
    expect(reachesBalanceAt(session({ charged: 0 }), 100, 20)).toBe(T0 + 80_000);
    expect(reachesBalanceAt(session({ charged: 30 }), 70, 50)).toBe(T0 + 50_000);
  });

  it('is immediate when the balance is already at or below the threshold', () => {
    expect(reachesBalanceAt(session(), 20, 25)).toBe(T0);
  });
});

describe(applyRecordedChange.name, () => {
  it('adds a grant to the granted total, as a grant of its own', () => {
    const { account: next, reversed } = applyRecordedChange(account({}), recorded(40), T0);
    expect(reversed).toBe(false);
    expect(next.total_granted).toBe(540);
    expect(next.grants).toContainEqual({ id: 'k', amount: 40, remaining: 40, priority: 10, created_at: T0 });
  });

  it('debits a removal the available balance covers', () => {
    const held = account({ a: session({ hold: 60 }) });
    const { account: next } = applyRecordedChange(held, recorded(-440), T0);
    expect(next).toMatchObject({ total_debited: 440, grants: [{ id: 'g', remaining: 60 }] });
  });

  it('applies a removal the available balance no longer covers together with its reversal: net zero', () => {
    const held = account({ a: session({ hold: 60 }) });
    const { account: next, reversed } = applyRecordedChange(held, recorded(-441), T0);
    expect(reversed).toBe(true);
    expect(next).toEqual({ ...held, total_granted: 941, total_debited: 441 });
    expect(availableCredits(next, T0)).toBe(availableCredits(held, T0));
  });
});

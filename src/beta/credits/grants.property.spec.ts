import { SeededRandom } from '../../../test/harness/seeded-random.js';
import { grantChanges, type LedgerEntry } from './credit-ledger.repository.js';
import {
  applyRecordedChange,
  availableCredits,
  planExpiry,
  planSettlement,
  type AccountCredit,
  type PlannedDebit,
  type RecordedChange,
} from './credit-math.js';
import { compareBurnDown, freeByGrant, heldByGrant, isExpired, takeFree, type GrantCredit, type GrantPart } from './grants.js';

const TRIALS = 400;
const STEPS = 60;
const EMAIL = 'viewer@example.com';

/**
 * Random grants, sessions, removals, expiries and clocks against the pure grant arithmetic (docs/credits.md,
 * "Grants"). After every step: no grant below 0, the grants sum to the balance, the holds sum to what is held and fit
 * their grants, no debit takes from a grant for time after its expiry, every hold and removal is taken in burn-down
 * order, and replaying the ledger gives each grant's remainder.
 */
describe('grant arithmetic, property-tested', () => {
  it(`keeps every invariant over ${TRIALS} seeded trials of ${STEPS} steps`, () => {
    for (let seed = 1; seed <= TRIALS; seed++) {
      const problem = runTrial(seed);
      if (problem !== undefined) {
        throw new Error(`seed ${seed}: ${problem}`);
      }
    }
  });
});

interface Trial {
  random: SeededRandom;
  now: number;
  account: AccountCredit;
  ledger: Pick<LedgerEntry, '_id' | 'email' | 'amount' | 'takes' | 'priority'>[];
  nextId: number;
}

function runTrial(seed: number): string | undefined {
  const random = new SeededRandom(seed);
  const trial: Trial = {
    random,
    now: 1_000_000,
    account: { total_granted: 0, total_debited: 0, held: 0, sessions: {}, grants: [] },
    ledger: [],
    nextId: 1,
  };
  addGrant(trial);
  for (let step = 0; step < STEPS; step++) {
    trial.now += random.int(0, 20_000);
    const action = random.int(0, 9);
    let problem: string | undefined;
    if (action <= 1) {
      addGrant(trial);
    } else if (action <= 3) {
      problem = startSession(trial);
    } else if (action <= 6) {
      problem = settle(trial, random.chance(0.25));
    } else if (action === 7) {
      problem = removal(trial);
    } else {
      expire(trial);
    }
    problem ??= checkInvariants(trial);
    if (problem !== undefined) {
      return `step ${step}: ${problem}`;
    }
  }
  return undefined;
}

function addGrant(trial: Trial): void {
  const { random } = trial;
  const entry: RecordedChange = {
    _id: `g${trial.nextId++}`,
    amount: random.int(1, 150),
    priority: random.pick([0, 5, 10, 10, 50]),
    created_at: new Date(trial.now),
    ...(random.chance(0.5) ? { expires_at: new Date(trial.now + random.int(1_000, 120_000)) } : {}),
  };
  trial.account = applyRecordedChange(trial.account, entry, trial.now).account;
  trial.ledger.push({ _id: entry._id, email: EMAIL, amount: entry.amount, priority: entry.priority });
}

function startSession(trial: Trial): string | undefined {
  const estimate = trial.random.int(5, 60);
  if (availableCredits(trial.account, trial.now) < estimate) {
    return undefined;
  }
  const holds = takeFree(trial.account.grants, trial.account.sessions, estimate, trial.now);
  const problem = checkOrder(trial, holds, freeByGrant(trial.account.grants, trial.account.sessions), 'hold');
  const id = `s${trial.nextId++}`;
  trial.account = {
    ...trial.account,
    held: trial.account.held + estimate,
    sessions: {
      ...trial.account.sessions,
      [id]: {
        seq: 0,
        hold: estimate,
        holds,
        charged: 0,
        started_at: trial.now,
        rate: trial.random.pick([1, 0.5, 2]),
        hold_target: estimate,
      },
    },
  };
  return problem;
}

function settle(trial: Trial, final: boolean): string | undefined {
  const ids = Object.keys(trial.account.sessions);
  if (ids.length === 0) {
    return undefined;
  }
  const chosen = ids.filter(() => trial.random.chance(0.6));
  const plan = planSettlement(trial.account, chosen, trial.now, new Set(final ? chosen : []));
  const problem = checkDebits(trial, plan.debits);
  trial.account = plan.account;
  for (const debit of plan.debits) {
    trial.ledger.push({ _id: debit.key, email: EMAIL, amount: -debit.amount, takes: debit.takes });
  }
  return problem;
}

/** A removal recorded on a state a few steps old (a hold may have taken its credits since): applied or reversed. */
function removal(trial: Trial): string | undefined {
  const available = availableCredits(trial.account, trial.now);
  if (available === 0) {
    return undefined;
  }
  const amount = trial.random.int(1, available);
  const takes = takeFree(trial.account.grants, trial.account.sessions, amount, trial.now);
  const problem = checkOrder(trial, takes, freeByGrant(trial.account.grants, trial.account.sessions), 'removal');
  if (trial.random.chance(0.5)) {
    settle(trial, false);
  }
  const entry: RecordedChange = { _id: `r${trial.nextId++}`, amount: -amount, takes, created_at: new Date(trial.now) };
  const { account, reversed } = applyRecordedChange(trial.account, entry, trial.now);
  trial.account = account;
  trial.ledger.push({ _id: entry._id, email: EMAIL, amount: -amount, takes });
  if (reversed) {
    trial.ledger.push({ _id: `reversal:${entry._id}`, email: EMAIL, amount, takes });
  }
  return problem;
}

function expire(trial: Trial): void {
  const plan = planExpiry(trial.account, trial.now);
  if (plan === undefined) {
    return;
  }
  const written = plan.writeOffs.reduce((sum, part) => sum + part.amount, 0);
  trial.account = { ...plan.account, total_debited: trial.account.total_debited + written };
  for (const part of plan.writeOffs) {
    trial.ledger.push({ _id: `expiry:${part.grant}`, email: EMAIL, amount: -part.amount, takes: [part] });
  }
}

/** A take in burn-down order leaves no free credit on an unexpired grant that comes before the last grant it took from. */
function checkOrder(trial: Trial, parts: GrantPart[], free: Map<string, number>, what: string): string | undefined {
  if (parts.length === 0) {
    return undefined;
  }
  const byId = new Map(trial.account.grants.map((grant) => [grant.id, grant]));
  const last = byId.get(parts.at(-1)!.grant)!;
  const taken = new Map(parts.map((part) => [part.grant, part.amount]));
  for (const grant of trial.account.grants) {
    if (!isExpired(grant, trial.now) && compareBurnDown(grant, last) < 0 && (free.get(grant.id) ?? 0) > (taken.get(grant.id) ?? 0)) {
      return `${what} took ${last.id} while ${grant.id}, before it, had free credits`;
    }
  }
  return undefined;
}

function checkDebits(trial: Trial, debits: PlannedDebit[]): string | undefined {
  const byId = new Map(trial.account.grants.map((grant) => [grant.id, grant]));
  for (const debit of debits) {
    const total = debit.takes.reduce((sum, part) => sum + part.amount, 0);
    if (total !== debit.amount) {
      return `debit ${debit.key} of ${debit.amount} takes ${total}`;
    }
    for (const part of debit.takes) {
      const grant = byId.get(part.grant);
      if (grant?.expires_at !== undefined && debit.until > grant.expires_at) {
        return `debit ${debit.key} charges up to ${debit.until} from ${grant.id}, expired at ${grant.expires_at}`;
      }
    }
  }
  return undefined;
}

function checkInvariants(trial: Trial): string | undefined {
  const { account } = trial;
  const balance = account.total_granted - account.total_debited;
  const sum = account.grants.reduce((total, grant) => total + grant.remaining, 0);
  if (sum !== balance) {
    return `grants sum to ${sum}, balance ${balance}`;
  }
  const negative = account.grants.find((grant) => grant.remaining < 0);
  if (negative !== undefined) {
    return `grant ${negative.id} below 0: ${negative.remaining}`;
  }
  const sessions = Object.entries(account.sessions);
  const held = sessions.reduce((total, [, session]) => total + session.hold, 0);
  if (held !== account.held) {
    return `held ${account.held}, sessions hold ${held}`;
  }
  for (const [id, session] of sessions) {
    const parts = (session.holds ?? []).reduce((total, part) => total + part.amount, 0);
    if (parts !== session.hold) {
      return `session ${id} holds ${session.hold} on parts of ${parts}`;
    }
  }
  const grants = new Map<string, GrantCredit>(account.grants.map((grant) => [grant.id, grant]));
  for (const [grant, amount] of heldByGrant(account.sessions)) {
    if (amount > (grants.get(grant)?.remaining ?? 0)) {
      return `sessions hold ${amount} of ${grant}, which has ${grants.get(grant)?.remaining ?? 0}`;
    }
  }
  const replay = new Map<string, number>();
  for (const entry of trial.ledger) {
    for (const [grant, change] of grantChanges(entry)) {
      replay.set(grant, (replay.get(grant) ?? 0) + change);
    }
  }
  for (const id of new Set([...replay.keys(), ...grants.keys()])) {
    if ((replay.get(id) ?? 0) !== (grants.get(id)?.remaining ?? 0)) {
      return `grant ${id}: ledger replays ${replay.get(id) ?? 0}, account has ${grants.get(id)?.remaining ?? 0}`;
    }
  }
  return undefined;
}

/**
 * Pure grant arithmetic (docs/credits.md, "Grants"). A balance is the sum of its grants' remainders. Every debit
 * and every removal burns grants down in one fixed order: priority (lower first), then earliest expiry (none last),
 * then oldest. A session's hold is itself taken from grants in that order, and a debit spends the hold it has, so a
 * debit recorded in the ledger (with the grants it takes from) always fits the account it is applied to.
 */

export const DEFAULT_GRANT_PRIORITY = 10;
export const MAX_GRANT_PRIORITY = 100;

export interface GrantCredit {
  /** The ledger key of the grant (or positive adjustment) that created it. */
  id: string;
  amount: number;
  /** Unspent credits, what sessions hold of it included. */
  remaining: number;
  priority: number;
  /** Epoch ms; none: never expires. */
  expires_at?: number;
  /** Epoch ms: the last tie-break, oldest first. */
  created_at: number;
}

/** Credits taken from (or held on) one grant. */
export interface GrantPart {
  grant: string;
  amount: number;
}

/** Which grants a session's hold is on; the parts sum to the hold. */
export interface HeldParts {
  holds?: GrantPart[];
}

/** The credits of some parts, together. */
export function sumParts(parts: GrantPart[]): number {
  return parts.reduce((sum, part) => sum + part.amount, 0);
}

/** The grant that accounts from before grants keep their whole balance on (docs/credits.md, "Grants"). */
export function openingGrantId(email: string): string {
  return `opening:${email}`;
}

export function compareBurnDown(a: GrantCredit, b: GrantCredit): number {
  return (
    a.priority - b.priority ||
    (a.expires_at ?? Number.POSITIVE_INFINITY) - (b.expires_at ?? Number.POSITIVE_INFINITY) ||
    a.created_at - b.created_at ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export function isExpired(grant: Pick<GrantCredit, 'expires_at'>, at: number): boolean {
  return grant.expires_at !== undefined && grant.expires_at <= at;
}

/** Credits the sessions hold on each grant. */
export function heldByGrant(sessions: Record<string, HeldParts>): Map<string, number> {
  const held = new Map<string, number>();
  for (const session of Object.values(sessions)) {
    for (const part of session.holds ?? []) {
      held.set(part.grant, (held.get(part.grant) ?? 0) + part.amount);
    }
  }
  return held;
}

/** Credits of unexpired grants that no session holds: what a new hold or a removal may take. */
export function freeCredits(grants: GrantCredit[], sessions: Record<string, HeldParts>, at: number): number {
  const held = heldByGrant(sessions);
  let free = 0;
  for (const grant of grants) {
    if (!isExpired(grant, at)) {
      free += grant.remaining - (held.get(grant.id) ?? 0);
    }
  }
  return free;
}

/**
 * Takes up to `amount` free credits of grants unexpired at `at`, in burn-down order. Returns the parts taken
 * (the grants are not changed: a hold does not spend).
 */
export function takeFree(grants: GrantCredit[], sessions: Record<string, HeldParts>, amount: number, at: number): GrantPart[] {
  const held = heldByGrant(sessions);
  const parts: GrantPart[] = [];
  let left = amount;
  for (const grant of [...grants].sort(compareBurnDown)) {
    if (left <= 0) {
      break;
    }
    if (isExpired(grant, at)) {
      continue;
    }
    const take = Math.min(left, grant.remaining - (held.get(grant.id) ?? 0));
    if (take > 0) {
      parts.push({ grant: grant.id, amount: take });
      left -= take;
    }
  }
  return parts;
}

/** Adds parts to a hold, one part per grant, in burn-down order. */
export function mergeParts(grants: GrantCredit[], holds: GrantPart[], added: GrantPart[]): GrantPart[] {
  const byGrant = new Map<string, number>();
  for (const part of [...holds, ...added]) {
    byGrant.set(part.grant, (byGrant.get(part.grant) ?? 0) + part.amount);
  }
  return orderParts(
    grants,
    [...byGrant].filter(([, amount]) => amount > 0).map(([grant, amount]) => ({ grant, amount })),
  );
}

/** The parts in the burn-down order of their grants (a part whose grant is unknown comes last). */
function orderParts(grants: GrantCredit[], parts: GrantPart[]): GrantPart[] {
  const rank = new Map([...grants].sort(compareBurnDown).map((grant, index) => [grant.id, index]));
  return [...parts].sort((a, b) => (rank.get(a.grant) ?? Number.MAX_SAFE_INTEGER) - (rank.get(b.grant) ?? Number.MAX_SAFE_INTEGER));
}

/** Takes `amount` off a hold, its parts in burn-down order; returns the parts taken and the hold left. */
export function spendHold(grants: GrantCredit[], holds: GrantPart[], amount: number): { taken: GrantPart[]; left: GrantPart[] } {
  const taken: GrantPart[] = [];
  const left: GrantPart[] = [];
  let owed = amount;
  for (const part of orderParts(grants, holds)) {
    const take = Math.min(owed, part.amount);
    owed -= take;
    if (take > 0) {
      taken.push({ grant: part.grant, amount: take });
    }
    if (part.amount > take) {
      left.push({ grant: part.grant, amount: part.amount - take });
    }
  }
  return { taken, left };
}

/** The parts of a hold on grants expired at `at`, and the rest. */
export function splitExpired(grants: GrantCredit[], holds: GrantPart[], at: number): { expired: GrantPart[]; kept: GrantPart[] } {
  const expiresAt = new Map(grants.map((grant) => [grant.id, grant.expires_at]));
  const expired: GrantPart[] = [];
  const kept: GrantPart[] = [];
  for (const part of holds) {
    const expiry = expiresAt.get(part.grant);
    (expiry !== undefined && expiry <= at ? expired : kept).push(part);
  }
  return { expired, kept };
}

/** The expiry instants of the grants a hold is on, in order. */
export function holdExpiries(grants: GrantCredit[], holds: GrantPart[]): number[] {
  const expiresAt = new Map(grants.map((grant) => [grant.id, grant.expires_at]));
  const instants = new Set<number>();
  for (const part of holds) {
    const expiry = expiresAt.get(part.grant);
    if (expiry !== undefined && part.amount > 0) {
      instants.add(expiry);
    }
  }
  return [...instants].sort((a, b) => a - b);
}

/** Spends `parts` of the grants' remainders (a debit, a removal, an expiry); a grant spent to 0 stays until pruned. */
export function spendGrants(grants: GrantCredit[], parts: GrantPart[]): GrantCredit[] {
  const spent = new Map<string, number>();
  for (const part of parts) {
    spent.set(part.grant, (spent.get(part.grant) ?? 0) + part.amount);
  }
  return grants.map((grant) => (spent.has(grant.id) ? { ...grant, remaining: grant.remaining - spent.get(grant.id)! } : grant));
}

/** Drops grants with nothing left that no session holds: the ledger keeps their history. */
export function pruneGrants(grants: GrantCredit[], sessions: Record<string, HeldParts>): GrantCredit[] {
  const held = heldByGrant(sessions);
  return grants.filter((grant) => grant.remaining > 0 || (held.get(grant.id) ?? 0) > 0);
}

/** The earliest expiry among the grants (undefined: none expires). */
export function nextExpiry(grants: GrantCredit[]): number | undefined {
  let next: number | undefined;
  for (const grant of grants) {
    if (grant.expires_at !== undefined && (next === undefined || grant.expires_at < next)) {
      next = grant.expires_at;
    }
  }
  return next;
}

/** Whether the parts can still be taken: each grant there, unexpired at `at`, with that much no session holds. */
export function fitsFreeCredits(grants: GrantCredit[], sessions: Record<string, HeldParts>, parts: GrantPart[], at: number): boolean {
  const byId = new Map(grants.map((grant) => [grant.id, grant]));
  const free = freeByGrant(grants, sessions);
  return parts.every((part) => {
    const grant = byId.get(part.grant);
    return grant !== undefined && !isExpired(grant, at) && part.amount <= (free.get(part.grant) ?? 0);
  });
}

/** Free credits of each grant (remaining minus what sessions hold of it). */
export function freeByGrant(grants: GrantCredit[], sessions: Record<string, HeldParts>): Map<string, number> {
  const held = heldByGrant(sessions);
  return new Map(grants.map((grant) => [grant.id, grant.remaining - (held.get(grant.id) ?? 0)]));
}

import { chargeableSeconds, creditsForSeconds } from '../../src/beta/credits/credit-math.js';
import { CreditReconcilerService } from '../../src/beta/credits/credit-reconciler.service.js';
import type { DatabaseContext } from './database-context.js';
import { CloseCode } from '../../src/live-dubbing/live-dubbing.protocol.js';
import type { FaultKind } from './chaos-plan.js';

/*
 * The invariants a chaos trial must leave behind, checked on what the test saw (its clients, the faults it caused)
 * and on the database as the instances left it. Every breach is returned with the data that shows it, so one
 * failing trial reports all of them at once.
 */

/** A fault as it happened: a kill has no end; a pause ends when the instance is resumed, a freeze when the database thaws. */
export interface FaultRecord {
  kind: FaultKind;
  /** The instance's label; none for a freeze, which every instance sees. */
  instance?: string;
  startMs: number;
  endMs?: number;
}

export type ClientAction = 'stop' | 'close' | 'vanish' | 'trial_end';

export interface ClientRecord {
  index: number;
  email: string;
  userId: string;
  feature: string;
  /** The label of the instance it connected to: its session's first owner. */
  instance: string;
  authAtMs?: number;
  /** The live session id `ready` carried. */
  liveSessionId?: string;
  /** What the client did to leave, while its socket was still open. */
  action?: { kind: ClientAction; atMs: number };
  /** When the client saw its socket close, with the close code and the error message's code if any. */
  closed?: { code: number; atMs: number; error?: string };
}

/** The collections a trial is judged on, read directly once every instance has had time to finish. */
export interface Books {
  liveSessions: any[];
  betaSessions: any[];
  quotaSessions: any[];
  accounts: any[];
  ledger: any[];
  drifts: unknown[];
}

export interface Timing {
  heartbeatMs: number;
  /** Scheduling and round trips on a loaded machine. */
  marginMs: number;
}

export interface Violation {
  check: string;
  [detail: string]: unknown;
}

export interface TrialFindings {
  violations: Violation[];
  /** Sessions ended `instance_lost` although their owner was neither killed nor paused: only the database was frozen. */
  reapedAfterFreeze: number;
}

export async function readBooks(ctx: DatabaseContext): Promise<Books> {
  const all = (name: string) => ctx.connection.collection(name).find().toArray();
  const [liveSessions, betaSessions, quotaSessions, accounts, ledger] = await Promise.all([
    all('live_sessions'),
    all('beta_sessions'),
    all('live_quota_sessions'),
    all('beta_credits'),
    all('beta_credit_transactions'),
  ]);
  const { drifts } = await ctx.app.get(CreditReconcilerService).reconcile({ repair: false });
  return { liveSessions, betaSessions, quotaSessions, accounts, ledger, drifts };
}

export function checkTrial(input: { clients: ClientRecord[]; faults: FaultRecord[]; books: Books; timing: Timing }): TrialFindings {
  const violations: Violation[] = [];
  const add = (check: string, detail: Record<string, unknown> = {}) => violations.push({ check, ...detail });
  checkNothingLeftRunning(input.books, add);
  checkAccounts(input.books, add);
  const reapedAfterFreeze = checkSessions(input, add);
  return { violations, reapedAfterFreeze };
}

type Report = (check: string, detail?: Record<string, unknown>) => void;

function checkNothingLeftRunning(books: Books, add: Report): void {
  for (const live of books.liveSessions.filter((s) => s.status !== 'ended')) {
    add(`live session left ${live.status}`, { live: liveSummary(live) });
  }
  for (const beta of books.betaSessions.filter((s) => s.status !== 'ended')) {
    add(`beta session left ${beta.status}`, { beta: betaSummary(beta) });
  }
  for (const quota of books.quotaSessions.filter((s) => s.status === 'active')) {
    add('quota session left active', { quota_session_id: quota._id, user_id: quota.user_id });
  }
}

/** I1 and I2 per account, and the per-user sum: what the account debited is what its sessions were charged. */
function checkAccounts(books: Books, add: Report): void {
  for (const account of books.accounts) {
    const email = account._id as string;
    const remaining = account.total_granted - account.total_debited;
    const entries = books.ledger.filter((entry) => entry.email === email);
    const replay = entries.reduce((sum, entry) => sum + entry.amount, 0);
    const charged = books.betaSessions.filter((s) => s.email === email).reduce((sum, s) => sum + s.charged_credits, 0);
    const detail = { email, total_granted: account.total_granted, total_debited: account.total_debited, held: account.held };
    if (remaining < 0) {
      add('I1: balance below 0', detail);
    }
    if (lowestRunningBalance(entries) < 0) {
      add('I1: the ledger in time order goes below 0', { ...detail, lowest: lowestRunningBalance(entries) });
    }
    if (replay !== remaining) {
      add('I2: the ledger does not replay to the balance', { ...detail, replay });
    }
    if (account.held !== 0 || Object.keys(account.sessions ?? {}).length > 0) {
      add('I2: credits still held after every session ended', { ...detail, sessions: account.sessions });
    }
    if (account.total_debited !== charged) {
      add('user debited other than the sum of its sessions’ charges', { ...detail, sessions_charged: charged });
    }
  }
  if (books.drifts.length > 0) {
    add('I2: reconcile finds drift', { drifts: books.drifts });
  }
}

function lowestRunningBalance(entries: any[]): number {
  // Grants first among entries of the same instant: a debit always comes from a hold placed on granted credits.
  const ordered = [...entries].sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || b.amount - a.amount);
  let balance = 0;
  let lowest = 0;
  for (const entry of ordered) {
    balance += entry.amount;
    lowest = Math.min(lowest, balance);
  }
  return lowest;
}

/** I3 per session, and whether each session's end lies where what the test saw puts it. Returns the freeze-reaped count. */
function checkSessions(input: { clients: ClientRecord[]; faults: FaultRecord[]; books: Books; timing: Timing }, add: Report): number {
  const { books } = input;
  const debited = debitsBySession(books.ledger);
  const betaById = new Map(books.betaSessions.map((beta) => [beta._id as string, beta]));
  const liveIds = new Set(books.liveSessions.map((live) => live._id as string));
  for (const client of input.clients.filter((c) => c.liveSessionId !== undefined && !liveIds.has(c.liveSessionId))) {
    add('ready without a live session record', { client });
  }
  const linked = new Set(books.liveSessions.map((live) => live.beta_session_id as string | undefined));
  for (const beta of books.betaSessions.filter((b) => !linked.has(b._id))) {
    add('beta session without a live session record', { beta: betaSummary(beta) });
  }
  const matched = new Set<ClientRecord>();
  let reapedAfterFreeze = 0;
  for (const live of books.liveSessions) {
    const client = clientOf(live, input.clients, matched, input.timing);
    if (client !== undefined) {
      matched.add(client);
    }
    const beta = betaById.get(live.beta_session_id);
    if (live.end_at === undefined || live.end_at === null) {
      continue;
    }
    if (beta === undefined) {
      if ((debited.get(live.beta_session_id) ?? 0) !== 0) {
        add('I3: debits for a session that never started', { live: liveSummary(live), debited: debited.get(live.beta_session_id) });
      }
    } else {
      checkCharge(live, beta, debited.get(beta._id) ?? 0, books, client, add);
    }
    if (client !== undefined && checkEndWindow(live, client, input.faults, input.timing, add) === 'freeze') {
      reapedAfterFreeze++;
    }
  }
  return reapedAfterFreeze;
}

/**
 * I3: the session's charge is its ledger debits, and it is its time up to the record's `end_at` at its rate — less
 * only when the balance ran out: then the account had nothing available at the session's final settlement, so what
 * it has left now is at most what the holds of its other sessions gave back afterwards.
 */
function checkCharge(live: any, beta: any, debited: number, books: Books, client: ClientRecord | undefined, add: Report): void {
  const target = creditsForSeconds(chargeableSeconds(live.end_at.getTime() - beta.started_at.getTime(), true), beta.rate);
  const detail = () => ({ live: liveSummary(live), beta: betaSummary(beta), debited, owed_to_end_at: target, client });
  if (beta.charged_credits !== debited) {
    add('I3: charged_credits differs from the ledger’s debits', detail());
  }
  if (debited > target) {
    add('I3: charged for time after the session’s end_at', detail());
  }
  if (debited < target) {
    const account = books.accounts.find((a) => a._id === beta.email);
    const otherHolds = books.betaSessions
      .filter((other) => other.email === beta.email && other._id !== beta._id)
      .reduce((sum, other) => sum + other.estimated_cost, 0);
    const remaining = account === undefined ? 0 : account.total_granted - account.total_debited;
    if (remaining > otherHolds) {
      add('I3: charged less than its time while the balance allowed more', { ...detail(), remaining, other_holds: otherHolds });
    }
  }
}

/**
 * The session's end against what the test saw: never after the client left or saw the socket close (a message
 * sent to a paused owner is read when it resumes); a client's own leaving ends it at that moment; `instance_lost`
 * ends it at its owner's last heartbeat before the fault that silenced the owner. Returns the kind of fault that
 * explains an `instance_lost` end.
 */
function checkEndWindow(
  live: any,
  client: ClientRecord,
  faults: FaultRecord[],
  timing: Timing,
  add: Report,
): 'owner' | 'freeze' | undefined {
  const endAt = live.end_at.getTime();
  const detail = () => ({
    live: liveSummary(live),
    client,
    faults: faults.filter((f) => f.instance === undefined || f.instance === client.instance),
  });
  const observedEnd = observedEndMs(client, faults);
  if (observedEnd !== undefined && endAt > observedEnd + timing.marginMs) {
    add('end_at after the client left or saw the socket close', { ...detail(), observed_end: new Date(observedEnd) });
  }
  if (live.end_cause === 'user_stopped' || live.end_cause === 'disconnected') {
    if (!leftFirst(client)) {
      add(`ended ${live.end_cause} although the client never left`, detail());
    } else if (endAt < lastHeardBy(client, faults, timing) - timing.marginMs) {
      add(`ended ${live.end_cause} before the client left`, detail());
    }
  }
  if (live.end_cause === 'instance_lost') {
    if (toldOtherThanMoved(client, faults)) {
      add(`closed ${client.closed!.code} instead of 4409 session_moved after its session ended instance_lost`, detail());
    }
    const silence = silences(client.instance, faults, timing).find(
      (s) => s.startMs - timing.heartbeatMs - timing.marginMs <= endAt && endAt <= s.lastHeartbeatMs + timing.marginMs,
    );
    if (silence === undefined) {
      add('instance_lost at an end_at no fault of its owner explains', detail());
      return undefined;
    }
    return silence.kinds.has('kill') || silence.kinds.has('pause') ? 'owner' : 'freeze';
  }
  return undefined;
}

/**
 * The latest moment the owner can have learnt the session was over: when it could read the client's leaving, or
 * else when it closed the socket. (A client that vanishes sees its own socket close at once; that says nothing.)
 */
function observedEndMs(client: ClientRecord, faults: FaultRecord[]): number | undefined {
  if (leftFirst(client)) {
    const pause = faults.find(
      (f) => f.kind === 'pause' && f.instance === client.instance && f.startMs <= client.action!.atMs && client.action!.atMs <= f.endMs!,
    );
    return pause?.endMs ?? client.action!.atMs;
  }
  return client.closed?.atMs;
}

/** Whether the client left while its socket was still open (rather than being closed by the server or a dead owner). */
/**
 * The earliest a session may end once its client left. A close frame or `stop` ends it when the client left. A
 * vanished client (no close frame) is charged up to when its owner last heard from it: its pong to the ping before
 * (pings go out every heartbeat), or before any pause of the owner that was under way, when no pong could be read.
 */
function lastHeardBy(client: ClientRecord, faults: FaultRecord[], timing: Timing): number {
  const leftAt = client.action!.atMs;
  if (client.action!.kind !== 'vanish') {
    return leftAt;
  }
  const pausedBefore = faults
    .filter(
      (f) =>
        f.kind === 'pause' && f.instance === client.instance && f.startMs <= leftAt && (f.endMs ?? Infinity) >= leftAt - timing.heartbeatMs,
    )
    .map((f) => f.startMs);
  return Math.min(leftAt, ...pausedBefore) - timing.heartbeatMs;
}

function leftFirst(client: ClientRecord): boolean {
  return client.action !== undefined && (client.closed === undefined || client.closed.atMs >= client.action.atMs);
}

/** A client still connected to a live owner when its session was taken from that owner is told so: 4409. */
function toldOtherThanMoved(client: ClientRecord, faults: FaultRecord[]): boolean {
  const closed = client.closed;
  if (client.liveSessionId === undefined || closed === undefined || leftFirst(client)) {
    return false;
  }
  const ownerKilled = faults.some((f) => f.kind === 'kill' && f.instance === client.instance && f.startMs <= closed.atMs);
  return !ownerKilled && closed.code !== CloseCode.SessionMoved;
}

interface Silence {
  startMs: number;
  endMs: number;
  /** The latest instant a heartbeat of the owner may carry: a paused or killed owner's stops at the fault; one written while the database is frozen may land at the thaw. */
  lastHeartbeatMs: number;
  kinds: Set<FaultKind>;
}

/** Stretches in which `instance` could land no heartbeat: its pauses, its kill and the freezes, merged when no heartbeat fits between. */
function silences(instance: string, faults: FaultRecord[], timing: Timing): Silence[] {
  const parts = faults
    .filter((f) => f.kind === 'freeze' || f.instance === instance)
    .map((f) => ({
      startMs: f.startMs,
      endMs: f.kind === 'kill' ? Number.POSITIVE_INFINITY : f.endMs!,
      lastHeartbeatMs: f.kind === 'freeze' ? f.endMs! : f.startMs,
      kinds: new Set([f.kind]),
    }))
    .sort((a, b) => a.startMs - b.startMs);
  const merged: Silence[] = [];
  for (const part of parts) {
    const last = merged.at(-1);
    if (last !== undefined && part.startMs <= last.endMs + timing.heartbeatMs + timing.marginMs) {
      last.endMs = Math.max(last.endMs, part.endMs);
      last.lastHeartbeatMs = Math.max(last.lastHeartbeatMs, part.lastHeartbeatMs);
      part.kinds.forEach((kind) => last.kinds.add(kind));
    } else {
      merged.push(part);
    }
  }
  return merged;
}

/** The client whose `ready` named the session; else the one client of that user and feature, with no ready, connected then. */
function clientOf(live: any, clients: ClientRecord[], matched: Set<ClientRecord>, timing: Timing): ClientRecord | undefined {
  const byReady = clients.find((client) => client.liveSessionId === live._id);
  if (byReady !== undefined) {
    return byReady;
  }
  const startedAt = live.started_at.getTime();
  const candidates = clients.filter(
    (client) =>
      !matched.has(client) &&
      client.liveSessionId === undefined &&
      client.userId === live.user_id &&
      client.feature === live.feature &&
      client.authAtMs !== undefined &&
      client.authAtMs <= startedAt + timing.marginMs &&
      (client.closed === undefined || startedAt <= client.closed.atMs + timing.marginMs),
  );
  return candidates.length === 1 ? candidates[0] : undefined;
}

function debitsBySession(ledger: any[]): Map<string, number> {
  const debited = new Map<string, number>();
  for (const entry of ledger.filter((e) => e.type === 'debit')) {
    debited.set(entry.session_id, (debited.get(entry.session_id) ?? 0) - entry.amount);
  }
  return debited;
}

function liveSummary(live: any) {
  const { _id, email, feature, status, owner_instance_id, owner_epoch, started_at, heartbeat_at, end_cause, end_at, ended_at } = live;
  return { _id, email, feature, status, owner_instance_id, owner_epoch, started_at, heartbeat_at, end_cause, end_at, ended_at };
}

function betaSummary(beta: any) {
  const { _id, email, status, rate, estimated_cost, started_at, ended_at, end_reason, charged_credits, charged_seconds } = beta;
  return { _id, email, status, rate, estimated_cost, started_at, ended_at, end_reason, charged_credits, charged_seconds };
}

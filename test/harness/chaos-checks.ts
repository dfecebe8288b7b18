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

/** How the client left: `blip` is a connection lost (no close frame) that was not resumed, or whose resume was refused. */
export type ClientAction = 'stop' | 'close' | 'vanish' | 'blip' | 'trial_end';

export interface ClientRecord {
  index: number;
  email: string;
  userId: string;
  feature: string;
  /** The label of the instance its last `ready` came from: its session's owner from then on. */
  instance: string;
  authAtMs?: number;
  /** The live session id `ready` carried. */
  liveSessionId?: string;
  /** Its connections lost on the way, in order; what follows a resumed one is about the resumed connection. */
  blips?: BlipRecord[];
  /** What the client did to leave, while its (last) socket was still open. */
  action?: { kind: ClientAction; atMs: number };
  /** When the client saw its (last) socket close, with the close code and the error message's code if any. */
  closed?: { code: number; atMs: number; error?: string };
  /** Why the test cannot tell how its session went on (a resume with no definite answer): its end and exact charge are not checked. */
  unknown?: string;
}

/** A connection the client dropped without a close frame, and its resume if it tried one. */
export interface BlipRecord {
  /** The label of the instance whose connection it dropped: the session's owner until then. */
  instance: string;
  droppedAtMs: number;
  /** The record's `lost_at`, when the test saw the session suspended before resuming: where the resume cuts the charge. */
  lostAtMs?: number;
  resume?: ResumeRecord;
}

export interface ResumeRecord {
  instance: string;
  sentAtMs: number;
  repliedAtMs: number;
  /** `ready`, the error code of a refusal, or how it failed otherwise (`closed <code>`, `unopened`). */
  outcome: string;
  /**
   * After `ready`: how far the account had moved the session's start, in all — the gaps of every resume so far, as
   * the database recorded them. Undefined when the session had ended before the test could read it.
   */
  movedByMs?: number;
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
      const gaps = gapsOf(live, beta, client, input.faults, input.timing, add);
      checkCharge(live, beta, debited.get(beta._id) ?? 0, books, client, gaps, add);
    }
    if (
      client !== undefined &&
      client.unknown === undefined &&
      checkEndWindow(live, client, input.faults, input.timing, add) === 'freeze'
    ) {
      reapedAfterFreeze++;
    }
  }
  return reapedAfterFreeze;
}

/**
 * What a session's resumes left uncharged (I7): per resume, the time from where its charge was cut (the record's
 * `lost_at`, or the heartbeat of the owner a resume took it over from) to the resume. `exact` is the total the account
 * recorded (how far it moved the session's start), as the test read it right after the last resume; `min` and `max`
 * bound the total by what the client saw, independently of the service.
 */
export interface Gaps {
  resumes: number;
  exact?: number;
  min: number;
  max: number;
}

/**
 * The latest instant the owner can have heard from a client that dropped its connection: a frame sent just before the
 * drop is read a little after it — or, when the owner was paused at the drop, once the pause is over (the owner
 * stamps a frame when it reads it).
 */
function latestHeardOf(blip: BlipRecord, faults: FaultRecord[], timing: Timing): number {
  const pause = faults.find(
    (f) => f.kind === 'pause' && f.instance === blip.instance && f.startMs <= blip.droppedAtMs && blip.droppedAtMs <= (f.endMs ?? Infinity),
  );
  return Math.max(blip.droppedAtMs, pause?.endMs ?? Number.NEGATIVE_INFINITY) + timing.marginMs;
}

/**
 * The session's resumes, each checked against what its client saw: the gap the account recorded lies between the
 * client's drop and its resume request at the least, and from when its owner could last have heard from it to the
 * `ready` at the most; when the test saw `lost_at` before resuming, the resume instant it implies (`lost_at` + gap)
 * lies between the request and the `ready`.
 */
function gapsOf(live: any, beta: any, client: ClientRecord | undefined, faults: FaultRecord[], timing: Timing, add: Report): Gaps {
  if (client?.unknown !== undefined) {
    // A resume may have taken the session on without the test knowing: anything from no gap to the whole session.
    return { resumes: 0, min: 0, max: live.end_at.getTime() - beta.started_at.getTime() };
  }
  const gaps: Gaps = { resumes: 0, exact: 0, min: 0, max: 0 };
  for (const blip of client?.blips ?? []) {
    const resume = blip.resume;
    if (resume?.outcome !== 'ready') {
      continue;
    }
    const earliestCut = earliestCutOf(blip, faults, timing);
    const latestHeard = latestHeardOf(blip, faults, timing);
    const min = resume.sentAtMs - latestHeard;
    const max = resume.repliedAtMs - earliestCut;
    const gap = resume.movedByMs === undefined || gaps.exact === undefined ? undefined : resume.movedByMs - gaps.exact;
    const detail = () => ({ live: liveSummary(live), blip, gap, min, max });
    if (gap !== undefined && (gap < min || gap > max)) {
      add('I7: a resume left uncharged other than the gap its client saw', detail());
    }
    if (blip.lostAtMs !== undefined) {
      if (blip.lostAtMs < earliestCut || blip.lostAtMs > latestHeard) {
        add('I7: lost_at outside when the owner last heard from the client', { ...detail(), earliest_cut: earliestCut });
      }
      const resumedAt = gap === undefined ? undefined : blip.lostAtMs + gap;
      if (resumedAt !== undefined && (resumedAt < resume.sentAtMs || resumedAt > resume.repliedAtMs)) {
        add('I7: a resume moved the start by other than resume − lost_at', { ...detail(), resumed_at: resumedAt });
      }
    }
    gaps.resumes++;
    gaps.min += min;
    gaps.max += max;
    gaps.exact = resume.movedByMs;
  }
  return gaps;
}

/**
 * The earliest a resume may cut a dropped connection's charge at: when the owner could last have heard from the client
 * (a pong every heartbeat), or proved it held the session, before any fault of the owner or of the database under
 * way at the drop.
 */
function earliestCutOf(blip: BlipRecord, faults: FaultRecord[], timing: Timing): number {
  const dropped = blip.droppedAtMs;
  const under = faults
    .filter(
      (f) =>
        (f.kind === 'freeze' || f.instance === blip.instance) &&
        f.startMs <= dropped &&
        (f.endMs ?? Infinity) >= dropped - timing.heartbeatMs,
    )
    .map((f) => f.startMs);
  return Math.min(dropped, ...under) - timing.heartbeatMs - timing.marginMs;
}

/**
 * I3 and I7: the session's charge is its ledger debits, and it is its connected time — from its start to the record's
 * `end_at`, less what its resumes left uncharged — at its rate; less only when the balance ran out: then the account
 * had nothing available at the session's final settlement, so what it has left now is at most what the holds of its
 * other sessions gave back afterwards. With the gaps known only within bounds, so is the charge.
 */
function checkCharge(live: any, beta: any, debited: number, books: Books, client: ClientRecord | undefined, gaps: Gaps, add: Report): void {
  const span = live.end_at.getTime() - beta.started_at.getTime();
  const owed = (connectedMs: number) => creditsForSeconds(chargeableSeconds(connectedMs, true), beta.rate);
  const most = owed(span - (gaps.exact ?? gaps.min));
  const least = owed(span - (gaps.exact ?? gaps.max));
  const detail = () => ({ live: liveSummary(live), beta: betaSummary(beta), debited, owed: [least, most], gaps, client });
  if (beta.charged_credits !== debited) {
    add('I3: charged_credits differs from the ledger’s debits', detail());
  }
  if (debited > most) {
    add(gaps.resumes > 0 ? 'I7: charged for time it was not connected' : 'I3: charged for time after the session’s end_at', detail());
  }
  if (debited < least) {
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
    if (toldOtherThanMoved(client, faults, timing)) {
      add(
        `closed ${client.closed!.code} instead of 4409 session_moved (or 4503 in a freeze) after its session ended instance_lost`,
        detail(),
      );
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

/**
 * The earliest a session may end once its client left. A close frame or `stop` ends it when the client left. A
 * vanished client (no close frame, a blip not resumed) is charged up to when its owner last heard from it: its pong
 * to the ping before (pings go out every heartbeat), or before any pause of the owner that was under way, when no
 * pong could be read.
 */
function lastHeardBy(client: ClientRecord, faults: FaultRecord[], timing: Timing): number {
  const leftAt = client.action!.atMs;
  if (client.action!.kind !== 'vanish' && client.action!.kind !== 'blip') {
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

/** Whether the client left while its socket was still open (rather than being closed by the server or a dead owner). */
function leftFirst(client: ClientRecord): boolean {
  return client.action !== undefined && (client.closed === undefined || client.closed.atMs >= client.action.atMs);
}

/**
 * A client still connected to a live owner when its session was taken from that owner is told so: 4409 — or, when
 * the database was frozen, 4503 first: suspended for the outage, with a suspension the owner could not write before
 * it was paused or killed and the session found lost.
 */
function toldOtherThanMoved(client: ClientRecord, faults: FaultRecord[], timing: Timing): boolean {
  const closed = client.closed;
  if (client.liveSessionId === undefined || closed === undefined || leftFirst(client)) {
    return false;
  }
  const ownerKilled = faults.some((f) => f.kind === 'kill' && f.instance === client.instance && f.startMs <= closed.atMs);
  // An owner paused while it found the database frozen still finds it so when it wakes: its outage timer may fire
  // (4503) before its first ping or heartbeat after the pause could tell it otherwise.
  const seenFrozenUntil = (freeze: FaultRecord) =>
    Math.max(
      freeze.endMs ?? Infinity,
      ...faults
        .filter(
          (f) =>
            f.kind === 'pause' &&
            f.instance === client.instance &&
            f.startMs >= freeze.startMs &&
            f.startMs <= (freeze.endMs ?? Infinity) + timing.marginMs,
        )
        .map((f) => f.endMs ?? Infinity),
    );
  const suspendedOffline =
    closed.code === CloseCode.SuspendedUnavailable &&
    faults.some((f) => f.kind === 'freeze' && f.startMs <= closed.atMs && closed.atMs <= seenFrozenUntil(f) + timing.marginMs);
  return !ownerKilled && !suspendedOffline && closed.code !== CloseCode.SessionMoved;
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

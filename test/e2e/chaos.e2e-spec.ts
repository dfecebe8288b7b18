import { randomInt } from 'node:crypto';
import WebSocket from 'ws';
import { LIVE_DUBBING_FEATURE, LIVE_SUBTITLES_FEATURE } from '../../src/common/live-features.js';
import { speech } from '../harness/audio.js';
import {
  checkTrial,
  readBooks,
  type ClientAction,
  type ClientRecord,
  type FaultRecord,
  type TrialFindings,
} from '../harness/chaos-checks.js';
import { GATEWAY_PATHS, planTrial, type FaultKind, type PlannedSession, type TrialPlan } from '../harness/chaos-plan.js';
import { openDatabaseContext, type DatabaseContext } from '../harness/database-context.js';
import { authMessage, observeUntil, sleep, viewer, type Viewer } from '../harness/live.js';
import {
  FAULT_ENV,
  FAULT_HEARTBEAT_MS,
  FAULT_INTERVAL_MS,
  FAULT_LOST_AFTER_MS,
  startDatabaseProcess,
  startInstance,
  stopAllProcesses,
  withInstanceLogs,
  type DatabaseProcess,
  type ServiceInstance,
} from '../harness/processes.js';

const INTERVAL_MS = FAULT_INTERVAL_MS;
const HEARTBEAT_MS = FAULT_HEARTBEAT_MS;
const LOST_AFTER_MS = FAULT_LOST_AFTER_MS;
/** Scheduling and database round trips on a loaded 2-core machine. */
const MARGIN_MS = 1000;
/** A failed end is written again with a backoff of up to 10 s: after a freeze, the last attempt may come that late. */
const SETTLE_TIMEOUT_MS = 20_000;
const CLIENT_OPEN_TIMEOUT_MS = 10_000;
const CLIENT_CLOSE_TIMEOUT_MS = 5000;
const TRIAL_TIMEOUT_MS = 150_000;
const LABELS = ['a', 'b', 'c'];

const ENV = {
  ...FAULT_ENV,
  // A frozen database fails writes within a second rather than holding them.
  MONGODB_TIMEOUT_MS: '1000',
  // A 5-s estimate, so a balance of a few seconds can open a session and run out within a trial.
  BETA_PREAUTH_SECONDS: '5',
  WS_CONNECTIONS_PER_MINUTE: '100',
};

const FEATURES = { dubbing: LIVE_DUBBING_FEATURE, subtitles: LIVE_SUBTITLES_FEATURE } as const;

/** CHAOS_SEED replays one trial; otherwise CHAOS_TRIALS trials (default 4) on fresh random seeds. */
function trialSeeds(): number[] {
  const seed = process.env.CHAOS_SEED;
  if (seed !== undefined && seed !== '') {
    return [wholeNumber('CHAOS_SEED', seed)];
  }
  const trials = wholeNumber('CHAOS_TRIALS', process.env.CHAOS_TRIALS || '4');
  return Array.from({ length: trials }, () => randomInt(2 ** 31 - 1));
}

function wholeNumber(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new Error(`${name} must be a whole number, got "${value}"`);
  }
  return parsed;
}

interface Tally {
  trials: number;
  sessions: number;
  ready: number;
  faults: Record<FaultKind, number>;
  clientEnds: Record<ClientAction, number>;
  closeCodes: Record<string, number>;
  endCauses: Record<string, number>;
  reapedAfterFreeze: number;
  violations: number;
  wallMs: number;
}

const total: Tally = emptyTally();

/**
 * A property test over real processes: each trial runs a seeded random schedule of sessions (both gateways, several
 * instances per user, one user short of credits) and faults (instances killed or paused, the database frozen, clients
 * that stop, close or vanish), then checks what the database holds against the credit invariants and against what
 * the test saw. A failing trial names its seed; `CHAOS_SEED=<seed>` replays its plan.
 */
describe('Live sessions under seeded chaos', () => {
  let ctx: DatabaseContext | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await ctx?.close();
    ctx = undefined;
  });

  afterAll(() => {
    console.log(`chaos total: ${describeTally(total)}`);
  });

  for (const seed of trialSeeds()) {
    it(
      `keeps the books exact and every session's end where the test saw it (seed ${seed})`,
      () =>
        withInstanceLogs(async () => {
          const startedAt = Date.now();
          const plan = planTrial(seed);
          console.log(`chaos trial seed ${seed} (replay with CHAOS_SEED=${seed}): ${describePlan(plan)}`);
          const database = await startDatabaseProcess();
          const uri = database.uri('chaos');
          const instances = await Promise.all(
            LABELS.slice(0, plan.instances).map((label) => startInstance({ MONGODB_URI: uri, ...ENV }, { label })),
          );
          ctx = await openDatabaseContext(uri);
          const viewers: Viewer[] = [];
          for (const user of plan.users) {
            viewers.push(await viewer(ctx.app, { credits: user.credits }));
          }

          const { clients, faults } = await runSchedule(plan, database, instances, viewers);
          // The survivors sweep what the killed and paused instances left, and re-driven ends land.
          await sleep(LOST_AFTER_MS + INTERVAL_MS + MARGIN_MS);
          await observeUntil(
            () => unsettled(ctx!),
            (count) => count === 0,
            SETTLE_TIMEOUT_MS,
          );
          // Anything still charging a session after its end would show by now.
          await sleep(2 * INTERVAL_MS);
          const books = await readBooks(ctx);
          const findings = checkTrial({ clients, faults, books, timing: { heartbeatMs: HEARTBEAT_MS, marginMs: MARGIN_MS } });

          const tally = tallyTrial(plan, clients, faults, books.liveSessions, findings, Date.now() - startedAt);
          addTally(total, tally);
          console.log(`chaos trial seed ${seed}: ${describeTally(tally)}`);
          expect({ seed, violations: findings.violations }).toEqual({ seed, violations: [] });
        }),
      TRIAL_TIMEOUT_MS,
    );
  }
});

/** Runs the plan's clients and faults on their schedule; once both are done, thaws and resumes everything and closes what is left open. */
async function runSchedule(
  plan: TrialPlan,
  database: DatabaseProcess,
  instances: ServiceInstance[],
  viewers: Viewer[],
): Promise<{ clients: ClientRecord[]; faults: FaultRecord[] }> {
  const t0 = Date.now() + 100;
  const faults: FaultRecord[] = [];
  let endTrial!: () => void;
  const trialOver = new Promise<void>((resolve) => (endTrial = resolve));
  const clients = plan.sessions.map((session, index) => {
    const v = viewers[session.user];
    const record: ClientRecord = {
      index,
      email: v.user.email,
      userId: v.user.id,
      feature: FEATURES[session.gateway],
      instance: instances[session.instance].label,
    };
    return { record, run: runClient(session, record, v, instances[session.instance], t0, trialOver) };
  });
  await runFaults(plan, database, instances, t0, faults);
  await sleepUntil(t0 + plan.durationMs);
  database.thaw();
  instances.forEach((instance) => instance.resume());
  endTrial();
  await Promise.all(clients.map((client) => client.run));
  return { clients: clients.map((client) => client.record), faults };
}

async function runFaults(plan: TrialPlan, database: DatabaseProcess, instances: ServiceInstance[], t0: number, log: FaultRecord[]) {
  const events: { atMs: number; run: () => Promise<void> | void }[] = [];
  for (const fault of plan.faults) {
    if (fault.kind === 'kill') {
      const instance = instances[fault.instance];
      events.push({
        atMs: fault.atMs,
        run: () => {
          log.push({ kind: 'kill', instance: instance.label, startMs: Date.now() });
          return instance.kill();
        },
      });
    } else {
      const record: FaultRecord = { kind: fault.kind, startMs: 0 };
      const instance = fault.kind === 'pause' ? instances[fault.instance] : undefined;
      record.instance = instance?.label;
      events.push({
        atMs: fault.atMs,
        run: () => {
          record.startMs = Date.now();
          log.push(record);
          return instance === undefined ? database.freeze() : instance.pause();
        },
      });
      events.push({
        atMs: fault.atMs + fault.forMs,
        run: () => {
          record.endMs = Date.now();
          return instance === undefined ? database.thaw() : instance.resume();
        },
      });
    }
  }
  for (const event of events.sort((a, b) => a.atMs - b.atMs)) {
    await sleepUntil(t0 + event.atMs);
    await event.run();
  }
}

/**
 * One client: opens its session at its time, streams a little audio, and leaves as planned — or keeps the socket
 * until the trial ends. Records what it did and what it saw, with the times, for the checks.
 */
async function runClient(
  session: PlannedSession,
  record: ClientRecord,
  v: Viewer,
  instance: ServiceInstance,
  t0: number,
  trialOver: Promise<void>,
): Promise<void> {
  await sleepUntil(t0 + session.openAtMs);
  const socket = new WebSocket(instance.wsUrl(GATEWAY_PATHS[session.gateway]), { handshakeTimeout: CLIENT_OPEN_TIMEOUT_MS });
  let error: string | undefined;
  let ready: (() => void) | undefined;
  const closed = new Promise<void>((resolve) => {
    socket.on('close', (code) => {
      record.closed = { code, atMs: Date.now(), error };
      resolve();
    });
  });
  socket.on('error', () => undefined);
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      return;
    }
    const message = JSON.parse(data.toString());
    if (message.type === 'error') {
      error = message.code;
    } else if (message.type === 'ready') {
      record.liveSessionId = message.session_id;
      ready?.();
    }
  });
  const opened = await Promise.race([
    new Promise<boolean>((resolve) => socket.once('open', () => resolve(true))),
    closed.then(() => false),
  ]);
  if (!opened) {
    return;
  }
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  record.authAtMs = Date.now();
  socket.send(JSON.stringify(authMessage(v)));
  const outcome = await Promise.race([isReady.then(() => 'ready'), closed.then(() => 'closed'), trialOver.then(() => 'over')]);
  if (outcome === 'ready' && session.audioRepeats > 0) {
    void streamAudio(socket, session.audioRepeats, () => record.action !== undefined);
  }
  if (outcome !== 'closed') {
    const leave = session.end === 'keep' ? trialOver : Promise.race([sleepUntil(t0 + session.endAtMs), trialOver]);
    await Promise.race([leave, closed]);
  }
  if (record.closed === undefined) {
    leaveAs(socket, record, session.end === 'keep' || outcome === 'over' ? 'trial_end' : session.end);
  }
  await Promise.race([closed, trialOver]);
  if (record.closed === undefined) {
    socket.close();
  }
  await Promise.race([closed, sleep(CLIENT_CLOSE_TIMEOUT_MS)]);
  socket.terminate();
}

function leaveAs(socket: WebSocket, record: ClientRecord, kind: ClientAction): void {
  record.action = { kind, atMs: Date.now() };
  if (kind === 'stop') {
    socket.send(JSON.stringify({ type: 'stop' }));
  } else if (kind === 'vanish') {
    socket.terminate();
  } else {
    socket.close();
  }
}

/** Real-time speech, 100-ms frames, until the repeats are sent, the socket closes or the client leaves. */
async function streamAudio(socket: WebSocket, repeats: number, left: () => boolean): Promise<void> {
  const frames = Array.from({ length: repeats }, () => speech()).flat();
  const start = Date.now();
  for (const [i, frame] of frames.entries()) {
    await sleepUntil(start + i * 100);
    if (left() || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    socket.send(frame, { binary: true });
  }
}

/** Records not yet ended: live sessions not `ended`, beta sessions not `ended`, quota sessions still `active`. */
async function unsettled(ctx: DatabaseContext): Promise<number> {
  const [live, beta, quota] = await Promise.all([
    ctx.connection.collection('live_sessions').countDocuments({ status: { $ne: 'ended' } }),
    ctx.connection.collection('beta_sessions').countDocuments({ status: { $ne: 'ended' } }),
    ctx.connection.collection('live_quota_sessions').countDocuments({ status: 'active' }),
  ]);
  return live + beta + quota;
}

function sleepUntil(atMs: number): Promise<void> {
  return sleep(Math.max(0, atMs - Date.now()));
}

function describePlan(plan: TrialPlan): string {
  const faults = plan.faults.map((f) =>
    f.kind === 'kill'
      ? `kill ${LABELS[f.instance]}@${f.atMs}`
      : f.kind === 'pause'
        ? `pause ${LABELS[f.instance]}@${f.atMs}+${f.forMs}`
        : `freeze@${f.atMs}+${f.forMs}`,
  );
  return (
    `${plan.instances} instances, ${plan.durationMs} ms, credits [${plan.users.map((u) => u.credits).join(', ')}], ` +
    `${plan.sessions.length} sessions, faults [${faults.join(', ')}]`
  );
}

function emptyTally(): Tally {
  return {
    trials: 0,
    sessions: 0,
    ready: 0,
    faults: { kill: 0, pause: 0, freeze: 0 },
    clientEnds: { stop: 0, close: 0, vanish: 0, trial_end: 0 },
    closeCodes: {},
    endCauses: {},
    reapedAfterFreeze: 0,
    violations: 0,
    wallMs: 0,
  };
}

function tallyTrial(
  plan: TrialPlan,
  clients: ClientRecord[],
  faults: FaultRecord[],
  liveSessions: any[],
  findings: TrialFindings,
  wallMs: number,
): Tally {
  const tally = emptyTally();
  tally.trials = 1;
  tally.sessions = plan.sessions.length;
  tally.ready = clients.filter((client) => client.liveSessionId !== undefined).length;
  faults.forEach((fault) => tally.faults[fault.kind]++);
  clients.forEach((client) => client.action !== undefined && tally.clientEnds[client.action.kind]++);
  clients.forEach((client) => count(tally.closeCodes, String(client.closed?.code ?? 'none')));
  liveSessions.forEach((live) => count(tally.endCauses, live.end_cause ?? 'none'));
  tally.reapedAfterFreeze = findings.reapedAfterFreeze;
  tally.violations = findings.violations.length;
  tally.wallMs = wallMs;
  return tally;
}

function addTally(into: Tally, tally: Tally): void {
  into.trials += tally.trials;
  into.sessions += tally.sessions;
  into.ready += tally.ready;
  (Object.keys(tally.faults) as FaultKind[]).forEach((kind) => (into.faults[kind] += tally.faults[kind]));
  (Object.keys(tally.clientEnds) as ClientAction[]).forEach((kind) => (into.clientEnds[kind] += tally.clientEnds[kind]));
  Object.entries(tally.closeCodes).forEach(([code, n]) => count(into.closeCodes, code, n));
  Object.entries(tally.endCauses).forEach(([cause, n]) => count(into.endCauses, cause, n));
  into.reapedAfterFreeze += tally.reapedAfterFreeze;
  into.violations += tally.violations;
  into.wallMs += tally.wallMs;
}

function count(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

function describeTally(tally: Tally): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
  return (
    `${tally.trials} trial(s), ${tally.sessions} sessions (${tally.ready} ready); faults: ${list(tally.faults)}; ` +
    `clients left: ${list(tally.clientEnds)}; closes seen: ${list(tally.closeCodes)}; end causes: ${list(tally.endCauses)}; ` +
    `instance_lost after a freeze alone: ${tally.reapedAfterFreeze}; violations: ${tally.violations}; wall ${(tally.wallMs / 1000).toFixed(1)} s`
  );
}

import { SeededRandom } from './seeded-random.js';

/*
 * What a chaos trial does, drawn from its seed alone: the instances, the users and their credits, when each client
 * opens a session where and how it ends, its connection's blips, and the faults. The same seed gives the same plan;
 * the processes' timing still varies from run to run.
 */

export type LiveGatewayName = 'dubbing' | 'subtitles';
export const GATEWAY_PATHS: Record<LiveGatewayName, string> = { dubbing: '/ws/live-dubbing', subtitles: '/ws/live-subtitles' };

/** How the client leaves: `stop` message, a close frame, gone without one (socket destroyed), or kept open until the trial ends. */
export type ClientEnd = 'stop' | 'close' | 'vanish' | 'keep';

export interface PlannedUser {
  credits: number;
}

export interface PlannedSession {
  user: number;
  instance: number;
  gateway: LiveGatewayName;
  openAtMs: number;
  /** How many times the client streams the speech sample (1.7 s of audio each) once ready; 0 for none. */
  audioRepeats: number;
  end: ClientEnd;
  endAtMs: number;
  /** Connections lost on the way, in time order, before `endAtMs` (or the trial's end for `keep`). */
  blips: PlannedBlip[];
}

/**
 * The client's connection goes away without a close frame at `atMs`; `resume` after `afterMs` on `instance` with its
 * last resume token, or never (its session then waits out its resume window). A blip that is not resumed, or whose
 * resume is refused, is the client's last act.
 */
export interface PlannedBlip {
  atMs: number;
  resume?: { afterMs: number; instance: number };
}

export type PlannedFault =
  | { kind: 'kill'; instance: number; atMs: number }
  | { kind: 'pause'; instance: number; atMs: number; forMs: number }
  | { kind: 'freeze'; atMs: number; forMs: number };

export type FaultKind = PlannedFault['kind'];

export interface TrialPlan {
  seed: number;
  instances: number;
  durationMs: number;
  users: PlannedUser[];
  sessions: PlannedSession[];
  faults: PlannedFault[];
}

/** The instance no fault kills, so a survivor is left to sweep the others' sessions. */
export const ANCHOR_INSTANCE = 0;
/** Credits no trial can use up: these users are never capped. */
export const AMPLE_CREDITS = 10_000;
/**
 * Blips are drawn from a sequence of their own (the seed mixed with this), so a seed plans the same sessions and
 * faults as it did before blips existed.
 */
const BLIP_SEED_SALT = 0x5bd1e995;
/** A resume comes this long after its blip at most: past a 3-s resume window now and then. */
export const MAX_RESUME_DELAY_MS = 4500;

export function planTrial(seed: number): TrialPlan {
  const random = new SeededRandom(seed);
  const instances = random.int(2, 3);
  const durationMs = random.int(10_000, 20_000);
  const faults = planFaults(random, instances, durationMs);
  const users: PlannedUser[] = [
    ...Array.from({ length: random.int(2, 3) }, () => ({ credits: AMPLE_CREDITS })),
    // A few seconds' worth: it runs out mid-trial, or cannot even hold a second session's estimate.
    { credits: random.int(6, 24) },
  ];
  const planned = users.flatMap((_, user) => planSessions(random, user, instances, durationMs, faults));
  const blipRandom = new SeededRandom((seed ^ BLIP_SEED_SALT) >>> 0);
  const sessions = planned.map((session) => ({ ...session, blips: planBlips(blipRandom, session, instances, durationMs, faults) }));
  return { seed, instances, durationMs, users, sessions, faults };
}

function planFaults(random: SeededRandom, instances: number, durationMs: number): PlannedFault[] {
  const times = Array.from({ length: random.int(2, 6) }, () => random.int(1000, durationMs - 500)).sort((a, b) => a - b);
  const killed = new Set<number>();
  const pausedUntil = new Array<number>(instances).fill(0);
  let frozenUntil = 0;
  const faults: PlannedFault[] = [];
  for (const atMs of times) {
    const killable = range(instances).filter((i) => i !== ANCHOR_INSTANCE && !killed.has(i));
    const pausable = range(instances).filter((i) => !killed.has(i) && pausedUntil[i] <= atMs);
    const kinds: FaultKind[] = [
      ...(killable.length > 0 ? ['kill' as const] : []),
      ...(pausable.length > 0 ? ['pause' as const] : []),
      ...(frozenUntil <= atMs ? ['freeze' as const] : []),
    ];
    if (kinds.length === 0) {
      continue;
    }
    const kind = random.pick(kinds);
    if (kind === 'kill') {
      const instance = random.pick(killable);
      killed.add(instance);
      faults.push({ kind, instance, atMs });
    } else if (kind === 'pause') {
      const instance = random.pick(pausable);
      const forMs = random.int(500, 5000);
      pausedUntil[instance] = atMs + forMs;
      faults.push({ kind, instance, atMs, forMs });
    } else {
      const forMs = random.int(500, 4000);
      frozenUntil = atMs + forMs;
      faults.push({ kind, atMs, forMs });
    }
  }
  return faults;
}

/** Two to four sessions, spread over the instances alive when each opens; the first two open at once. */
function planSessions(
  random: SeededRandom,
  user: number,
  instances: number,
  durationMs: number,
  faults: PlannedFault[],
): Omit<PlannedSession, 'blips'>[] {
  const count = random.int(2, 4);
  const offset = random.int(0, instances - 1);
  return range(count).map((k) => {
    const openAtMs = k < 2 ? random.int(0, 1000) : random.int(0, Math.floor(durationMs * 0.6));
    const alive = aliveAt(openAtMs, instances, faults);
    return {
      user,
      instance: alive[(offset + k) % alive.length],
      gateway: random.pick(['dubbing', 'subtitles'] as const),
      openAtMs,
      audioRepeats: random.chance(0.5) ? random.int(1, 3) : 0,
      end: random.pick(['stop', 'close', 'vanish', 'keep'] as const),
      endAtMs: random.int(openAtMs + 1000, durationMs),
    };
  });
}

/**
 * Up to two blips a session, once it is live (a second after it opens) and half a second before its client leaves;
 * four in five are resumed, mostly within 2 s, at most after 4.5 s, on an instance no fault has killed by then.
 */
function planBlips(
  random: SeededRandom,
  session: Omit<PlannedSession, 'blips'>,
  instances: number,
  durationMs: number,
  faults: PlannedFault[],
): PlannedBlip[] {
  const lastMs = (session.end === 'keep' ? durationMs : session.endAtMs) - 500;
  const blips: PlannedBlip[] = [];
  let fromMs = session.openAtMs + 1000;
  const count = random.pick([0, 0, 1, 1, 2]);
  for (let k = 0; k < count && fromMs < lastMs; k++) {
    const atMs = random.int(fromMs, lastMs);
    // Mostly soon; now and then past the window.
    const afterMs = random.chance(0.8) ? random.int(100, 2000) : random.int(2000, MAX_RESUME_DELAY_MS);
    const resumes = random.chance(0.8) && atMs + afterMs < durationMs - 500;
    if (!resumes) {
      blips.push({ atMs });
      break;
    }
    blips.push({ atMs, resume: { afterMs, instance: random.pick(aliveAt(atMs + afterMs, instances, faults)) } });
    fromMs = atMs + afterMs + 1000;
  }
  return blips;
}

/** The instances no planned kill has hit by `atMs`. */
function aliveAt(atMs: number, instances: number, faults: PlannedFault[]): number[] {
  return range(instances).filter((i) => !faults.some((f) => f.kind === 'kill' && f.instance === i && f.atMs <= atMs));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

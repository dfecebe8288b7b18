import { checkTrial, type BlipRecord, type Books, type ClientRecord, type FaultRecord } from './chaos-checks.js';

const T0 = Date.UTC(2030, 0, 1);
const TIMING = { heartbeatMs: 500, marginMs: 1000 };
const EMAIL = 'viewer@example.com';

/** One session of 10.2 s at 1 credit/s on instance `a`, its client and the books it leaves; `overrides` bend one part. */
function trial(
  overrides: {
    endCause?: string;
    endAtMs?: number;
    charged?: number;
    granted?: number;
    action?: ClientRecord['action'];
    closed?: ClientRecord['closed'];
    faults?: FaultRecord[];
    blips?: BlipRecord[];
  } = {},
) {
  const endAtMs = overrides.endAtMs ?? T0 + 10_200;
  const charged = overrides.charged ?? 11;
  const granted = overrides.granted ?? 1000;
  const books: Books = {
    liveSessions: [
      {
        _id: 'live-1',
        user_id: 'user-1',
        email: EMAIL,
        feature: 'live_dubbing',
        status: 'ended',
        started_at: new Date(T0),
        beta_session_id: 'beta-1',
        end_cause: overrides.endCause ?? 'user_stopped',
        end_at: new Date(endAtMs),
      },
    ],
    betaSessions: [
      { _id: 'beta-1', email: EMAIL, status: 'ended', rate: 1, estimated_cost: 5, started_at: new Date(T0), charged_credits: charged },
    ],
    quotaSessions: [{ _id: 'quota-1', user_id: 'user-1', status: 'completed' }],
    accounts: [{ _id: EMAIL, total_granted: granted, total_debited: charged, held: 0, sessions: {} }],
    ledger: [
      { _id: `enrollment:${EMAIL}`, email: EMAIL, type: 'grant', amount: granted, created_at: new Date(T0 - 1000) },
      { _id: 'debit:beta-1:1', email: EMAIL, type: 'debit', amount: -charged, session_id: 'beta-1', created_at: new Date(endAtMs) },
    ],
    drifts: [],
  };
  const client: ClientRecord = {
    index: 0,
    email: EMAIL,
    userId: 'user-1',
    feature: 'live_dubbing',
    instance: 'a',
    authAtMs: T0 - 50,
    liveSessionId: 'live-1',
    action: 'action' in overrides ? overrides.action : { kind: 'stop', atMs: T0 + 10_100 },
    closed: overrides.closed ?? { code: 1000, atMs: T0 + 10_300 },
    blips: overrides.blips,
  };
  return { clients: [client], faults: overrides.faults ?? [], books, timing: TIMING };
}

const checks = (input: ReturnType<typeof trial>) => checkTrial(input).violations.map((violation) => violation.check);

/**
 * The client drops its connection to `a` at 4 s (last heard at 3.9 s: `lost_at`), asks `b` to resume at 6 s and has
 * `ready` at 6.1 s; the resume took place at 6.05 s, so the account moved the start by 2.15 s (`movedByMs`, unless
 * overridden). Connected 3.9 s + 4.15 s of the 10.2 s: 9 credits.
 */
function resumedBlip(overrides: { movedByMs?: number; lostAtMs?: number } = {}): BlipRecord[] {
  return [
    {
      instance: 'a',
      droppedAtMs: T0 + 4000,
      lostAtMs: 'lostAtMs' in overrides ? overrides.lostAtMs : T0 + 3900,
      resume: {
        instance: 'b',
        sentAtMs: T0 + 6000,
        repliedAtMs: T0 + 6100,
        outcome: 'ready',
        movedByMs: 'movedByMs' in overrides ? overrides.movedByMs : 2150,
      },
    },
  ];
}

describe('checkTrial', () => {
  it('finds nothing wrong with a session stopped by its client and charged its started seconds', () => {
    expect(checks(trial())).toEqual([]);
  });

  it('finds a session charged for time after its end_at', () => {
    expect(checks(trial({ charged: 12 }))).toEqual(['I3: charged for time after the session’s end_at']);
  });

  it('finds a session charged less than its time while the balance allowed more', () => {
    expect(checks(trial({ charged: 10 }))).toEqual(['I3: charged less than its time while the balance allowed more']);
  });

  it('accepts a session charged less than its time when the balance ran out', () => {
    expect(checks(trial({ charged: 8, granted: 8 }))).toEqual([]);
  });

  it('finds a session ended well after its client stopped', () => {
    expect(checks(trial({ endAtMs: T0 + 12_500, charged: 13, closed: { code: 1000, atMs: T0 + 12_600 } }))).toEqual([
      'end_at after the client left or saw the socket close',
    ]);
  });

  it('accepts an end at the resume of an owner that was paused when its client stopped', () => {
    const faults: FaultRecord[] = [{ kind: 'pause', instance: 'a', startMs: T0 + 9000, endMs: T0 + 12_400 }];
    expect(checks(trial({ endAtMs: T0 + 12_500, charged: 13, closed: { code: 1000, atMs: T0 + 12_600 }, faults }))).toEqual([]);
  });

  it('accepts an end at the resume of an owner that was paused when its client vanished', () => {
    const faults: FaultRecord[] = [{ kind: 'pause', instance: 'a', startMs: T0 + 9000, endMs: T0 + 12_400 }];
    const vanished = { action: { kind: 'vanish' as const, atMs: T0 + 10_100 }, closed: { code: 1006, atMs: T0 + 10_100 } };
    expect(checks(trial({ endAtMs: T0 + 12_500, charged: 13, faults, ...vanished }))).toEqual([]);
  });

  it('accepts a vanished client charged up to when its paused owner last heard from it', () => {
    const faults: FaultRecord[] = [{ kind: 'pause', instance: 'a', startMs: T0 + 9000, endMs: T0 + 12_400 }];
    const vanished = { action: { kind: 'vanish' as const, atMs: T0 + 10_100 }, closed: { code: 1006, atMs: T0 + 10_100 } };
    expect(checks(trial({ endCause: 'disconnected', endAtMs: T0 + 8_800, charged: 9, faults, ...vanished }))).toEqual([]);
  });

  it('finds a vanished client ended long before it was last heard from', () => {
    const vanished = { action: { kind: 'vanish' as const, atMs: T0 + 10_100 }, closed: { code: 1006, atMs: T0 + 10_100 } };
    expect(checks(trial({ endCause: 'disconnected', endAtMs: T0 + 5_000, charged: 5, ...vanished }))).toEqual([
      'ended disconnected before the client left',
    ]);
  });

  it('finds an instance_lost end at the last heartbeat before a pause whose client was closed 1011 rather than 4409', () => {
    const faults: FaultRecord[] = [{ kind: 'pause', instance: 'a', startMs: T0 + 10_400, endMs: T0 + 14_000 }];
    const lost = trial({ endCause: 'instance_lost', action: undefined, closed: { code: 1011, atMs: T0 + 14_100 }, faults });
    expect(checks(lost)).toEqual(['closed 1011 instead of 4409 session_moved (or 4503 in a freeze) after its session ended instance_lost']);
  });

  it('accepts 4503 for a session suspended in a freeze, then found lost when its owner was paused before writing it', () => {
    const faults: FaultRecord[] = [
      { kind: 'freeze', startMs: T0 + 9_000, endMs: T0 + 12_000 },
      { kind: 'pause', instance: 'a', startMs: T0 + 12_300, endMs: T0 + 17_000 },
    ];
    const suspended = { endCause: 'instance_lost' as const, endAtMs: T0 + 9_000, charged: 9, action: undefined, faults };
    expect(checks(trial({ ...suspended, closed: { code: 4503, atMs: T0 + 11_000 } }))).toEqual([]);
    // The same close with no freeze under it is not explained.
    expect(checks(trial({ ...suspended, faults: faults.slice(1), closed: { code: 4503, atMs: T0 + 11_000 } }))).toContain(
      'closed 4503 instead of 4409 session_moved (or 4503 in a freeze) after its session ended instance_lost',
    );
  });

  it('accepts 4503 from an owner that, paused while it found the database frozen, wakes after the thaw', () => {
    const faults: FaultRecord[] = [
      { kind: 'freeze', startMs: T0 + 9_000, endMs: T0 + 12_000 },
      { kind: 'pause', instance: 'a', startMs: T0 + 11_000, endMs: T0 + 16_000 },
    ];
    const lost = { endCause: 'instance_lost' as const, endAtMs: T0 + 9_000, charged: 9, action: undefined };
    expect(checks(trial({ ...lost, faults, closed: { code: 4503, atMs: T0 + 16_050 } }))).toEqual([]);
    // Paused only after the thaw (beyond the margin), it had seen the database back: 4503 is not explained.
    const pausedLater: FaultRecord[] = [faults[0], { kind: 'pause', instance: 'a', startMs: T0 + 14_000, endMs: T0 + 16_000 }];
    expect(checks(trial({ ...lost, faults: pausedLater, closed: { code: 4503, atMs: T0 + 16_050 } }))).toContain(
      'closed 4503 instead of 4409 session_moved (or 4503 in a freeze) after its session ended instance_lost',
    );
  });

  it('finds an instance_lost end that no fault of its owner explains', () => {
    const faults: FaultRecord[] = [{ kind: 'kill', instance: 'b', startMs: T0 + 10_000 }];
    const lost = trial({ endCause: 'instance_lost', action: undefined, closed: { code: 4409, atMs: T0 + 10_300 }, faults });
    expect(checks(lost)).toEqual(['instance_lost at an end_at no fault of its owner explains']);
  });

  it('accepts an instance_lost end at the last heartbeat before its owner was killed', () => {
    const faults: FaultRecord[] = [{ kind: 'kill', instance: 'a', startMs: T0 + 10_600 }];
    const lost = trial({ endCause: 'instance_lost', action: undefined, closed: { code: 1006, atMs: T0 + 10_600 }, faults });
    expect(checks(lost)).toEqual([]);
  });

  it('counts an instance_lost end explained only by a frozen database apart from the violations', () => {
    const faults: FaultRecord[] = [{ kind: 'freeze', startMs: T0 + 10_400, endMs: T0 + 14_000 }];
    const lost = checkTrial(trial({ endCause: 'instance_lost', action: undefined, closed: { code: 4409, atMs: T0 + 14_500 }, faults }));
    expect(lost).toEqual({ violations: [], reapedAfterFreeze: 1 });
  });

  it('finds a ledger that does not replay to the balance and credits still held', () => {
    const input = trial();
    input.books.accounts[0] = { ...input.books.accounts[0], total_debited: 12, held: 5 };
    expect(checks(input)).toEqual([
      'I2: the ledger does not replay to the balance',
      'I2: credits still held after every session ended',
      'user debited other than the sum of its sessions’ charges',
    ]);
  });

  it('finds records left running', () => {
    const input = trial();
    input.books.liveSessions[0].status = 'ending';
    input.books.quotaSessions[0].status = 'active';
    expect(checks(input)).toEqual(['live session left ending', 'quota session left active']);
  });

  it('accepts a resumed session charged its connected seconds: the gap between lost_at and the resume uncharged', () => {
    expect(checks(trial({ charged: 9, blips: resumedBlip() }))).toEqual([]);
  });

  it('finds a resumed session charged for its gap', () => {
    expect(checks(trial({ charged: 11, blips: resumedBlip() }))).toEqual(['I7: charged for time it was not connected']);
  });

  it('finds a resume that left its gap charged: the start not moved', () => {
    expect(checks(trial({ charged: 11, blips: resumedBlip({ movedByMs: 0 }) }))).toEqual([
      'I7: a resume left uncharged other than the gap its client saw',
      'I7: a resume moved the start by other than resume − lost_at',
    ]);
  });

  it('finds a resume that cut the charge elsewhere than at lost_at', () => {
    expect(checks(trial({ charged: 10, blips: resumedBlip({ movedByMs: 1000 }) }))).toEqual([
      'I7: a resume moved the start by other than resume − lost_at',
    ]);
  });

  it('finds a lost_at after the client dropped its connection', () => {
    expect(checks(trial({ charged: 10, blips: resumedBlip({ lostAtMs: T0 + 5500, movedByMs: 550 }) }))).toEqual([
      'I7: a resume left uncharged other than the gap its client saw',
      'I7: lost_at outside when the owner last heard from the client',
    ]);
  });

  it('accepts a lost_at after the drop when its owner was paused across it: frames are stamped when read', () => {
    const faults: FaultRecord[] = [{ kind: 'pause', instance: 'a', startMs: T0 + 3950, endMs: T0 + 5500 }];
    expect(checks(trial({ charged: 10, faults, blips: resumedBlip({ lostAtMs: T0 + 5500, movedByMs: 550 }) }))).toEqual([]);
  });

  it('bounds the charge by what the client saw when the moved start was not read', () => {
    const unread = resumedBlip({ movedByMs: undefined, lostAtMs: undefined });
    // The gap lies between 1 s (6 s − 4 s − the margin) and 3.6 s (6.1 s − 2.5 s, the earliest cut): 7 to 10 credits.
    expect(checks(trial({ charged: 7, blips: unread }))).toEqual([]);
    expect(checks(trial({ charged: 10, blips: unread }))).toEqual([]);
    expect(checks(trial({ charged: 11, blips: unread }))).toEqual(['I7: charged for time it was not connected']);
    expect(checks(trial({ charged: 6, blips: unread }))).toEqual(['I3: charged less than its time while the balance allowed more']);
  });

  it('accepts a blip never resumed, ended disconnected where its owner last heard from the client', () => {
    const blip = { action: { kind: 'blip' as const, atMs: T0 + 10_100 }, closed: { code: 1006, atMs: T0 + 10_100 } };
    const never: BlipRecord[] = [{ instance: 'a', droppedAtMs: T0 + 10_100, lostAtMs: T0 + 9_900 }];
    expect(checks(trial({ endCause: 'disconnected', endAtMs: T0 + 9_900, charged: 10, blips: never, ...blip }))).toEqual([]);
    expect(checks(trial({ endCause: 'disconnected', endAtMs: T0 + 12_000, charged: 12, blips: never, ...blip }))).toEqual([
      'end_at after the client left or saw the socket close',
    ]);
  });

  it('accepts a session refused its resume, ended disconnected at lost_at, and does not count the refused resume’s gap', () => {
    const refused = resumedBlip();
    refused[0].resume = { ...refused[0].resume!, outcome: 'resume_failed', movedByMs: undefined };
    const left = { action: { kind: 'blip' as const, atMs: T0 + 4000 }, closed: { code: 1006, atMs: T0 + 4000 } };
    expect(checks(trial({ endCause: 'disconnected', endAtMs: T0 + 3900, charged: 4, blips: refused, ...left }))).toEqual([]);
  });
});

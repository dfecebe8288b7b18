import { ManualClock } from '../../test/harness/manual-clock.js';
import { Clock } from '../common/clock.js';
import { AudioRateMeter, validateAudioFrame } from './audio-input.js';

const MAX_FRAME_BYTES = 65536;
/** Twice real time (32 000 B/s) over 5 s. */
const ALLOWANCE_BYTES = 320_000;
/** 100 ms of real-time audio. */
const FRAME_BYTES = 3200;

/** A wall clock that an NTP correction can move backwards. */
class SteppingClock extends Clock {
  constructor(public time: number) {
    super();
  }

  now(): number {
    return this.time;
  }

  setTimer(): () => void {
    return () => undefined;
  }
}

describe(validateAudioFrame.name, () => {
  it('accepts the smallest frame, one sample', () => {
    expect(validateAudioFrame(Buffer.alloc(2), MAX_FRAME_BYTES)).toEqual({ ok: true });
  });

  it('accepts a frame of exactly the maximum size', () => {
    expect(validateAudioFrame(Buffer.alloc(MAX_FRAME_BYTES), MAX_FRAME_BYTES)).toEqual({ ok: true });
  });

  it('rejects an empty frame', () => {
    expect(validateAudioFrame(Buffer.alloc(0), MAX_FRAME_BYTES)).toEqual({
      ok: false,
      reason: 'empty',
      message: 'Audio frame is empty; send PCM s16le mono 16 kHz audio in binary frames',
    });
  });

  it('rejects a frame of odd length', () => {
    expect(validateAudioFrame(Buffer.alloc(1001), MAX_FRAME_BYTES)).toEqual({
      ok: false,
      reason: 'odd_length',
      message: 'Audio frame is 1001 bytes; PCM s16le samples are 2 bytes each, so a frame needs an even length',
    });
  });

  it('rejects a single byte as odd length', () => {
    expect(validateAudioFrame(Buffer.alloc(1), MAX_FRAME_BYTES)).toMatchObject({ ok: false, reason: 'odd_length' });
  });

  it('rejects a frame one sample over the maximum', () => {
    expect(validateAudioFrame(Buffer.alloc(MAX_FRAME_BYTES + 2), MAX_FRAME_BYTES)).toEqual({
      ok: false,
      reason: 'too_large',
      message: 'Audio frame is 65538 bytes; the limit is 65536 bytes',
    });
  });
});

describe(AudioRateMeter.name, () => {
  let clock: ManualClock;
  let meter: AudioRateMeter;

  beforeEach(() => {
    clock = new ManualClock();
    meter = new AudioRateMeter(clock);
  });

  function acceptFrames(count: number, bytes = FRAME_BYTES): boolean[] {
    return Array.from({ length: count }, () => meter.accept(bytes));
  }

  it('allows twice real time over five seconds', () => {
    expect(meter.allowanceBytes).toBe(ALLOWANCE_BYTES);
  });

  it('accepts a start-up burst of exactly the whole window allowance', () => {
    expect(acceptFrames(100)).toEqual(Array(100).fill(true));
  });

  it('rejects one sample beyond the allowance', () => {
    acceptFrames(100);
    expect(meter.accept(2)).toBe(false);
  });

  it('rejects a single frame larger than the allowance', () => {
    expect(meter.accept(ALLOWANCE_BYTES + 2)).toBe(false);
  });

  it('does not count rejected bytes', () => {
    meter.accept(ALLOWANCE_BYTES - 2);
    expect(meter.accept(4)).toBe(false);
    expect(meter.accept(2)).toBe(true);
  });

  it('still remembers traffic just under five seconds old', async () => {
    meter.accept(ALLOWANCE_BYTES);
    await clock.advance(4999);
    expect(meter.accept(2)).toBe(false);
  });

  it('forgets traffic five seconds old', async () => {
    meter.accept(ALLOWANCE_BYTES);
    await clock.advance(5000);
    expect(meter.accept(ALLOWANCE_BYTES)).toBe(true);
  });

  it('forgets only the traffic that left the window', async () => {
    meter.accept(ALLOWANCE_BYTES / 2);
    await clock.advance(2500);
    meter.accept(ALLOWANCE_BYTES / 2);
    await clock.advance(2500);
    expect(meter.accept(ALLOWANCE_BYTES / 2 + 2)).toBe(false);
    expect(meter.accept(ALLOWANCE_BYTES / 2)).toBe(true);
  });

  it('forgets everything after a long pause', async () => {
    meter.accept(ALLOWANCE_BYTES);
    await clock.advance(3_600_000);
    expect(meter.accept(ALLOWANCE_BYTES)).toBe(true);
  });

  it('never rejects a client streaming at real time for ten minutes', async () => {
    const rejectedAtMs: number[] = [];
    for (let ms = 0; ms < 600_000; ms += 100) {
      if (!meter.accept(FRAME_BYTES)) {
        rejectedAtMs.push(ms);
      }
      await clock.advance(100);
    }
    expect(rejectedAtMs).toEqual([]);
  });

  it('never rejects a client streaming at exactly twice real time', async () => {
    const rejectedAtMs: number[] = [];
    for (let ms = 0; ms < 60_000; ms += 100) {
      if (!meter.accept(2 * FRAME_BYTES)) {
        rejectedAtMs.push(ms);
      }
      await clock.advance(100);
    }
    expect(rejectedAtMs).toEqual([]);
  });

  it('rejects a client sustaining more than twice real time within the first window', async () => {
    let firstRejectionMs: number | undefined;
    for (let ms = 0; ms < 10_000 && firstRejectionMs === undefined; ms += 100) {
      if (!meter.accept(6600)) {
        firstRejectionMs = ms;
      }
      await clock.advance(100);
    }
    expect(firstRejectionMs).toBe(4800);
  });

  it('neither forgets nor reopens traffic when the system clock steps back', () => {
    const steppingClock = new SteppingClock(10_000);
    const stepped = new AudioRateMeter(steppingClock);
    stepped.accept(ALLOWANCE_BYTES);
    steppingClock.time = 4_000;
    expect(stepped.accept(2)).toBe(false);
    steppingClock.time = 15_000;
    expect(stepped.accept(ALLOWANCE_BYTES)).toBe(true);
  });

  it('rejects a window that is not a whole number of buckets', () => {
    expect(() => new AudioRateMeter(clock, { windowMs: 5000, bucketMs: 300 })).toThrow(
      'A 5000-ms window is not a whole number of 300-ms buckets',
    );
  });
});

import type { Clock } from '../common/clock.js';
import { BYTES_PER_SAMPLE, SESSION_BYTES_PER_SECOND } from '../dubbing/pcm-format.js';

export type AudioFrameProblem = 'empty' | 'odd_length' | 'too_large';

export type AudioFrameCheck = { ok: true } | { ok: false; reason: AudioFrameProblem; message: string };

/** Shared by every valid frame: the check, ten times a second per session, allocates nothing then. */
const VALID_FRAME: AudioFrameCheck = Object.freeze({ ok: true });

/** A client audio frame (docs/protocol.md#audio) is PCM s16le mono 16 kHz, of even length, 2 B ≤ size ≤ `maxBytes`. */
export function validateAudioFrame(frame: Buffer, maxBytes: number): AudioFrameCheck {
  if (frame.length === 0) {
    return { ok: false, reason: 'empty', message: 'Audio frame is empty; send PCM s16le mono 16 kHz audio in binary frames' };
  }
  if (frame.length > maxBytes) {
    return { ok: false, reason: 'too_large', message: `Audio frame is ${frame.length} bytes; the limit is ${maxBytes} bytes` };
  }
  if (frame.length % BYTES_PER_SAMPLE !== 0) {
    return {
      ok: false,
      reason: 'odd_length',
      message: `Audio frame is ${frame.length} bytes; PCM s16le samples are 2 bytes each, so a frame needs an even length`,
    };
  }
  return VALID_FRAME;
}

export interface AudioRateOptions {
  /** Bytes per second of real-time audio. */
  bytesPerSecond: number;
  /** How many times real time a client may send, measured over the window. */
  factor: number;
  windowMs: number;
  /** Counting granularity; the window must be a whole number of buckets. */
  bucketMs: number;
}

const DEFAULT_AUDIO_RATE_OPTIONS: AudioRateOptions = {
  bytesPerSecond: SESSION_BYTES_PER_SECOND,
  factor: 2,
  windowMs: 5000,
  bucketMs: 100,
};

/**
 * Tells a real-time stream from a flood (docs/protocol.md#audio): accepts a frame while the bytes accepted in the trailing window,
 * this frame included, stay within `factor` × real time. The first window may be spent at once (a start-up burst).
 * Counts live in a fixed ring of buckets, so memory does not grow with the frame rate; traffic leaves the window on
 * the first bucket boundary at most `windowMs` after it arrived. Rejected frames are not counted.
 */
export class AudioRateMeter {
  readonly allowanceBytes: number;
  private readonly bucketMs: number;
  private readonly buckets: number[];
  private currentBucket: number | undefined;
  private bytesInWindow = 0;

  constructor(
    private readonly clock: Clock,
    options: Partial<AudioRateOptions> = {},
  ) {
    const { bytesPerSecond, factor, windowMs, bucketMs } = { ...DEFAULT_AUDIO_RATE_OPTIONS, ...options };
    const bucketCount = windowMs / bucketMs;
    if (!Number.isInteger(bucketCount) || bucketCount < 1) {
      throw new RangeError(`A ${windowMs}-ms window is not a whole number of ${bucketMs}-ms buckets`);
    }
    this.allowanceBytes = Math.floor((factor * bytesPerSecond * windowMs) / 1000);
    this.bucketMs = bucketMs;
    this.buckets = new Array<number>(bucketCount).fill(0);
  }

  /** Records `bytes` and returns true if they fit the allowance; returns false (recording nothing) if the client floods. */
  accept(bytes: number): boolean {
    const bucket = this.moveTo(Math.floor(this.clock.now() / this.bucketMs));
    if (this.bytesInWindow + bytes > this.allowanceBytes) {
      return false;
    }
    this.buckets[bucket % this.buckets.length] += bytes;
    this.bytesInWindow += bytes;
    return true;
  }

  /** Empties the buckets that fell out of the window; returns the bucket now current. */
  private moveTo(bucket: number): number {
    if (this.currentBucket === undefined) {
      this.currentBucket = bucket;
    }
    // A clock stepping back keeps counting in the newest bucket rather than reopening old ones.
    const steps = Math.min(bucket - this.currentBucket, this.buckets.length);
    for (let step = 1; step <= steps; step++) {
      const slot = (this.currentBucket + step) % this.buckets.length;
      this.bytesInWindow -= this.buckets[slot];
      this.buckets[slot] = 0;
    }
    this.currentBucket = Math.max(bucket, this.currentBucket);
    return this.currentBucket;
  }
}

import { BYTES_PER_SAMPLE, SESSION_SAMPLE_RATE_HZ } from './pcm-format.js';
import type { PcmLease, PcmPool } from './pcm-pool.js';

/** A stretch of speech; times are stream-relative, computed from sample counts. */
export interface VoiceSegment {
  sequence: number;
  pcm: Buffer;
  startMs: number;
  endMs: number;
  /** When the segmenter has a pool: `pcm` is pooled memory, read only while this lease is held. */
  lease?: PcmLease;
}

export interface VoiceActivityOptions {
  sampleRateHz: number;
  /** Analysis frame length; a frame must hold a whole number of samples. */
  frameMs: number;
  /** A frame whose RMS (in s16 sample units) is at or above this is speech. */
  thresholdRms: number;
  /** Silence this long ends a segment. */
  hangoverMs: number;
  /** Segments shorter than this (clicks, pops) are dropped. */
  minSegmentMs: number;
  /** A segment is cut at this length so latency stays bounded. */
  maxSegmentMs: number;
  /** Where segments' audio comes from; fresh buffers without one. */
  pool?: PcmPool;
}

const DEFAULT_VOICE_ACTIVITY_OPTIONS: VoiceActivityOptions = {
  sampleRateHz: SESSION_SAMPLE_RATE_HZ,
  frameMs: 20,
  thresholdRms: 500,
  hangoverMs: 300,
  minSegmentMs: 200,
  maxSegmentMs: 10_000,
};

/** The segment buffer starts at 0.5 s of audio and is dropped after a segment longer than 2 s. */
const INITIAL_SEGMENT_BYTES = (SESSION_SAMPLE_RATE_HZ * BYTES_PER_SAMPLE) / 2;
const MAX_KEPT_SEGMENT_BYTES = 4 * INITIAL_SEGMENT_BYTES;

/**
 * What a push that completed no segment returns (nearly every push: a segment spans many of a client's chunks):
 * shared, so such a push allocates no array.
 */
const NO_SEGMENTS: VoiceSegment[] = Object.freeze([]) as unknown as VoiceSegment[];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Where samples that cannot be read in place (odd byte offset, big-endian host) are copied, once per chunk. */
let scratch = new Int16Array(0);
let scratchBytes = new Uint8Array(0);

/** `count` s16le samples of `pcm` from `byteOffset`: a view when they can be read in place, else a shared scratch copy. */
function samplesAt(pcm: Buffer, byteOffset: number, count: number): Int16Array {
  const start = pcm.byteOffset + byteOffset;
  if (LITTLE_ENDIAN && start % BYTES_PER_SAMPLE === 0) {
    return new Int16Array(pcm.buffer, start, count);
  }
  if (scratch.length < count) {
    scratch = new Int16Array(count);
    scratchBytes = new Uint8Array(scratch.buffer);
  }
  if (LITTLE_ENDIAN) {
    pcm.copy(scratchBytes, 0, byteOffset, byteOffset + count * BYTES_PER_SAMPLE);
  } else {
    for (let i = 0; i < count; i++) {
      scratch[i] = pcm.readInt16LE(byteOffset + i * BYTES_PER_SAMPLE);
    }
  }
  return scratch;
}

/**
 * Whether the RMS of `count` samples from `start` is at least `thresholdRms`. It stops as soon as the sum of
 * squares reaches the threshold's, so a loud frame costs a few samples and only quiet frames are read whole.
 */
export function rmsReaches(samples: Int16Array, start: number, count: number, thresholdRms: number): boolean {
  const target = thresholdRms * thresholdRms * count;
  let sumOfSquares = 0;
  for (let i = start, end = start + count; i < end && sumOfSquares < target; i++) {
    sumOfSquares += samples[i] * samples[i];
  }
  return sumOfSquares >= target;
}

/**
 * Streaming energy-based segmenter for mono s16le PCM. Chunks may be any size and may split an analysis frame.
 * Memory is bounded: at most one partial frame plus one maximum-length segment.
 */
export class VoiceActivitySegmenter {
  private readonly options: VoiceActivityOptions;
  private readonly frameBytes: number;
  private readonly frameSamples: number;
  private readonly hangoverFrames: number;
  private readonly minSegmentFrames: number;
  private readonly maxSegmentFrames: number;
  private readonly partialFrame: Buffer;
  private partialBytes = 0;
  private framesAnalysed = 0;
  /** The current segment's audio, in a buffer that grows by doubling and is reused while it stays small. */
  private segment = Buffer.alloc(0);
  private segmentFrames = 0;
  private segmentStartFrame = 0;
  /** Frames of the current segment up to and including its last voiced frame. */
  private voicedSpanFrames = 0;
  private nextSequence = 1;
  /** Segments completed by the current push or cut; created for the first one. */
  private completed?: VoiceSegment[];

  constructor(options: Partial<VoiceActivityOptions> = {}) {
    this.options = { ...DEFAULT_VOICE_ACTIVITY_OPTIONS, ...options };
    const { sampleRateHz, frameMs, hangoverMs, minSegmentMs, maxSegmentMs } = this.options;
    const frameSamples = (sampleRateHz * frameMs) / 1000;
    if (!Number.isInteger(frameSamples) || frameSamples < 1) {
      throw new RangeError(`A ${frameMs}-ms frame at ${sampleRateHz} Hz is not a whole number of samples`);
    }
    this.frameSamples = frameSamples;
    this.frameBytes = frameSamples * BYTES_PER_SAMPLE;
    this.hangoverFrames = Math.max(1, Math.ceil(hangoverMs / frameMs));
    this.minSegmentFrames = Math.ceil(minSegmentMs / frameMs);
    this.maxSegmentFrames = Math.max(1, Math.floor(maxSegmentMs / frameMs));
    this.partialFrame = Buffer.alloc(this.frameBytes);
  }

  /** Feeds audio; returns the segments it completed, in order (a shared, frozen empty array when none). */
  push(chunk: Buffer): VoiceSegment[] {
    let offset = 0;
    if (this.partialBytes > 0) {
      offset = chunk.copy(this.partialFrame, this.partialBytes, 0, Math.min(chunk.length, this.frameBytes - this.partialBytes));
      this.partialBytes += offset;
      if (this.partialBytes < this.frameBytes) {
        return NO_SEGMENTS;
      }
      this.analyse(this.partialFrame, 0, samplesAt(this.partialFrame, 0, this.frameSamples), 0);
      this.partialBytes = 0;
    }
    const wholeFrames = Math.floor((chunk.length - offset) / this.frameBytes);
    if (wholeFrames > 0) {
      const samples = samplesAt(chunk, offset, wholeFrames * this.frameSamples);
      for (let frame = 0; frame < wholeFrames; frame++, offset += this.frameBytes) {
        this.analyse(chunk, offset, samples, frame * this.frameSamples);
      }
    }
    this.partialBytes = chunk.copy(this.partialFrame, 0, offset);
    return this.takeCompleted();
  }

  /** End of stream: returns the segment in progress, if long enough. A trailing partial frame is discarded. */
  flush(): VoiceSegment[] {
    this.partialBytes = 0;
    return this.cut();
  }

  /**
   * Ends the segment in progress now, as a pause would have, without waiting for the hangover (a client's `flush`:
   * the end of an utterance, docs/protocol.md). The stream goes on: a partial frame is kept for the next push, so
   * later segments keep their place in the stream. Returns the segment if it is long enough.
   */
  cut(): VoiceSegment[] {
    if (this.segmentFrames > 0) {
      this.endSegment();
    }
    return this.takeCompleted();
  }

  private takeCompleted(): VoiceSegment[] {
    const completed = this.completed ?? NO_SEGMENTS;
    this.completed = undefined;
    return completed;
  }

  /** One analysis frame: `frameBytes` of `pcm` from `byteOffset`, whose samples start at `samples[sampleOffset]`. */
  private analyse(pcm: Buffer, byteOffset: number, samples: Int16Array, sampleOffset: number): void {
    const frameIndex = this.framesAnalysed++;
    const voiced = rmsReaches(samples, sampleOffset, this.frameSamples, this.options.thresholdRms);
    if (this.segmentFrames === 0) {
      if (!voiced) {
        return;
      }
      this.segmentStartFrame = frameIndex;
    }
    this.append(pcm, byteOffset);
    if (voiced) {
      this.voicedSpanFrames = this.segmentFrames;
    }
    const trailingSilence = this.segmentFrames - this.voicedSpanFrames;
    if (trailingSilence >= this.hangoverFrames || this.segmentFrames >= this.maxSegmentFrames) {
      this.endSegment();
    }
  }

  /** Copies one frame of `pcm` (the caller's chunk or the reused partial frame) onto the segment. */
  private append(pcm: Buffer, byteOffset: number): void {
    const used = this.segmentFrames * this.frameBytes;
    if (used + this.frameBytes > this.segment.length) {
      const grown = Buffer.allocUnsafe(Math.max(INITIAL_SEGMENT_BYTES, this.segment.length * 2));
      this.segment.copy(grown, 0, 0, used);
      this.segment = grown;
    }
    pcm.copy(this.segment, used, byteOffset, byteOffset + this.frameBytes);
    this.segmentFrames++;
  }

  private endSegment(): void {
    const speechFrames = this.voicedSpanFrames;
    this.segmentFrames = 0;
    this.voicedSpanFrames = 0;
    if (speechFrames > 0 && speechFrames >= this.minSegmentFrames) {
      const { frameMs } = this.options;
      const bytes = speechFrames * this.frameBytes;
      const lease = this.options.pool?.lease(bytes);
      const pcm = lease?.pcm ?? Buffer.allocUnsafe(bytes);
      this.segment.copy(pcm, 0, 0, bytes);
      (this.completed ??= []).push({
        sequence: this.nextSequence++,
        pcm,
        startMs: this.segmentStartFrame * frameMs,
        endMs: (this.segmentStartFrame + speechFrames) * frameMs,
        lease,
      });
    }
    if (this.segment.length > MAX_KEPT_SEGMENT_BYTES) {
      this.segment = Buffer.alloc(0);
    }
  }
}

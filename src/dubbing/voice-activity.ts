import { BYTES_PER_SAMPLE, SESSION_SAMPLE_RATE_HZ } from './pcm-format.js';

/** A stretch of speech; times are stream-relative, computed from sample counts. */
export interface VoiceSegment {
  sequence: number;
  pcm: Buffer;
  startMs: number;
  endMs: number;
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
}

export const DEFAULT_VOICE_ACTIVITY_OPTIONS: VoiceActivityOptions = {
  sampleRateHz: SESSION_SAMPLE_RATE_HZ,
  frameMs: 20,
  thresholdRms: 500,
  hangoverMs: 300,
  minSegmentMs: 200,
  maxSegmentMs: 10_000,
};

/** Root mean square of the s16le samples in `frame`. */
export function frameRms(frame: Buffer): number {
  const samples = Math.floor(frame.length / BYTES_PER_SAMPLE);
  if (samples === 0) {
    return 0;
  }
  let sumOfSquares = 0;
  for (let offset = 0; offset < samples * BYTES_PER_SAMPLE; offset += BYTES_PER_SAMPLE) {
    const sample = frame.readInt16LE(offset);
    sumOfSquares += sample * sample;
  }
  return Math.sqrt(sumOfSquares / samples);
}

/**
 * Streaming energy-based segmenter for mono s16le PCM. Chunks may be any size and may split an analysis frame.
 * Memory is bounded: at most one partial frame plus the frames of one maximum-length segment.
 */
export class VoiceActivitySegmenter {
  private readonly options: VoiceActivityOptions;
  private readonly frameBytes: number;
  private readonly hangoverFrames: number;
  private readonly minSegmentFrames: number;
  private readonly maxSegmentFrames: number;
  private readonly partialFrame: Buffer;
  private partialBytes = 0;
  private framesAnalysed = 0;
  private segmentFrames: Buffer[] = [];
  private segmentStartFrame = 0;
  /** Frames of the current segment up to and including its last voiced frame. */
  private voicedSpanFrames = 0;
  private nextSequence = 1;

  constructor(options: Partial<VoiceActivityOptions> = {}) {
    this.options = { ...DEFAULT_VOICE_ACTIVITY_OPTIONS, ...options };
    const { sampleRateHz, frameMs, hangoverMs, minSegmentMs, maxSegmentMs } = this.options;
    const frameSamples = (sampleRateHz * frameMs) / 1000;
    if (!Number.isInteger(frameSamples) || frameSamples < 1) {
      throw new RangeError(`A ${frameMs}-ms frame at ${sampleRateHz} Hz is not a whole number of samples`);
    }
    this.frameBytes = frameSamples * BYTES_PER_SAMPLE;
    this.hangoverFrames = Math.max(1, Math.ceil(hangoverMs / frameMs));
    this.minSegmentFrames = Math.ceil(minSegmentMs / frameMs);
    this.maxSegmentFrames = Math.max(1, Math.floor(maxSegmentMs / frameMs));
    this.partialFrame = Buffer.alloc(this.frameBytes);
  }

  /** Feeds audio; returns the segments it completed, in order. */
  push(chunk: Buffer): VoiceSegment[] {
    const completed: VoiceSegment[] = [];
    let offset = 0;
    if (this.partialBytes > 0) {
      offset = chunk.copy(this.partialFrame, this.partialBytes, 0, Math.min(chunk.length, this.frameBytes - this.partialBytes));
      this.partialBytes += offset;
      if (this.partialBytes < this.frameBytes) {
        return completed;
      }
      this.analyse(this.partialFrame, completed);
      this.partialBytes = 0;
    }
    for (; chunk.length - offset >= this.frameBytes; offset += this.frameBytes) {
      this.analyse(chunk.subarray(offset, offset + this.frameBytes), completed);
    }
    this.partialBytes = chunk.copy(this.partialFrame, 0, offset);
    return completed;
  }

  /** End of stream: returns the segment in progress, if long enough. A trailing partial frame is discarded. */
  flush(): VoiceSegment[] {
    const completed: VoiceSegment[] = [];
    this.partialBytes = 0;
    if (this.segmentFrames.length > 0) {
      this.endSegment(completed);
    }
    return completed;
  }

  private analyse(frame: Buffer, completed: VoiceSegment[]): void {
    const frameIndex = this.framesAnalysed++;
    const voiced = frameRms(frame) >= this.options.thresholdRms;
    if (this.segmentFrames.length === 0) {
      if (!voiced) {
        return;
      }
      this.segmentStartFrame = frameIndex;
    }
    // Copied: `frame` is a view into the caller's chunk or the reused partial-frame buffer.
    this.segmentFrames.push(Buffer.from(frame));
    if (voiced) {
      this.voicedSpanFrames = this.segmentFrames.length;
    }
    const trailingSilence = this.segmentFrames.length - this.voicedSpanFrames;
    if (trailingSilence >= this.hangoverFrames || this.segmentFrames.length >= this.maxSegmentFrames) {
      this.endSegment(completed);
    }
  }

  private endSegment(completed: VoiceSegment[]): void {
    const speech = this.segmentFrames.slice(0, this.voicedSpanFrames);
    this.segmentFrames = [];
    this.voicedSpanFrames = 0;
    if (speech.length === 0 || speech.length < this.minSegmentFrames) {
      return;
    }
    const { frameMs } = this.options;
    completed.push({
      sequence: this.nextSequence++,
      pcm: Buffer.concat(speech),
      startMs: this.segmentStartFrame * frameMs,
      endMs: (this.segmentStartFrame + speech.length) * frameMs,
    });
  }
}

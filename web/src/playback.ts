import { s16leToFloat32 } from './pcm.js';

/** The parts of an AudioContext the scheduler uses, so the specs can drive it with a fake clock. */
export interface PlaybackContext {
  readonly currentTime: number;
  createBuffer(
    channels: number,
    length: number,
    sampleRate: number,
  ): { copyToChannel(source: Float32Array<ArrayBuffer>, channel: number): void };
  createBufferSource(): {
    buffer: unknown;
    connect(destination: unknown): unknown;
    start(when: number): void;
    onended: ((event: Event) => unknown) | null;
  };
}

export interface PlaybackStats {
  /** Segments and samples handed to the audio clock. */
  scheduledSegments: number;
  scheduledSamples: number;
  /** Segments whose start came after the previous one had finished (a gap in the dubbed audio). */
  gaps: number;
  /** Sources started and not yet ended. */
  playing: number;
}

/**
 * Plays dubbed segments gaplessly: each starts exactly where the previous one ends on the AudioContext's clock, or
 * `leadSeconds` from now when playback has run dry.
 */
export class PlaybackScheduler {
  readonly stats: PlaybackStats = { scheduledSegments: 0, scheduledSamples: 0, gaps: 0, playing: 0 };
  private nextStart = 0;

  constructor(
    private readonly context: PlaybackContext,
    private readonly destination: unknown,
    private readonly leadSeconds = 0.08,
  ) {}

  /** Schedules one segment of PCM s16le; returns when it starts, on the context's clock. */
  enqueue(pcm: ArrayBuffer, sampleRate: number): number | undefined {
    const samples = s16leToFloat32(pcm);
    if (samples.length === 0) {
      return undefined;
    }
    const now = this.context.currentTime;
    let start = this.nextStart;
    if (start < now + 0.005) {
      if (this.stats.scheduledSegments > 0) {
        this.stats.gaps++;
      }
      start = now + this.leadSeconds;
    }
    const buffer = this.context.createBuffer(1, samples.length, sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.destination);
    source.onended = () => {
      this.stats.playing--;
    };
    source.start(start);
    this.stats.playing++;
    this.stats.scheduledSegments++;
    this.stats.scheduledSamples += samples.length;
    this.nextStart = start + samples.length / sampleRate;
    return start;
  }

  /** Seconds of dubbed audio scheduled beyond now. */
  queuedSeconds(): number {
    return Math.max(0, this.nextStart - this.context.currentTime);
  }
}

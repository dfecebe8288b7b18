import { Logger } from '@nestjs/common';
import { SystemClock, type Clock } from '../common/clock.js';
import { BYTES_PER_SAMPLE, pcmDurationMs, SESSION_SAMPLE_RATE_HZ } from './pcm-format.js';
import type { PcmPool } from './pcm-pool.js';
import type { DubbingProviders } from './providers/dubbing-providers.js';
import { VoiceActivitySegmenter, type VoiceSegment } from './voice-activity.js';
import type { TranscriptMessage, TranslationMessage } from '../protocol/index.js';

/** A segment's transcript and translation are protocol messages as they are (src/protocol, docs/protocol.md "Server → client"). */
export type TranscriptEvent = TranscriptMessage;
export type TranslationEvent = TranslationMessage;

/** Dubbed speech in the session format (PCM s16le mono 16 kHz); the gateway sends `pcm` as a binary frame. */
export interface DubbedAudioEvent {
  type: 'audio';
  segment_id: number;
  pcm: Buffer;
  /**
   * Set when `pcm` is pooled memory (the speech came back as the segment's own audio): whoever takes the event
   * calls it once nothing reads `pcm` any more, e.g. when the socket has written it.
   */
  release?: () => void;
}

export type DubbingEvent = TranscriptEvent | TranslationEvent | DubbedAudioEvent;

export interface DroppedSegment {
  segmentId: number;
  droppedTotal: number;
}

/**
 * One delivered segment's timings, in milliseconds. "Speech end" is when the segment's last speech sample arrived:
 * the voice-activity hangover that ends a segment counts as latency, as the viewer experiences it.
 */
export interface SegmentLatency {
  segmentId: number;
  /** Speech end → transcript. */
  speechToTextMs: number;
  /** Transcript → translation. */
  translationMs: number;
  /** Translation → dubbed audio; absent when the pipeline does not synthesize. */
  textToSpeechMs?: number;
  /** Speech end → the segment's last event handed over, after any wait for earlier segments. */
  endToEndMs: number;
}

export interface DubbingPipelineStats {
  /** Speech segments found in the audio so far. */
  segments: number;
  /** Segments whose events were delivered. */
  dubbed: number;
  /** Segments given up because too many were in flight. */
  dropped: number;
  inFlight: number;
}

export interface DubbingPipelineOptions {
  sessionId: string;
  sourceLang?: string;
  targetLang: string;
  providers: DubbingProviders;
  /** False for subtitles: no text-to-speech call and no audio events. Defaults to true. */
  synthesize?: boolean;
  /** Called in segment order: transcript, translation, audio for one segment, then the next segment. */
  onEvent: (event: DubbingEvent) => void;
  /** Called at most once; the pipeline has stopped and ignores further audio. */
  onError: (error: unknown) => void;
  onDropped?: (drop: DroppedSegment) => void;
  /** Called once per delivered segment, after its events. */
  onLatency?: (latency: SegmentLatency) => void;
  maxSegmentsInFlight?: number;
  /** Times the latencies; the system clock by default. */
  clock?: Clock;
  /** Reusable memory for the segments' audio; fresh buffers without one. */
  pcmPool?: PcmPool;
}

const DEFAULT_MAX_SEGMENTS_IN_FLIGHT = 4;

/**
 * A segment's cancellation. Its AbortSignal is made only when a provider reads it (the loopback providers never do):
 * Node's AbortController is an EventTarget, costly to make; making one per segment was about 1 % of a streaming
 * gateway's CPU in the gateway benchmark's profile.
 */
class SegmentAbort {
  aborted = false;
  private controller?: AbortController;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) {
        this.controller.abort();
      }
    }
    return this.controller.signal;
  }

  abort(): void {
    if (!this.aborted) {
      this.aborted = true;
      this.controller?.abort();
    }
  }

  /** What `signal.throwIfAborted()` does, without making the signal. */
  throwIfAborted(): void {
    if (this.aborted) {
      throw this.signal.reason;
    }
  }
}

interface InFlightSegment {
  segment: VoiceSegment;
  abort: SegmentAbort;
  speechEndedAt: number;
  /** Set once every stage is done; delivered when every earlier segment is. */
  result?: SegmentResult;
}

interface SegmentResult {
  events: DubbingEvent[];
  /** Absent for a segment with nothing to say. */
  timings?: Omit<SegmentLatency, 'segmentId' | 'endToEndMs'>;
}

type PipelineState = 'running' | 'failed' | 'closed';

/**
 * One live session's dubbing: audio → speech segments → speech-to-text → translation → text-to-speech.
 * Segments are dubbed concurrently but delivered in order; at most `maxSegmentsInFlight` are held, the oldest
 * is dropped beyond that, so a slow provider costs freshness, never unbounded memory.
 */
export class DubbingPipeline {
  readonly sessionId: string;
  private readonly logger = new Logger(DubbingPipeline.name);
  private readonly segmenter: VoiceActivitySegmenter;
  private readonly maxSegmentsInFlight: number;
  private readonly synthesize: boolean;
  private readonly clock: Clock;
  /** Insertion order is segment order, so the first entry is always the next to deliver. */
  private readonly inFlight = new Map<number, InFlightSegment>();
  private readonly idleWaiters: Array<() => void> = [];
  private state: PipelineState = 'running';
  private segments = 0;
  private dubbed = 0;
  private dropped = 0;
  private receivedMs = 0;

  constructor(private readonly options: DubbingPipelineOptions) {
    this.sessionId = options.sessionId;
    this.segmenter = new VoiceActivitySegmenter({ sampleRateHz: SESSION_SAMPLE_RATE_HZ, pool: options.pcmPool });
    this.maxSegmentsInFlight = options.maxSegmentsInFlight ?? DEFAULT_MAX_SEGMENTS_IN_FLIGHT;
    this.synthesize = options.synthesize ?? true;
    this.clock = options.clock ?? new SystemClock();
    if (!Number.isInteger(this.maxSegmentsInFlight) || this.maxSegmentsInFlight < 1) {
      throw new RangeError(`maxSegmentsInFlight must be a positive integer, got ${this.maxSegmentsInFlight}`);
    }
  }

  /** Feeds session audio (PCM s16le mono 16 kHz). A no-op once the pipeline has failed or closed. */
  pushAudio(pcm: Buffer): void {
    if (this.state === 'running') {
      this.receivedMs += pcmDurationMs(pcm, SESSION_SAMPLE_RATE_HZ);
      this.startAll(this.segmenter.push(pcm));
    }
  }

  /** The client ended its utterance (`flush`): the speech in progress is dubbed now; the stream goes on. */
  cut(): void {
    if (this.state === 'running') {
      this.startAll(this.segmenter.cut());
    }
  }

  /** End of stream: dubs the speech in progress; resolves when every segment in flight is delivered, dropped or failed. */
  flush(): Promise<void> {
    if (this.state === 'running') {
      this.startAll(this.segmenter.flush());
    }
    return this.whenIdle();
  }

  /** Stops the pipeline: in-flight provider calls are aborted, their results discarded. Idempotent. */
  close(): void {
    if (this.state === 'closed') {
      return;
    }
    this.state = 'closed';
    this.abortAll();
  }

  stats(): DubbingPipelineStats {
    return { segments: this.segments, dubbed: this.dubbed, dropped: this.dropped, inFlight: this.inFlight.size };
  }

  private startAll(segments: VoiceSegment[]): void {
    for (const segment of segments) {
      this.segments++;
      if (this.inFlight.size >= this.maxSegmentsInFlight) {
        this.dropOldest();
      }
      // The segment ends `receivedMs - endMs` of audio ago: at real-time streaming, that long ago on the clock.
      const speechEndedAt = this.clock.now() - Math.max(0, this.receivedMs - segment.endMs);
      const entry: InFlightSegment = { segment, abort: new SegmentAbort(), speechEndedAt };
      this.inFlight.set(segment.sequence, entry);
      void this.process(entry);
    }
  }

  /** The segment's memory is released once its stages are done; an audio event that reads it holds it on. */
  private async process(entry: InFlightSegment): Promise<void> {
    try {
      const result = await this.dub(entry);
      if (entry.abort.aborted) {
        discard(result.events);
        return;
      }
      entry.result = result;
      this.deliverReady();
    } catch (error) {
      if (!entry.abort.aborted) {
        this.fail(error);
      }
    } finally {
      entry.segment.lease?.release();
    }
  }

  private async dub({ segment, abort, speechEndedAt }: InFlightSegment): Promise<SegmentResult> {
    const { providers, sourceLang, targetLang } = this.options;
    const segmentId = segment.sequence;
    const transcription = await providers.speechToText.transcribe({
      pcm: segment.pcm,
      sampleRateHz: SESSION_SAMPLE_RATE_HZ,
      sourceLang,
      sequence: segmentId,
      get signal() {
        return abort.signal;
      },
    });
    abort.throwIfAborted();
    const transcribedAt = this.clock.now();
    const text = transcription.text.trim();
    if (text === '') {
      return { events: [] };
    }
    const language = transcription.language ?? sourceLang;
    const translation = await providers.translation.translate({
      text,
      sourceLang: language,
      targetLang,
      get signal() {
        return abort.signal;
      },
    });
    abort.throwIfAborted();
    const translatedAt = this.clock.now();
    const events: DubbingEvent[] = [
      {
        type: 'transcript',
        segment_id: segmentId,
        text,
        language: language ?? null,
        is_final: true,
        loopback: transcription.isLoopback,
        start_ms: segment.startMs,
        end_ms: segment.endMs,
        latency_ms: Math.round(transcribedAt - speechEndedAt),
      },
      {
        type: 'translation',
        segment_id: segmentId,
        text: translation.text,
        target_lang: targetLang,
        loopback: translation.isLoopback,
        latency_ms: Math.round(translatedAt - speechEndedAt),
      },
    ];
    const timings = { speechToTextMs: transcribedAt - speechEndedAt, translationMs: translatedAt - transcribedAt };
    // Nothing to say aloud (the translation came back empty) is not worth a text-to-speech call.
    if (!this.synthesize || translation.text.trim() === '') {
      return { events, timings };
    }
    const speech = await providers.textToSpeech.synthesize({
      text: translation.text,
      targetLang,
      sourcePcm: segment.pcm,
      sampleRateHz: SESSION_SAMPLE_RATE_HZ,
      get signal() {
        return abort.signal;
      },
    });
    abort.throwIfAborted();
    checkSessionFormat(speech.pcm, speech.sampleRateHz);
    const readsSegment = segment.lease !== undefined && speech.pcm.buffer === segment.pcm.buffer;
    events.push({ type: 'audio', segment_id: segmentId, pcm: speech.pcm, ...(readsSegment && { release: segment.lease!.hold() }) });
    return { events, timings: { ...timings, textToSpeechMs: this.clock.now() - translatedAt } };
  }

  private deliverReady(): void {
    for (const [sequence, entry] of this.inFlight) {
      if (this.state !== 'running' || entry.result === undefined) {
        break;
      }
      this.inFlight.delete(sequence);
      const { events, timings } = entry.result;
      if (events.length > 0) {
        this.dubbed++;
      }
      for (let index = 0; index < events.length; index++) {
        // A callback may close the pipeline; nothing is delivered after that.
        if (this.state !== 'running') {
          discard(events.slice(index));
          return;
        }
        try {
          this.options.onEvent(events[index]);
        } catch (error) {
          this.fail(error);
          return;
        }
      }
      if (timings !== undefined) {
        this.options.onLatency?.({ segmentId: sequence, ...timings, endToEndMs: this.clock.now() - entry.speechEndedAt });
      }
    }
    if (this.inFlight.size === 0) {
      this.resolveIdleWaiters();
    }
  }

  private dropOldest(): void {
    const [sequence, oldest] = this.inFlight.entries().next().value!;
    oldest.abort.abort();
    discard(oldest.result?.events ?? []);
    this.inFlight.delete(sequence);
    this.dropped++;
    this.logger.warn(`Session ${this.sessionId}: dropped speech segment ${sequence}, ${this.maxSegmentsInFlight} segments in flight`);
    this.options.onDropped?.({ segmentId: sequence, droppedTotal: this.dropped });
    this.deliverReady();
  }

  private fail(error: unknown): void {
    if (this.state !== 'running') {
      return;
    }
    this.state = 'failed';
    this.abortAll();
    try {
      this.options.onError(error);
    } catch (callbackError) {
      // Nobody awaits the segment promise: a throw here would be an unhandled rejection that takes the process down.
      this.logger.error(
        `Session ${this.sessionId}: the onError callback threw`,
        callbackError instanceof Error ? callbackError.stack : callbackError,
      );
    }
  }

  private abortAll(): void {
    for (const entry of this.inFlight.values()) {
      entry.abort.abort();
      discard(entry.result?.events ?? []);
    }
    this.inFlight.clear();
    this.resolveIdleWaiters();
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight.size === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private resolveIdleWaiters(): void {
    for (const resolve of this.idleWaiters.splice(0)) {
      resolve();
    }
  }
}

/** Events that will never be delivered let go of the memory they hold. */
function discard(events: DubbingEvent[]): void {
  for (const event of events) {
    if (event.type === 'audio') {
      event.release?.();
    }
  }
}

function checkSessionFormat(pcm: Buffer, sampleRateHz: number): void {
  if (sampleRateHz !== SESSION_SAMPLE_RATE_HZ) {
    throw new Error(`Text-to-speech returned ${sampleRateHz} Hz audio; the session needs ${SESSION_SAMPLE_RATE_HZ} Hz`);
  }
  if (pcm.length % BYTES_PER_SAMPLE !== 0) {
    throw new Error(`Text-to-speech returned ${pcm.length} bytes, not whole 16-bit samples`);
  }
}

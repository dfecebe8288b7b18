import { flushPromises, ManualClock } from '../../test/harness/manual-clock.js';
import {
  DubbingPipeline,
  type DubbedAudioEvent,
  type DubbingEvent,
  type DubbingPipelineOptions,
  type SegmentLatency,
} from './dubbing-pipeline.js';
import { PcmPool } from './pcm-pool.js';
import type { DubbingProviders, SpeechSegmentInput, Transcription } from './providers/dubbing-providers.js';
import { LoopbackSpeechToTextProvider } from './providers/loopback/loopback-speech-to-text.provider.js';
import { LoopbackTextToSpeechProvider } from './providers/loopback/loopback-text-to-speech.provider.js';
import { LoopbackTranslationProvider } from './providers/loopback/loopback-translation.provider.js';
import { chunked, seededRandom, silence, tone } from './testing/synthetic-pcm.js';

/** `count` bursts of 300 ms speech, each followed by enough silence to end its segment. */
function speechBursts(count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => [tone(300), silence(400)]).flat());
}

function loopbackProviders(): DubbingProviders {
  return {
    speechToText: new LoopbackSpeechToTextProvider(),
    translation: new LoopbackTranslationProvider(),
    textToSpeech: new LoopbackTextToSpeechProvider(),
  };
}

function transcriptFor(sequence: number, text = `words ${sequence}`): Transcription {
  return { text, provider: 'fake', isLoopback: false };
}

/** Speech-to-text waits until the test settles it; translation and text-to-speech answer at once. */
class GatedProviders implements DubbingProviders {
  readonly calls: SpeechSegmentInput[] = [];
  private readonly settle = new Map<number, { resolve: (result: Transcription) => void; reject: (error: Error) => void }>();

  readonly speechToText = {
    transcribe: (input: SpeechSegmentInput) => {
      this.calls.push(input);
      return new Promise<Transcription>((resolve, reject) => this.settle.set(input.sequence, { resolve, reject }));
    },
  };
  readonly translation = {
    translate: async (input: { text: string }) => ({ text: `translated ${input.text}`, provider: 'fake', isLoopback: false }),
  };
  readonly textToSpeech = { synthesize: async (input: { sourcePcm: Buffer }) => ({ pcm: input.sourcePcm, sampleRateHz: 16000 }) };

  async release(sequence: number, result: Transcription = transcriptFor(sequence)): Promise<void> {
    this.settle.get(sequence)!.resolve(result);
    await flushPromises();
  }

  async fail(sequence: number, error: Error): Promise<void> {
    this.settle.get(sequence)!.reject(error);
    await flushPromises();
  }

  signalOf(sequence: number): AbortSignal {
    return this.calls.find((call) => call.sequence === sequence)!.signal!;
  }
}

/** Every provider call finishes after a delay drawn for it, on the manual clock; `finished` records translations done. */
function delayedProviders(
  clock: ManualClock,
  delayMs: (stage: string, sequence: number) => number,
  finished: number[] = [],
): DubbingProviders {
  const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => clock.setTimer(ms, () => resolve(value)));
  const sequenceOf = (text: string) => Number(/\d+$/.exec(text)![0]);
  return {
    speechToText: { transcribe: (input) => after(delayMs('stt', input.sequence), transcriptFor(input.sequence)) },
    translation: {
      translate: async (input) => {
        const translation = await after(delayMs('translation', sequenceOf(input.text)), {
          text: `translated ${input.text}`,
          provider: 'fake',
          isLoopback: false,
        });
        finished.push(sequenceOf(input.text));
        return translation;
      },
    },
    textToSpeech: {
      synthesize: (input) => after(delayMs('tts', sequenceOf(input.text)), { pcm: input.sourcePcm, sampleRateHz: 16000 }),
    },
  };
}

function createPipeline(providers: DubbingProviders, options: Partial<DubbingPipelineOptions> = {}) {
  const events: DubbingEvent[] = [];
  const errors: unknown[] = [];
  const drops: unknown[] = [];
  const latencies: SegmentLatency[] = [];
  const pipeline = new DubbingPipeline({
    sessionId: 'session-1',
    targetLang: 'en',
    providers,
    clock: new ManualClock(),
    onEvent: (event) => events.push(event),
    onError: (error) => errors.push(error),
    onDropped: (drop) => drops.push(drop),
    onLatency: (latency) => latencies.push(latency),
    ...options,
  });
  const delivered = () => events.map((event) => `${event.segment_id}:${event.type}`);
  return { pipeline, events, errors, drops, latencies, delivered };
}

function expectedOrder(segmentIds: number[], synthesize = true): string[] {
  return segmentIds.flatMap((id) => [`${id}:transcript`, `${id}:translation`, ...(synthesize ? [`${id}:audio`] : [])]);
}

describe(DubbingPipeline.name, () => {
  it('turns a speech segment into a transcript, a translation and dubbed audio marked as loopback', async () => {
    const speech = tone(300);
    const { pipeline, events } = createPipeline(loopbackProviders(), { sourceLang: 'es' });
    pipeline.pushAudio(Buffer.concat([silence(100), speech, silence(400)]));
    await flushPromises();
    expect(events).toEqual([
      {
        type: 'transcript',
        segment_id: 1,
        text: '[loopback] speech segment 1, 0.30 s',
        language: 'es',
        is_final: true,
        loopback: true,
        start_ms: 100,
        end_ms: 400,
        latency_ms: 400,
      },
      {
        type: 'translation',
        segment_id: 1,
        text: '[loopback → en] [loopback] speech segment 1, 0.30 s',
        target_lang: 'en',
        loopback: true,
        latency_ms: 400,
      },
      { type: 'audio', segment_id: 1, pcm: speech },
    ]);
  });

  it('reports the language as null when neither the session nor the provider names one', async () => {
    const { pipeline, events } = createPipeline(loopbackProviders());
    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    expect(events[0]).toMatchObject({ type: 'transcript', language: null });
  });

  it('prefers the language the speech-to-text provider detected', async () => {
    const providers = new GatedProviders();
    const { pipeline, events } = createPipeline(providers, { sourceLang: 'es' });
    pipeline.pushAudio(speechBursts(1));
    await providers.release(1, { ...transcriptFor(1), language: 'pt' });
    expect(events[0]).toMatchObject({ type: 'transcript', language: 'pt' });
  });

  it.each([
    ['dubbing', true],
    ['subtitles', false],
  ])('delivers %s segments in order whatever order 100 random provider delays finish them in', async (_mode, synthesize) => {
    const misordered: Array<{ seed: number; delivered: string[] }> = [];
    let seedsFinishingOutOfOrder = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const random = seededRandom(seed);
      const clock = new ManualClock();
      const finished: number[] = [];
      const { pipeline, delivered } = createPipeline(
        delayedProviders(clock, () => Math.floor(random() * 120), finished),
        { maxSegmentsInFlight: 6, clock, synthesize },
      );
      for (const chunk of chunked(speechBursts(6), [3200])) {
        pipeline.pushAudio(chunk);
        await clock.advance(Math.floor(random() * 20));
      }
      await clock.advance(1000);
      if (delivered().join() !== expectedOrder([1, 2, 3, 4, 5, 6], synthesize).join()) {
        misordered.push({ seed, delivered: delivered() });
      }
      if (finished.join() !== '1,2,3,4,5,6') {
        seedsFinishingOutOfOrder++;
      }
    }
    expect(misordered).toEqual([]);
    expect(seedsFinishingOutOfOrder).toBeGreaterThan(50);
  });

  describe('in subtitles mode (synthesize: false)', () => {
    it('never calls text-to-speech and sends transcript and translation only', async () => {
      const providers = loopbackProviders();
      let synthesized = 0;
      providers.textToSpeech = {
        synthesize: async (input) => (synthesized++, { pcm: input.sourcePcm, sampleRateHz: 16000 }),
      };
      const { pipeline, delivered, latencies } = createPipeline(providers, { synthesize: false });
      pipeline.pushAudio(speechBursts(2));
      await pipeline.flush();
      expect(delivered()).toEqual(expectedOrder([1, 2], false));
      expect(synthesized).toBe(0);
      expect(latencies.map((latency) => latency.textToSpeechMs)).toEqual([undefined, undefined]);
    });
  });

  describe('latency', () => {
    it('times each stage from the end of the speech, the voice-activity hangover included', async () => {
      const clock = new ManualClock();
      const stageMs: Record<string, number> = { stt: 250, translation: 100, tts: 50 };
      const { pipeline, events, latencies } = createPipeline(
        delayedProviders(clock, (stage) => stageMs[stage]),
        { clock },
      );
      // 300 ms of speech then 400 ms of silence, all received now: the speech ended 400 ms ago.
      pipeline.pushAudio(speechBursts(1));
      await clock.advance(1000);
      expect(events.map((event) => [event.type, 'latency_ms' in event ? event.latency_ms : undefined])).toEqual([
        ['transcript', 650],
        ['translation', 750],
        ['audio', undefined],
      ]);
      expect(latencies).toEqual([{ segmentId: 1, speechToTextMs: 650, translationMs: 100, textToSpeechMs: 50, endToEndMs: 800 }]);
    });

    it('counts the wait behind a slower earlier segment in the end-to-end time only', async () => {
      const clock = new ManualClock();
      const { pipeline, latencies } = createPipeline(
        delayedProviders(clock, (stage, sequence) => (stage === 'stt' && sequence === 1 ? 500 : 0)),
        { clock },
      );
      pipeline.pushAudio(speechBursts(2));
      await clock.advance(1000);
      const second = latencies[1];
      expect(second.segmentId).toBe(2);
      expect(second.endToEndMs - second.speechToTextMs - second.translationMs - second.textToSpeechMs!).toBe(500);
    });

    it('reports nothing for a segment transcribed as empty', async () => {
      const providers = new GatedProviders();
      const { pipeline, latencies } = createPipeline(providers);
      pipeline.pushAudio(speechBursts(1));
      await providers.release(1, transcriptFor(1, ''));
      expect(latencies).toEqual([]);
    });
  });

  it('sends no audio, and asks for none, when the translation is empty', async () => {
    const providers = loopbackProviders();
    providers.translation = { translate: async () => ({ text: ' ', provider: 'fake', isLoopback: false }) };
    providers.textToSpeech = {
      synthesize: () => {
        throw new Error('text-to-speech must not be called');
      },
    };
    const { pipeline, delivered, errors } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(1));
    await pipeline.flush();
    expect(delivered()).toEqual(['1:transcript', '1:translation']);
    expect(errors).toEqual([]);
  });

  it('holds a finished segment until every earlier segment is delivered', async () => {
    const providers = new GatedProviders();
    const { pipeline, delivered } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(2));
    await providers.release(2);
    expect(delivered()).toEqual([]);
    await providers.release(1);
    expect(delivered()).toEqual(expectedOrder([1, 2]));
  });

  it('drops the oldest segment beyond the in-flight bound and counts the drops', async () => {
    const providers = new GatedProviders();
    const { pipeline, drops } = createPipeline(providers, { maxSegmentsInFlight: 4 });
    pipeline.pushAudio(speechBursts(6));
    expect(drops).toEqual([
      { segmentId: 1, droppedTotal: 1 },
      { segmentId: 2, droppedTotal: 2 },
    ]);
    expect(pipeline.stats()).toEqual({ segments: 6, dubbed: 0, dropped: 2, inFlight: 4 });
  });

  it('aborts the provider calls of a dropped segment and never delivers it', async () => {
    const providers = new GatedProviders();
    const { pipeline, delivered } = createPipeline(providers, { maxSegmentsInFlight: 4 });
    pipeline.pushAudio(speechBursts(5));
    expect(providers.signalOf(1).aborted).toBe(true);
    expect(providers.signalOf(2).aborted).toBe(false);
    for (const sequence of [1, 2, 3, 4, 5]) {
      await providers.release(sequence);
    }
    expect(delivered()).toEqual(expectedOrder([2, 3, 4, 5]));
    expect(pipeline.stats()).toEqual({ segments: 5, dubbed: 4, dropped: 1, inFlight: 0 });
  });

  it('delivers at once the finished segments that were waiting behind a dropped one', async () => {
    const providers = new GatedProviders();
    const { pipeline, delivered } = createPipeline(providers, { maxSegmentsInFlight: 3 });
    pipeline.pushAudio(speechBursts(3));
    await providers.release(2);
    await providers.release(3);
    pipeline.pushAudio(speechBursts(1));
    expect(delivered()).toEqual(expectedOrder([2, 3]));
  });

  it('reports a provider error once and stops dubbing', async () => {
    const providers = new GatedProviders();
    const { pipeline, errors, delivered } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(3));
    await providers.release(1);
    const failure = new Error('speech-to-text unavailable');
    await providers.fail(2, failure);
    await providers.release(3);
    expect(errors).toEqual([failure]);
    expect(delivered()).toEqual(expectedOrder([1]));
    expect(providers.signalOf(3).aborted).toBe(true);
  });

  it('ignores audio pushed after an error', async () => {
    const providers = new GatedProviders();
    const { pipeline } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(1));
    await providers.fail(1, new Error('boom'));
    pipeline.pushAudio(speechBursts(2));
    await pipeline.flush();
    expect(providers.calls).toHaveLength(1);
  });

  it('treats dubbed audio that is not at the session rate as an error', async () => {
    const providers = loopbackProviders();
    providers.textToSpeech = { synthesize: async (input) => ({ pcm: input.sourcePcm, sampleRateHz: 24000 }) };
    const { pipeline, errors, events } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    expect(errors).toEqual([new Error('Text-to-speech returned 24000 Hz audio; the session needs 16000 Hz')]);
    expect(events).toEqual([]);
  });

  it('reports a throwing event callback as an error and stops delivering', async () => {
    const failure = new Error('socket gone');
    const { pipeline, errors } = createPipeline(loopbackProviders(), {
      onEvent: () => {
        throw failure;
      },
    });
    pipeline.pushAudio(speechBursts(2));
    await flushPromises();
    expect(errors).toEqual([failure]);
  });

  it('skips translation and speech for a segment transcribed as empty', async () => {
    const providers = new GatedProviders();
    const { pipeline, delivered } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(2));
    await providers.release(1, transcriptFor(1, '  '));
    await providers.release(2);
    expect(delivered()).toEqual(expectedOrder([2]));
    expect(pipeline.stats()).toEqual({ segments: 2, dubbed: 1, dropped: 0, inFlight: 0 });
  });

  it('dubs the speech in progress on flush and resolves once it is delivered', async () => {
    const { pipeline, delivered } = createPipeline(loopbackProviders());
    pipeline.pushAudio(Buffer.concat([speechBursts(1), tone(500)]));
    await flushPromises();
    expect(delivered()).toEqual(expectedOrder([1]));
    await pipeline.flush();
    expect(delivered()).toEqual(expectedOrder([1, 2]));
  });

  it('stops delivering and aborts provider calls on close', async () => {
    const providers = new GatedProviders();
    const { pipeline, delivered } = createPipeline(providers);
    pipeline.pushAudio(speechBursts(1));
    pipeline.close();
    await providers.release(1);
    expect(providers.signalOf(1).aborted).toBe(true);
    expect(delivered()).toEqual([]);
  });

  it('can be closed twice and ignores audio and flushes afterwards', async () => {
    const providers = new GatedProviders();
    const { pipeline, errors } = createPipeline(providers);
    pipeline.close();
    pipeline.close();
    pipeline.pushAudio(speechBursts(2));
    await pipeline.flush();
    expect(providers.calls).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('resolves a pending flush when closed', async () => {
    const providers = new GatedProviders();
    const { pipeline } = createPipeline(providers);
    pipeline.pushAudio(tone(400));
    const flushed = pipeline.flush();
    pipeline.close();
    await expect(flushed).resolves.toBeUndefined();
  });

  it('rejects an in-flight bound below one', () => {
    expect(() => createPipeline(loopbackProviders(), { maxSegmentsInFlight: 0 })).toThrow(
      'maxSegmentsInFlight must be a positive integer, got 0',
    );
  });
});

describe(`${DubbingPipeline.name} with a pool of segment memory`, () => {
  const audioOf = (events: DubbingEvent[]) => events.filter((event): event is DubbedAudioEvent => event.type === 'audio');

  it('lends the segment’s memory to the audio event that reads it, and reuses it only after that event’s release', async () => {
    const pcmPool = new PcmPool();
    const { pipeline, events } = createPipeline(loopbackProviders(), { pcmPool });
    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    const [first] = audioOf(events);
    expect(first.pcm.equals(tone(300))).toBe(true);
    expect(pcmPool.stats().freeBuffers).toBe(0);

    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    const [, second] = audioOf(events);
    expect(second.pcm.buffer).not.toBe(first.pcm.buffer);
    expect(first.pcm.equals(tone(300))).toBe(true);

    first.release!();
    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    expect(audioOf(events)[2].pcm.buffer).toBe(first.pcm.buffer);
  });

  it('takes the memory back once the stages are done when the dubbed audio is new audio', async () => {
    const pcmPool = new PcmPool();
    const providers = { ...loopbackProviders(), textToSpeech: { synthesize: async () => ({ pcm: tone(100), sampleRateHz: 16000 }) } };
    const { pipeline, events } = createPipeline(providers, { pcmPool });
    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    expect(audioOf(events)).toEqual([{ type: 'audio', segment_id: 1, pcm: tone(100) }]);
    expect(pcmPool.stats().freeBuffers).toBe(1);
  });

  it('takes the memory back after subtitles, which read the segment only for speech-to-text', async () => {
    const pcmPool = new PcmPool();
    const { pipeline, delivered } = createPipeline(loopbackProviders(), { pcmPool, synthesize: false });
    pipeline.pushAudio(speechBursts(2));
    await flushPromises();
    expect(delivered()).toEqual(expectedOrder([1, 2], false));
    expect(pcmPool.stats().freeBuffers).toBe(2);
  });

  it('takes back the memory of a dropped segment when its call settles, and of the rest when closed', async () => {
    const pcmPool = new PcmPool();
    const providers = new GatedProviders();
    const { pipeline, drops } = createPipeline(providers, { pcmPool, maxSegmentsInFlight: 1 });
    pipeline.pushAudio(speechBursts(2));
    expect(drops).toHaveLength(1);
    expect(pcmPool.stats().freeBuffers).toBe(0);
    await providers.release(1);
    expect(pcmPool.stats().freeBuffers).toBe(1);
    pipeline.close();
    await providers.release(2);
    expect(pcmPool.stats().freeBuffers).toBe(2);
  });

  it('takes back the memory of audio it will never deliver because the session closed while delivering', async () => {
    const pcmPool = new PcmPool();
    const { pipeline, events } = createPipeline(loopbackProviders(), {
      pcmPool,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'translation') {
          pipeline.close();
        }
      },
    });
    pipeline.pushAudio(speechBursts(1));
    await flushPromises();
    expect(events.map((event) => event.type)).toEqual(['transcript', 'translation']);
    expect(pcmPool.stats().freeBuffers).toBe(1);
  });
});

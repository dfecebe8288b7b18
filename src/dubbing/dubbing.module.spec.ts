import { Test, type TestingModule } from '@nestjs/testing';
import { CommonModule } from '../common/common.module.js';
import { loadAppConfig, AppConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { DubbingEvent } from './dubbing-pipeline.js';
import { DubbingModule } from './dubbing.module.js';
import { DubbingService } from './dubbing.service.js';
import { SpeechToTextProvider, TextToSpeechProvider, TranslationProvider } from './providers/dubbing-providers.js';
import { LoopbackSpeechToTextProvider } from './providers/loopback/loopback-speech-to-text.provider.js';
import { LoopbackTextToSpeechProvider } from './providers/loopback/loopback-text-to-speech.provider.js';
import { LoopbackTranslationProvider } from './providers/loopback/loopback-translation.provider.js';
import { OpenAiSpeechToTextProvider } from './providers/openai/openai-speech-to-text.provider.js';
import { OpenAiTextToSpeechProvider } from './providers/openai/openai-text-to-speech.provider.js';
import { OpenAiTranslationProvider } from './providers/openai/openai-translation.provider.js';
import { silence, tone } from './testing/synthetic-pcm.js';

/** The configuration always needs one; these tests never sign a token. */
const JWT_SECRET = 'module-test-secret-never-used-to-sign-0123456789';

describe(DubbingModule.name, () => {
  let moduleRef: TestingModule;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [ConfigModule, CommonModule, MetricsModule, DubbingModule] })
      .overrideProvider(AppConfig)
      .useValue(loadAppConfig({ JWT_SECRET, DUBBING_PROVIDER: 'loopback' }))
      .compile();
  });

  afterAll(() => moduleRef.close());

  it('binds the loopback provider set when the config names it', () => {
    expect(moduleRef.get(SpeechToTextProvider, { strict: false })).toBeInstanceOf(LoopbackSpeechToTextProvider);
    expect(moduleRef.get(TranslationProvider, { strict: false })).toBeInstanceOf(LoopbackTranslationProvider);
    expect(moduleRef.get(TextToSpeechProvider, { strict: false })).toBeInstanceOf(LoopbackTextToSpeechProvider);
  });

  it('gives each session a pipeline that dubs with the bound providers', async () => {
    const events: DubbingEvent[] = [];
    const pipeline = moduleRef.get(DubbingService).createPipeline({
      sessionId: 'session-7',
      sourceLang: 'es',
      targetLang: 'fr',
      onEvent: (event) => events.push(event),
      onError: (error) => {
        throw error;
      },
    });
    pipeline.pushAudio(Buffer.concat([tone(500), silence(100)]));
    await pipeline.flush();
    expect(pipeline.sessionId).toBe('session-7');
    expect(events.map((event) => (event.type === 'audio' ? `audio ${event.pcm.length} B` : event.text))).toEqual([
      '[loopback] speech segment 1, 0.50 s',
      '[loopback → fr] [loopback] speech segment 1, 0.50 s',
      'audio 16000 B',
    ]);
  });

  it('gives a subtitles session a pipeline that never synthesizes', async () => {
    const events: DubbingEvent[] = [];
    const pipeline = moduleRef.get(DubbingService).createPipeline({
      sessionId: 'session-8',
      targetLang: 'fr',
      synthesize: false,
      onEvent: (event) => events.push(event),
      onError: (error) => {
        throw error;
      },
    });
    pipeline.pushAudio(Buffer.concat([tone(500), silence(100)]));
    await pipeline.flush();
    expect(events.map((event) => event.type)).toEqual(['transcript', 'translation']);
  });

  it('records each delivered segment in the latency histograms, by stage and by output', async () => {
    const metrics = moduleRef.get(MetricsService);
    const histograms = {
      dubbing_stage_latency_seconds: metrics.dubbingStageLatency,
      dubbing_segment_latency_seconds: metrics.dubbingSegmentLatency,
    };
    const count = async (name: keyof typeof histograms, labels: Record<string, string>) =>
      (await histograms[name].get()).values.find(
        (value) =>
          value.metricName === `${name}_count` &&
          Object.entries(labels).every(([key, label]) => (value.labels as Record<string, unknown>)[key] === label),
      )?.value ?? 0;
    const before = {
      stt: await count('dubbing_stage_latency_seconds', { stage: 'speech_to_text' }),
      tts: await count('dubbing_stage_latency_seconds', { stage: 'text_to_speech' }),
      audio: await count('dubbing_segment_latency_seconds', { output: 'audio' }),
      text: await count('dubbing_segment_latency_seconds', { output: 'text' }),
    };
    for (const synthesize of [true, false]) {
      const pipeline = moduleRef.get(DubbingService).createPipeline({
        sessionId: `session-${synthesize}`,
        targetLang: 'en',
        synthesize,
        onEvent: () => {},
        onError: (error) => {
          throw error;
        },
      });
      pipeline.pushAudio(Buffer.concat([tone(500), silence(100)]));
      await pipeline.flush();
    }
    expect(await count('dubbing_stage_latency_seconds', { stage: 'speech_to_text' })).toBe(before.stt + 2);
    expect(await count('dubbing_stage_latency_seconds', { stage: 'text_to_speech' })).toBe(before.tts + 1);
    expect(await count('dubbing_segment_latency_seconds', { output: 'audio' })).toBe(before.audio + 1);
    expect(await count('dubbing_segment_latency_seconds', { output: 'text' })).toBe(before.text + 1);
  });

  it('binds the OpenAI-compatible provider set when the config names it', async () => {
    const openai = await Test.createTestingModule({ imports: [ConfigModule, CommonModule, MetricsModule, DubbingModule] })
      .overrideProvider(AppConfig)
      .useValue(
        loadAppConfig({ JWT_SECRET, DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:9', OPENAI_API_KEY: 'sk-unused' }),
      )
      .compile();
    try {
      expect(openai.get(SpeechToTextProvider, { strict: false })).toBeInstanceOf(OpenAiSpeechToTextProvider);
      expect(openai.get(TranslationProvider, { strict: false })).toBeInstanceOf(OpenAiTranslationProvider);
      expect(openai.get(TextToSpeechProvider, { strict: false })).toBeInstanceOf(OpenAiTextToSpeechProvider);
    } finally {
      await openai.close();
    }
  });
});

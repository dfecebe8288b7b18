import { Test, type TestingModule } from '@nestjs/testing';
import { CommonModule } from '../common/common.module.js';
import { loadAppConfig, AppConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
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

describe(DubbingModule.name, () => {
  let moduleRef: TestingModule;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [ConfigModule, CommonModule, DubbingModule] })
      .overrideProvider(AppConfig)
      .useValue(loadAppConfig({ DUBBING_PROVIDER: 'loopback' }))
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

  it('binds the OpenAI-compatible provider set when the config names it', async () => {
    const openai = await Test.createTestingModule({ imports: [ConfigModule, CommonModule, DubbingModule] })
      .overrideProvider(AppConfig)
      .useValue(loadAppConfig({ DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:9', OPENAI_API_KEY: 'sk-unused' }))
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

import { Module } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DubbingService } from './dubbing.service.js';
import { createDubbingProviders } from './providers/dubbing-provider-sets.js';
import { SpeechToTextProvider, TextToSpeechProvider, TranslationProvider, type DubbingProviders } from './providers/dubbing-providers.js';

const DUBBING_PROVIDERS = Symbol('DUBBING_PROVIDERS');

/** Speech-to-text, translation and text-to-speech bound by `AppConfig.dubbing.provider`; exports only `DubbingService`. */
@Module({
  providers: [
    {
      provide: DUBBING_PROVIDERS,
      inject: [AppConfig, Clock, MetricsService],
      useFactory: (config: AppConfig, clock: Clock, metrics: MetricsService) =>
        createDubbingProviders(config.dubbing, {
          clock,
          // Label values as in dubbing_stage_latency_seconds: speech_to_text, translation, text_to_speech.
          onAttempt: (stage, outcome) => metrics.dubbingProviderRequests.inc({ stage: stage.replaceAll('-', '_'), outcome }),
        }),
    },
    { provide: SpeechToTextProvider, inject: [DUBBING_PROVIDERS], useFactory: (set: DubbingProviders) => set.speechToText },
    { provide: TranslationProvider, inject: [DUBBING_PROVIDERS], useFactory: (set: DubbingProviders) => set.translation },
    { provide: TextToSpeechProvider, inject: [DUBBING_PROVIDERS], useFactory: (set: DubbingProviders) => set.textToSpeech },
    DubbingService,
  ],
  exports: [DubbingService],
})
export class DubbingModule {}

import { Module } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { DubbingService } from './dubbing.service.js';
import { createDubbingProviders } from './providers/dubbing-provider-sets.js';
import { SpeechToTextProvider, TextToSpeechProvider, TranslationProvider, type DubbingProviders } from './providers/dubbing-providers.js';

const DUBBING_PROVIDERS = Symbol('DUBBING_PROVIDERS');

/** Speech-to-text, translation and text-to-speech bound by `AppConfig.dubbing.provider`; exports only `DubbingService`. */
@Module({
  providers: [
    {
      provide: DUBBING_PROVIDERS,
      inject: [AppConfig, Clock],
      useFactory: (config: AppConfig, clock: Clock) => createDubbingProviders(config.dubbing, clock),
    },
    { provide: SpeechToTextProvider, inject: [DUBBING_PROVIDERS], useFactory: (set: DubbingProviders) => set.speechToText },
    { provide: TranslationProvider, inject: [DUBBING_PROVIDERS], useFactory: (set: DubbingProviders) => set.translation },
    { provide: TextToSpeechProvider, inject: [DUBBING_PROVIDERS], useFactory: (set: DubbingProviders) => set.textToSpeech },
    DubbingService,
  ],
  exports: [DubbingService],
})
export class DubbingModule {}

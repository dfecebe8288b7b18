import type { DubbingConfig } from '../../config/app-config.js';
import type { DubbingProviders } from './dubbing-providers.js';
import { LoopbackSpeechToTextProvider } from './loopback/loopback-speech-to-text.provider.js';
import { LoopbackTextToSpeechProvider } from './loopback/loopback-text-to-speech.provider.js';
import { LoopbackTranslationProvider } from './loopback/loopback-translation.provider.js';
import { createOpenAiProviders, type OpenAiProviderDependencies } from './openai/openai-providers.js';

/** One case per `DUBBING_PROVIDER` value; a new provider set is one more case, built from its typed config. */
export function createDubbingProviders(config: DubbingConfig, dependencies: OpenAiProviderDependencies): DubbingProviders {
  switch (config.provider) {
    case 'loopback':
      return {
        speechToText: new LoopbackSpeechToTextProvider(),
        translation: new LoopbackTranslationProvider(),
        textToSpeech: new LoopbackTextToSpeechProvider(),
      };
    case 'openai':
      return createOpenAiProviders(config.openai, dependencies);
  }
}

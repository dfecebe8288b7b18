import type { AppConfig } from '../../config/app-config.js';
import type { DubbingProviders } from './dubbing-providers.js';
import { LoopbackSpeechToTextProvider } from './loopback/loopback-speech-to-text.provider.js';
import { LoopbackTextToSpeechProvider } from './loopback/loopback-text-to-speech.provider.js';
import { LoopbackTranslationProvider } from './loopback/loopback-translation.provider.js';

export type DubbingProviderSetName = AppConfig['dubbing']['provider'];

/** One entry per `DUBBING_PROVIDER` value; a new provider set is one more entry, built from the typed config. */
export const DUBBING_PROVIDER_SETS: Record<DubbingProviderSetName, (config: AppConfig) => DubbingProviders> = {
  loopback: () => ({
    speechToText: new LoopbackSpeechToTextProvider(),
    translation: new LoopbackTranslationProvider(),
    textToSpeech: new LoopbackTextToSpeechProvider(),
  }),
};

export function createDubbingProviders(config: AppConfig): DubbingProviders {
  return DUBBING_PROVIDER_SETS[config.dubbing.provider](config);
}

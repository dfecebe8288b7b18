import { TranslationProvider, type Translation, type TranslationInput } from '../dubbing-providers.js';
import { LOOPBACK_PROVIDER_NAME } from './loopback-provider-name.js';

/** Development stand-in: never pretends to translate; it marks the unchanged text with the target language. */
export class LoopbackTranslationProvider extends TranslationProvider {
  translate(input: TranslationInput): Promise<Translation> {
    return Promise.resolve({
      text: `[loopback → ${input.targetLang}] ${input.text}`,
      provider: LOOPBACK_PROVIDER_NAME,
      isLoopback: true,
    });
  }
}

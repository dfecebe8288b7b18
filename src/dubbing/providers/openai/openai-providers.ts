import type { Logger } from '@nestjs/common';
import type { Clock } from '../../../common/clock.js';
import type { OpenAiProviderConfig } from '../../../config/app-config.js';
import type { DubbingStage } from '../dubbing-provider.error.js';
import type { DubbingProviders } from '../dubbing-providers.js';
import { OpenAiHttpClient, type AttemptResult, type RetryDelay } from './openai-http.client.js';
import { OpenAiSpeechToTextProvider } from './openai-speech-to-text.provider.js';
import { OpenAiTextToSpeechProvider } from './openai-text-to-speech.provider.js';
import { OpenAiTranslationProvider } from './openai-translation.provider.js';

export interface OpenAiProviderDependencies {
  clock: Clock;
  logger?: Pick<Logger, 'warn'>;
  random?: () => number;
  retryDelay?: RetryDelay;
  onAttempt?: (stage: DubbingStage, outcome: AttemptResult) => void;
}

/** The OpenAI-compatible set: each stage has its own client, so each has its own concurrency limit. */
export function createOpenAiProviders(config: OpenAiProviderConfig, dependencies: OpenAiProviderDependencies): DubbingProviders {
  const client = (stage: DubbingStage) => new OpenAiHttpClient(stage, { ...config, ...dependencies });
  return {
    speechToText: new OpenAiSpeechToTextProvider(client('speech-to-text'), config.models.speechToText),
    translation: new OpenAiTranslationProvider(client('translation'), config.models.translation),
    textToSpeech: new OpenAiTextToSpeechProvider(
      client('text-to-speech'),
      config.models.textToSpeech,
      config.voice,
      config.speechSampleRateHz,
    ),
  };
}

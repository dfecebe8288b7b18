export type DubbingStage = 'speech-to-text' | 'translation' | 'text-to-speech';

export const DUBBING_STAGE_LABEL: Record<DubbingStage, string> = {
  'speech-to-text': 'Speech-to-text',
  translation: 'Translation',
  'text-to-speech': 'Text-to-speech',
};

/**
 * A speech provider failed for good (retries, if any, are spent). The message names the stage and the cause for
 * operators; it never holds a credential, and clients only ever see a generic "unavailable" error.
 */
export class DubbingProviderError extends Error {
  constructor(
    readonly stage: DubbingStage,
    message: string,
  ) {
    super(message);
    this.name = 'DubbingProviderError';
  }
}

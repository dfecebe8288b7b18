import { Injectable } from '@nestjs/common';
import { DubbingPipeline, type DubbingPipelineOptions } from './dubbing-pipeline.js';
import { SpeechToTextProvider, TextToSpeechProvider, TranslationProvider } from './providers/dubbing-providers.js';

export type CreateDubbingPipelineOptions = Pick<
  DubbingPipelineOptions,
  'sessionId' | 'sourceLang' | 'targetLang' | 'onEvent' | 'onError' | 'onDropped'
>;

/** Creates one dubbing pipeline per live session, wired to the configured providers. */
@Injectable()
export class DubbingService {
  constructor(
    private readonly speechToText: SpeechToTextProvider,
    private readonly translation: TranslationProvider,
    private readonly textToSpeech: TextToSpeechProvider,
  ) {}

  createPipeline(options: CreateDubbingPipelineOptions): DubbingPipeline {
    return new DubbingPipeline({
      ...options,
      providers: { speechToText: this.speechToText, translation: this.translation, textToSpeech: this.textToSpeech },
    });
  }
}

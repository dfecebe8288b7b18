import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DubbingPipeline, type DubbingPipelineOptions, type SegmentLatency } from './dubbing-pipeline.js';
import { SpeechToTextProvider, TextToSpeechProvider, TranslationProvider } from './providers/dubbing-providers.js';

export type CreateDubbingPipelineOptions = Pick<
  DubbingPipelineOptions,
  'sessionId' | 'sourceLang' | 'targetLang' | 'synthesize' | 'onEvent' | 'onError' | 'onDropped'
>;

/** Creates one dubbing pipeline per live session, wired to the configured providers; records each segment's latency. */
@Injectable()
export class DubbingService {
  constructor(
    private readonly speechToText: SpeechToTextProvider,
    private readonly translation: TranslationProvider,
    private readonly textToSpeech: TextToSpeechProvider,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
  ) {}

  createPipeline(options: CreateDubbingPipelineOptions): DubbingPipeline {
    const output = (options.synthesize ?? true) ? 'audio' : 'text';
    return new DubbingPipeline({
      ...options,
      clock: this.clock,
      providers: { speechToText: this.speechToText, translation: this.translation, textToSpeech: this.textToSpeech },
      onLatency: (latency) => this.recordLatency(latency, output),
    });
  }

  private recordLatency(latency: SegmentLatency, output: 'audio' | 'text'): void {
    const { dubbingStageLatency, dubbingSegmentLatency } = this.metrics;
    dubbingStageLatency.observe({ stage: 'speech_to_text' }, latency.speechToTextMs / 1000);
    dubbingStageLatency.observe({ stage: 'translation' }, latency.translationMs / 1000);
    if (latency.textToSpeechMs !== undefined) {
      dubbingStageLatency.observe({ stage: 'text_to_speech' }, latency.textToSpeechMs / 1000);
    }
    dubbingSegmentLatency.observe({ output }, latency.endToEndMs / 1000);
  }
}

import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DubbingPipeline, type DubbingPipelineOptions, type SegmentLatency } from './dubbing-pipeline.js';
import { PcmPool } from './pcm-pool.js';
import { SpeechToTextProvider, TextToSpeechProvider, TranslationProvider } from './providers/dubbing-providers.js';

export type CreateDubbingPipelineOptions = Pick<
  DubbingPipelineOptions,
  'sessionId' | 'sourceLang' | 'targetLang' | 'synthesize' | 'onEvent' | 'onError' | 'onDropped'
>;

/**
 * Creates one dubbing pipeline per live session, wired to the configured providers and to one pool of segment
 * memory shared by every session; records each segment's latency.
 */
@Injectable()
export class DubbingService {
  private readonly pcmPool = new PcmPool();

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
      pcmPool: this.pcmPool,
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

import { pcmDurationMs } from '../../pcm-format.js';
import { SpeechToTextProvider, type SpeechSegmentInput, type Transcription } from '../dubbing-providers.js';
import { LOOPBACK_PROVIDER_NAME } from './loopback-provider-name.js';

/** Development stand-in: never pretends to transcribe; it says which segment it heard and how long it was. */
export class LoopbackSpeechToTextProvider extends SpeechToTextProvider {
  transcribe(segment: SpeechSegmentInput): Promise<Transcription> {
    const seconds = (pcmDurationMs(segment.pcm, segment.sampleRateHz) / 1000).toFixed(2);
    return Promise.resolve({
      text: `[loopback] speech segment ${segment.sequence}, ${seconds} s`,
      language: segment.sourceLang,
      provider: LOOPBACK_PROVIDER_NAME,
      isLoopback: true,
    });
  }
}

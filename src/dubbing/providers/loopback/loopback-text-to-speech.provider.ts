import { TextToSpeechProvider, type SynthesisInput, type SynthesizedSpeech } from '../dubbing-providers.js';

/** Development stand-in: "dubs" a segment with its own audio, so a client hears its stream echoed per segment. */
export class LoopbackTextToSpeechProvider extends TextToSpeechProvider {
  synthesize(input: SynthesisInput): Promise<SynthesizedSpeech> {
    return Promise.resolve({ pcm: input.sourcePcm, sampleRateHz: input.sampleRateHz });
  }
}

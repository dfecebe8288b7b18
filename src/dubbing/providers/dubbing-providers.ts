/*
 * The three stages of dubbing, as abstract classes so they double as Nest DI tokens.
 * Provider-neutral: a loopback set for development and tests now, HTTP providers later.
 * `signal` is aborted when the pipeline no longer wants the result (segment dropped, session closed).
 */

export interface SpeechSegmentInput {
  /** Mono PCM s16le. */
  pcm: Buffer;
  sampleRateHz: number;
  sourceLang?: string;
  sequence: number;
  signal?: AbortSignal;
}

export interface Transcription {
  text: string;
  /** Language the provider detected, when it reports one. */
  language?: string;
  provider: string;
  /** True when the text is not a real transcription (development stand-in). */
  isLoopback: boolean;
}

export interface TranslationInput {
  text: string;
  sourceLang?: string;
  targetLang: string;
  signal?: AbortSignal;
}

export interface Translation {
  text: string;
  provider: string;
  isLoopback: boolean;
}

export interface SynthesisInput {
  text: string;
  targetLang: string;
  /** The original speech, for providers that keep timing or voice. */
  sourcePcm: Buffer;
  sampleRateHz: number;
  signal?: AbortSignal;
}

export interface SynthesizedSpeech {
  /** Mono PCM s16le. */
  pcm: Buffer;
  sampleRateHz: number;
}

export abstract class SpeechToTextProvider {
  abstract transcribe(segment: SpeechSegmentInput): Promise<Transcription>;
}

export abstract class TranslationProvider {
  abstract translate(input: TranslationInput): Promise<Translation>;
}

export abstract class TextToSpeechProvider {
  abstract synthesize(input: SynthesisInput): Promise<SynthesizedSpeech>;
}

export interface DubbingProviders {
  speechToText: SpeechToTextProvider;
  translation: TranslationProvider;
  textToSpeech: TextToSpeechProvider;
}

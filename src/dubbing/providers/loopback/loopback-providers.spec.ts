import { LoopbackSpeechToTextProvider } from './loopback-speech-to-text.provider.js';
import { LoopbackTextToSpeechProvider } from './loopback-text-to-speech.provider.js';
import { LoopbackTranslationProvider } from './loopback-translation.provider.js';

describe(LoopbackSpeechToTextProvider.name, () => {
  it('says plainly that its text is loopback output, naming the segment and its duration', async () => {
    const transcription = await new LoopbackSpeechToTextProvider().transcribe({
      pcm: Buffer.alloc(39_680),
      sampleRateHz: 16000,
      sourceLang: 'es',
      sequence: 3,
    });
    expect(transcription).toEqual({ text: '[loopback] speech segment 3, 1.24 s', language: 'es', provider: 'loopback', isLoopback: true });
  });

  it('reports no language when none was given', async () => {
    const transcription = await new LoopbackSpeechToTextProvider().transcribe({
      pcm: Buffer.alloc(3200),
      sampleRateHz: 16000,
      sequence: 1,
    });
    expect(transcription.language).toBeUndefined();
  });
});

describe(LoopbackTranslationProvider.name, () => {
  it('marks the unchanged text as loopback output for the target language', async () => {
    const translation = await new LoopbackTranslationProvider().translate({ text: 'hola', sourceLang: 'es', targetLang: 'en' });
    expect(translation).toEqual({ text: '[loopback → en] hola', provider: 'loopback', isLoopback: true });
  });
});

describe(LoopbackTextToSpeechProvider.name, () => {
  it('returns the segment’s own audio at its own rate', async () => {
    const sourcePcm = Buffer.from([1, 2, 3, 4]);
    const speech = await new LoopbackTextToSpeechProvider().synthesize({ text: 'x', targetLang: 'en', sourcePcm, sampleRateHz: 16000 });
    expect(speech).toEqual({ pcm: sourcePcm, sampleRateHz: 16000 });
  });
});

import { encodeWav } from '../../wav.js';
import { SpeechToTextProvider, type SpeechSegmentInput, type Transcription } from '../dubbing-providers.js';
import { readJson, UnusableResponseError, type OpenAiHttpClient } from './openai-http.client.js';
import { OPENAI_PROVIDER_NAME } from './openai-provider-name.js';

const MAX_RESPONSE_BYTES = 1 << 20;

/** `POST /v1/audio/transcriptions`: each voice segment uploaded as a 16-bit mono WAV file. */
export class OpenAiSpeechToTextProvider extends SpeechToTextProvider {
  constructor(
    private readonly client: OpenAiHttpClient,
    private readonly model: string,
  ) {
    super();
  }

  async transcribe(segment: SpeechSegmentInput): Promise<Transcription> {
    const form = new FormData();
    form.append('file', new Blob([encodeWav(segment.pcm, segment.sampleRateHz)], { type: 'audio/wav' }), `segment-${segment.sequence}.wav`);
    form.append('model', this.model);
    if (segment.sourceLang !== undefined) {
      // Whisper-style servers take ISO-639-1 ("pt"), not a regional tag ("pt-BR").
      form.append('language', segment.sourceLang.split('-')[0].toLowerCase());
    }
    form.append('response_format', 'json');
    const text = await this.client.post('/v1/audio/transcriptions', { body: form }, readTranscript, segment.signal);
    return { text, provider: OPENAI_PROVIDER_NAME, isLoopback: false };
  }
}

async function readTranscript(response: Response): Promise<string> {
  const body = (await readJson(response, MAX_RESPONSE_BYTES)) as { text?: unknown } | null;
  if (typeof body?.text !== 'string') {
    throw new UnusableResponseError('returned a transcription without text');
  }
  return body.text;
}

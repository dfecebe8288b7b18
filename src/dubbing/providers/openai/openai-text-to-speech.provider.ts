import { BYTES_PER_SAMPLE } from '../../pcm-format.js';
import { resamplePcm16 } from '../../pcm-resampler.js';
import { TextToSpeechProvider, type SynthesisInput, type SynthesizedSpeech } from '../dubbing-providers.js';
import { readBody, UnusableResponseError, type OpenAiHttpClient } from './openai-http.client.js';

/** About 90 s of 24 kHz speech; a segment is at most 10 s. */
const MAX_AUDIO_BYTES = 8 << 20;
const NOT_RAW_PCM = /^(application\/json|text\/|audio\/(mpeg|mp3|wav|wave|x-wav|ogg|opus|aac|flac))/i;

/** `POST /v1/audio/speech` with `response_format: "pcm"` (raw s16le mono), resampled to the session rate. */
export class OpenAiTextToSpeechProvider extends TextToSpeechProvider {
  constructor(
    private readonly client: OpenAiHttpClient,
    private readonly model: string,
    private readonly voice: string,
    /** The rate of the server's raw PCM: OpenAI sends 24 kHz. */
    private readonly serverSampleRateHz: number,
  ) {
    super();
  }

  async synthesize(input: SynthesisInput): Promise<SynthesizedSpeech> {
    const body = JSON.stringify({ model: this.model, voice: this.voice, input: input.text, response_format: 'pcm' });
    const pcm = await this.client.post('/v1/audio/speech', { body, contentType: 'application/json' }, readRawPcm, input.signal);
    return { pcm: resamplePcm16(pcm, this.serverSampleRateHz, input.sampleRateHz), sampleRateHz: input.sampleRateHz };
  }
}

async function readRawPcm(response: Response): Promise<Buffer> {
  const contentType = response.headers.get('content-type') ?? '';
  if (NOT_RAW_PCM.test(contentType)) {
    await response.body?.cancel();
    throw new UnusableResponseError(`returned ${contentType.split(';')[0]}, not raw PCM (response_format "pcm")`);
  }
  const pcm = await readBody(response, MAX_AUDIO_BYTES);
  if (pcm.length === 0) {
    throw new UnusableResponseError('returned no audio');
  }
  if (pcm.subarray(0, 4).toString('latin1') === 'RIFF') {
    throw new UnusableResponseError('returned a WAV file, not raw PCM (response_format "pcm")');
  }
  if (pcm.length % BYTES_PER_SAMPLE !== 0) {
    throw new UnusableResponseError(`returned ${pcm.length} bytes of audio, not whole 16-bit samples`);
  }
  return pcm;
}

import { TranslationProvider, type Translation, type TranslationInput } from '../dubbing-providers.js';
import { readJson, UnusableResponseError, type OpenAiHttpClient } from './openai-http.client.js';
import { OPENAI_PROVIDER_NAME } from './openai-provider-name.js';
import { TRANSLATION_SYSTEM_PROMPT, translationUserMessage } from './translation-prompt.js';

const MAX_RESPONSE_BYTES = 1 << 20;

/** `POST /v1/chat/completions` with a fixed prompt and temperature 0. */
export class OpenAiTranslationProvider extends TranslationProvider {
  constructor(
    private readonly client: OpenAiHttpClient,
    private readonly model: string,
  ) {
    super();
  }

  async translate(input: TranslationInput): Promise<Translation> {
    const body = JSON.stringify({
      model: this.model,
      temperature: 0,
      messages: [
        { role: 'system', content: TRANSLATION_SYSTEM_PROMPT },
        { role: 'user', content: translationUserMessage(input) },
      ],
    });
    const text = await this.client.post('/v1/chat/completions', { body, contentType: 'application/json' }, readCompletion, input.signal);
    return { text: text.trim(), provider: OPENAI_PROVIDER_NAME, isLoopback: false };
  }
}

async function readCompletion(response: Response): Promise<string> {
  const body = (await readJson(response, MAX_RESPONSE_BYTES)) as { choices?: Array<{ message?: { content?: unknown } }> } | null;
  const content = Array.isArray(body?.choices) ? body.choices[0]?.message?.content : undefined;
  if (typeof content !== 'string') {
    throw new UnusableResponseError('returned a chat completion without message content');
  }
  return content;
}

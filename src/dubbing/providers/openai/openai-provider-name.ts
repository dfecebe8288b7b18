/** The `provider` every OpenAI-compatible result reports. */
export const OPENAI_PROVIDER_NAME = 'openai';

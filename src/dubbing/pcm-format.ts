/** The one audio format of a live session, both directions (docs/protocol.md#audio): LINEAR16 = PCM s16le, mono, 16 kHz. */
export const SESSION_SAMPLE_RATE_HZ = 16000;
export const BYTES_PER_SAMPLE = 2;
const SESSION_CHANNELS = 1;
export const SESSION_BYTES_PER_SECOND = SESSION_SAMPLE_RATE_HZ * BYTES_PER_SAMPLE * SESSION_CHANNELS;

/** Duration of mono s16le PCM in milliseconds. */
export function pcmDurationMs(pcm: Buffer, sampleRateHz: number): number {
  return (pcm.length / BYTES_PER_SAMPLE / sampleRateHz) * 1000;
}

import { BYTES_PER_SAMPLE } from './pcm-format.js';

export const WAV_HEADER_BYTES = 44;

/** A canonical 44-byte RIFF/WAVE header (format 1 = PCM, 16-bit) followed by `pcm`, mono s16le. */
export function encodeWav(pcm: Buffer, sampleRateHz: number): Buffer {
  if (pcm.length % BYTES_PER_SAMPLE !== 0) {
    throw new RangeError(`PCM must hold whole 16-bit samples, got ${pcm.length} bytes`);
  }
  const channels = 1;
  const header = Buffer.alloc(WAV_HEADER_BYTES);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(WAV_HEADER_BYTES - 8 + pcm.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRateHz, 24);
  header.writeUInt32LE(sampleRateHz * channels * BYTES_PER_SAMPLE, 28);
  header.writeUInt16LE(channels * BYTES_PER_SAMPLE, 32);
  header.writeUInt16LE(BYTES_PER_SAMPLE * 8, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

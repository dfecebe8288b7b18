import { BYTES_PER_SAMPLE, SESSION_SAMPLE_RATE_HZ } from '../pcm-format.js';

/** Test fixtures: synthetic mono s16le PCM at the session rate. */

function samplesFor(ms: number): number {
  return Math.round((ms * SESSION_SAMPLE_RATE_HZ) / 1000);
}

export function tone(ms: number, amplitude = 8000, frequencyHz = 440): Buffer {
  const pcm = Buffer.alloc(samplesFor(ms) * BYTES_PER_SAMPLE);
  for (let i = 0; i < pcm.length / BYTES_PER_SAMPLE; i++) {
    pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / SESSION_SAMPLE_RATE_HZ)), i * BYTES_PER_SAMPLE);
  }
  return pcm;
}

export function silence(ms: number): Buffer {
  return Buffer.alloc(samplesFor(ms) * BYTES_PER_SAMPLE);
}

/** Splits `pcm` into consecutive chunks whose sizes cycle through `sizes`. */
export function chunked(pcm: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < pcm.length; i++) {
    const size = sizes[i % sizes.length];
    chunks.push(pcm.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** A small seeded generator (mulberry32), so a failing "random" case can be replayed by its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import { BYTES_PER_SAMPLE } from './pcm-format.js';

/** Zero crossings of the windowed sinc on each side of an output sample. */
const KERNEL_ZERO_CROSSINGS = 8;

/**
 * Resamples mono s16le PCM by band-limited (Hann-windowed sinc) interpolation. When lowering the rate the
 * kernel also low-passes below the new Nyquist frequency, so speech from a 24 kHz voice does not alias at 16 kHz.
 * Weights are normalized per output sample: a constant signal stays exactly constant.
 */
export function resamplePcm16(pcm: Buffer, fromHz: number, toHz: number): Buffer {
  if (pcm.length % BYTES_PER_SAMPLE !== 0) {
    throw new RangeError(`PCM must hold whole 16-bit samples, got ${pcm.length} bytes`);
  }
  for (const rate of [fromHz, toHz]) {
    if (!Number.isInteger(rate) || rate <= 0) {
      throw new RangeError(`Sample rates must be positive integers, got ${rate}`);
    }
  }
  if (fromHz === toHz) {
    return pcm;
  }
  const input = new Int16Array(pcm.length / BYTES_PER_SAMPLE);
  for (let i = 0; i < input.length; i++) {
    input[i] = pcm.readInt16LE(i * BYTES_PER_SAMPLE);
  }
  const outputLength = Math.round((input.length * toHz) / fromHz);
  const output = Buffer.alloc(outputLength * BYTES_PER_SAMPLE);
  const step = fromHz / toHz;
  // Cut-off relative to the input's Nyquist frequency: below 1 only when downsampling.
  const cutoff = Math.min(1, toHz / fromHz);
  const reach = KERNEL_ZERO_CROSSINGS / cutoff;
  for (let n = 0; n < outputLength; n++) {
    const position = n * step;
    let sum = 0;
    let weights = 0;
    for (let k = Math.ceil(position - reach); k <= Math.floor(position + reach); k++) {
      const weight = kernel((position - k) * cutoff);
      const sample = input[Math.min(input.length - 1, Math.max(0, k))];
      sum += weight * sample;
      weights += weight;
    }
    output.writeInt16LE(clampToInt16(Math.round(sum / weights)), n * BYTES_PER_SAMPLE);
  }
  return output;
}

/** sinc(x) under a Hann window spanning ±KERNEL_ZERO_CROSSINGS. */
function kernel(x: number): number {
  if (Math.abs(x) >= KERNEL_ZERO_CROSSINGS) {
    return 0;
  }
  const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
  const window = 0.5 + 0.5 * Math.cos((Math.PI * x) / KERNEL_ZERO_CROSSINGS);
  return sinc * window;
}

function clampToInt16(value: number): number {
  return Math.max(-32768, Math.min(32767, value));
}

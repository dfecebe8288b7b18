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
  const divisor = greatestCommonDivisor(fromHz, toHz);
  const up = toHz / divisor;
  const down = fromHz / divisor;
  const phases = phaseKernels(up, Math.min(1, toHz / fromHz));
  for (let n = 0; n < outputLength; n++) {
    // Output sample n sits at input position n·down/up = base + phase/up.
    const base = Math.floor((n * down) / up);
    const { firstTap, weights } = phases[(n * down) % up];
    let sum = 0;
    for (let j = 0; j < weights.length; j++) {
      const k = base + firstTap + j;
      sum += weights[j] * input[k < 0 ? 0 : k >= input.length ? input.length - 1 : k];
    }
    output.writeInt16LE(clampToInt16(Math.round(sum)), n * BYTES_PER_SAMPLE);
  }
  return output;
}

interface PhaseKernel {
  /** Offset of the first tap from the output sample's whole input position. */
  firstTap: number;
  /** Normalized to sum to 1. */
  weights: Float64Array;
}

/** The kernel for each of the `up` fractional positions an output sample can sit at, computed once per call. */
function phaseKernels(up: number, cutoff: number): PhaseKernel[] {
  // `cutoff` is relative to the input's Nyquist frequency: below 1 only when downsampling.
  const reach = KERNEL_ZERO_CROSSINGS / cutoff;
  return Array.from({ length: up }, (_, phase) => {
    const fraction = phase / up;
    const firstTap = Math.ceil(fraction - reach);
    const lastTap = Math.floor(fraction + reach);
    const weights = Float64Array.from({ length: lastTap - firstTap + 1 }, (_, j) => kernel((fraction - (firstTap + j)) * cutoff));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    return { firstTap, weights: weights.map((weight) => weight / total) };
  });
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
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

/**
 * Streaming conversion of captured audio to what the service takes: PCM s16le, mono, 16 kHz (docs/protocol.md,
 * "Audio"). Pure code with no browser API, shared by the capture worklet and the unit specs.
 */

export const TARGET_SAMPLE_RATE = 16_000;

/** Averages the channels of one render quantum into one. */
export function downmix(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 1) {
    return channels[0];
  }
  const length = channels[0]?.length ?? 0;
  const mono = new Float32Array(length);
  for (const channel of channels) {
    for (let i = 0; i < length; i++) {
      mono[i] += channel[i] / channels.length;
    }
  }
  return mono;
}

/** A sample in [-1, 1] as a signed 16-bit integer, clipped. */
export function toInt16(sample: number): number {
  const clipped = Math.max(-1, Math.min(1, sample));
  return clipped < 0 ? Math.round(clipped * 0x8000) : Math.round(clipped * 0x7fff);
}

/** A windowed-sinc (Blackman) low-pass filter, `cutoff` in cycles per input sample, gain 1 at DC. */
export function lowPassTaps(cutoff: number, count: number): Float32Array {
  const taps = new Float32Array(count);
  const middle = (count - 1) / 2;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const x = i - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (count - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (count - 1));
    taps[i] = sinc * window;
    sum += taps[i];
  }
  for (let i = 0; i < count; i++) {
    taps[i] /= sum;
  }
  return taps;
}

/**
 * Resamples a stream block by block: a low-pass filter below the output's Nyquist frequency (when downsampling),
 * then linear interpolation at the output rate. State carries across blocks, so block boundaries leave no seam.
 */
export class StreamingResampler {
  private readonly step: number;
  private readonly taps: Float32Array;
  /** The last `taps.length - 1` input samples, for the filter. */
  private readonly history: Float32Array;
  /** Filtered samples not yet consumed; the position of the next output sample is `position` into it. */
  private pending = new Float32Array(0);
  private position = 0;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number = TARGET_SAMPLE_RATE,
    tapCount = 63,
  ) {
    if (!(inputRate > 0) || !(outputRate > 0)) {
      throw new Error(`Sample rates must be positive, got ${inputRate} → ${outputRate}`);
    }
    this.step = inputRate / outputRate;
    this.taps = inputRate > outputRate ? lowPassTaps((0.45 * outputRate) / inputRate, tapCount) : Float32Array.of(1);
    this.history = new Float32Array(this.taps.length - 1);
  }

  /** Takes the next block of input; returns the output samples it completes, as 16-bit integers. */
  process(input: Float32Array): Int16Array {
    const filtered = this.filter(input);
    const pending = new Float32Array(this.pending.length + filtered.length);
    pending.set(this.pending);
    pending.set(filtered, this.pending.length);
    const output: number[] = [];
    let position = this.position;
    while (position + 1 < pending.length) {
      const index = Math.floor(position);
      const fraction = position - index;
      output.push(toInt16(pending[index] + (pending[index + 1] - pending[index]) * fraction));
      position += this.step;
    }
    const consumed = Math.min(Math.floor(position), pending.length);
    this.pending = pending.slice(consumed);
    this.position = position - consumed;
    return Int16Array.from(output);
  }

  private filter(input: Float32Array): Float32Array {
    const taps = this.taps;
    if (taps.length === 1) {
      return input;
    }
    const keep = this.history.length;
    const extended = new Float32Array(keep + input.length);
    extended.set(this.history);
    extended.set(input, keep);
    const output = new Float32Array(input.length);
    for (let i = 0; i < input.length; i++) {
      let sum = 0;
      for (let t = 0; t < taps.length; t++) {
        sum += taps[t] * extended[i + t];
      }
      output[i] = sum;
    }
    this.history.set(extended.subarray(extended.length - keep));
    return output;
  }
}

/** Cuts a stream of 16-bit samples into frames of `frameSamples` (100 ms at 16 kHz: 1 600 samples, 3 200 bytes). */
export class PcmFramer {
  private frame: Int16Array;
  private filled = 0;

  constructor(private readonly frameSamples = TARGET_SAMPLE_RATE / 10) {
    this.frame = new Int16Array(frameSamples);
  }

  /** Returns the frames `samples` completes, each its own little-endian buffer. */
  push(samples: Int16Array): ArrayBuffer[] {
    const frames: ArrayBuffer[] = [];
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(this.frameSamples - this.filled, samples.length - offset);
      this.frame.set(samples.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameSamples) {
        frames.push(littleEndian(this.frame));
        this.frame = new Int16Array(this.frameSamples);
        this.filled = 0;
      }
    }
    return frames;
  }
}

function littleEndian(samples: Int16Array): ArrayBuffer {
  const buffer = new ArrayBuffer(samples.length * 2);
  const view = new DataView(buffer);
  samples.forEach((sample, i) => view.setInt16(i * 2, sample, true));
  return buffer;
}

/** The RMS level of a block, 0..1, for the microphone meter. */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const sample of samples) {
    sum += sample * sample;
  }
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length);
}

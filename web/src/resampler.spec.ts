import { downmix, lowPassTaps, PcmFramer, StreamingResampler, toInt16 } from './resampler.js';

function sine(frequency: number, rate: number, samples: number, amplitude = 0.5, phase = 0): Float32Array {
  return Float32Array.from({ length: samples }, (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * (i + phase)) / rate));
}

function rmsOf(samples: ArrayLike<number>, from = 0): number {
  let sum = 0;
  for (let i = from; i < samples.length; i++) {
    sum += samples[i] * samples[i];
  }
  return Math.sqrt(sum / (samples.length - from));
}

describe('capture resampling to 16 kHz s16le', () => {
  it('turns 48 kHz into 16 kHz: one output sample per three inputs, across blocks of 128', () => {
    const resampler = new StreamingResampler(48_000);
    let produced = 0;
    for (let block = 0; block < 375; block++) {
      produced += resampler.process(new Float32Array(128)).length;
    }
    // 48 000 input samples: 16 000 output samples, give or take the one the interpolation waits for.
    expect(Math.abs(produced - 16_000)).toBeLessThanOrEqual(1);
  });

  it('handles 44.1 kHz (a fractional step) at the right rate', () => {
    const resampler = new StreamingResampler(44_100);
    let produced = 0;
    for (let i = 0; i < 100; i++) {
      produced += resampler.process(new Float32Array(441)).length;
    }
    expect(Math.abs(produced - 16_000)).toBeLessThanOrEqual(1);
  });

  it('keeps a 440 Hz tone and its level, with no seam at block boundaries', () => {
    const input = sine(440, 48_000, 48_000);
    const resampler = new StreamingResampler(48_000);
    const chunks: Int16Array[] = [];
    for (let offset = 0; offset < input.length; offset += 128) {
      chunks.push(resampler.process(input.subarray(offset, offset + 128)));
    }
    const output = Float32Array.from(chunks.flatMap((chunk) => [...chunk]).map((s) => s / 0x8000));
    expect(rmsOf(output, 100)).toBeCloseTo(0.5 / Math.SQRT2, 2);
    // Compare with the ideal tone at 16 kHz, allowing for the filter's delay (31 input samples = 31/3 output samples).
    const delay = 31 / 3;
    let worst = 0;
    for (let i = 200; i < output.length - 10; i++) {
      const ideal = 0.5 * Math.sin((2 * Math.PI * 440 * (i - delay)) / 16_000);
      worst = Math.max(worst, Math.abs(output[i] - ideal));
    }
    expect(worst).toBeLessThan(0.01);
  });

  it('filters out what 16 kHz cannot carry (a 12 kHz tone) instead of folding it into the speech band', () => {
    const resampler = new StreamingResampler(48_000);
    const output = resampler.process(sine(12_000, 48_000, 48_000));
    expect(
      rmsOf(
        Float32Array.from(output, (s) => s / 0x8000),
        100,
      ),
    ).toBeLessThan(0.01);
  });

  it('passes 16 kHz through unchanged', () => {
    const resampler = new StreamingResampler(16_000);
    const input = sine(300, 16_000, 1000);
    const output = resampler.process(input);
    expect(output.length).toBe(999);
    expect(output[10]).toBe(toInt16(input[10]));
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new StreamingResampler(0)).toThrow(/positive/);
  });

  it('designs a low-pass filter with unit gain at DC', () => {
    const taps = lowPassTaps(0.15, 63);
    expect(taps.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(taps[0]).toBeCloseTo(taps[62], 9);
  });
});

describe('samples and frames', () => {
  it('converts to signed 16-bit, clipping what is out of range', () => {
    expect([toInt16(0), toInt16(1), toInt16(-1), toInt16(2), toInt16(-2), toInt16(0.5)]).toEqual([0, 32767, -32768, 32767, -32768, 16384]);
  });

  it('averages channels into mono', () => {
    expect([...downmix([Float32Array.of(1, 0.5), Float32Array.of(0, -0.5)])]).toEqual([0.5, 0]);
  });

  it('cuts the stream into 100-ms frames of 3 200 bytes, little-endian, carrying the rest to the next frame', () => {
    const framer = new PcmFramer();
    expect(framer.push(new Int16Array(1000))).toEqual([]);
    const samples = Int16Array.from({ length: 2500 }, (_, i) => i - 1250);
    const frames = framer.push(samples);
    expect(frames).toHaveLength(2);
    expect(frames.map((frame) => frame.byteLength)).toEqual([3200, 3200]);
    const second = new DataView(frames[1]);
    // The second frame starts at sample 600 of this push (1 000 + 2 500 = 3 500 = 2 frames + 300).
    expect(second.getInt16(0, true)).toBe(600 - 1250);
    expect(new Uint8Array(frames[1])[0]).toBe((600 - 1250) & 0xff);
  });
});

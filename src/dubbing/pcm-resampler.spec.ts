import { resamplePcm16 } from './pcm-resampler.js';

function pcmOf(samples: number[]): Buffer {
  const pcm = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => pcm.writeInt16LE(sample, i * 2));
  return pcm;
}

function samplesOf(pcm: Buffer): number[] {
  return Array.from({ length: pcm.length / 2 }, (_, i) => pcm.readInt16LE(i * 2));
}

function sine(frequencyHz: number, rateHz: number, samples: number, amplitude: number): number[] {
  // `|| 0` turns the -0 that Math.round gives for tiny negative values into 0, as a PCM sample reads back.
  return Array.from({ length: samples }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz)) || 0);
}

function rms(samples: number[]): number {
  return Math.sqrt(samples.reduce((sum, sample) => sum + sample * sample, 0) / samples.length);
}

describe(resamplePcm16.name, () => {
  it('returns the same buffer when the rates are equal', () => {
    const pcm = pcmOf([1, -2, 3]);
    expect(resamplePcm16(pcm, 16000, 16000)).toBe(pcm);
  });

  it('turns 24 kHz into 16 kHz: two samples out for every three in', () => {
    expect(resamplePcm16(Buffer.alloc(24000 * 2), 24000, 16000)).toHaveLength(16000 * 2);
    expect(resamplePcm16(Buffer.alloc(3 * 2), 24000, 16000)).toHaveLength(2 * 2);
    expect(resamplePcm16(Buffer.alloc(0), 24000, 16000)).toHaveLength(0);
  });

  it('rounds the output length to the nearest sample', () => {
    expect(resamplePcm16(Buffer.alloc(22050 * 2), 22050, 16000)).toHaveLength(16000 * 2);
    expect(resamplePcm16(Buffer.alloc(4 * 2), 24000, 16000)).toHaveLength(3 * 2);
  });

  it.each([0, 1234, -32768, 32767])('keeps a constant signal of %i exactly constant, edges included', (value) => {
    expect(samplesOf(resamplePcm16(pcmOf(Array(300).fill(value)), 24000, 16000))).toEqual(Array(200).fill(value));
  });

  it('keeps every original sample when doubling the rate', () => {
    const original = sine(440, 8000, 400, 12000);
    const doubled = samplesOf(resamplePcm16(pcmOf(original), 8000, 16000));
    expect(doubled).toHaveLength(800);
    expect(doubled.filter((_, i) => i % 2 === 0)).toEqual(original);
  });

  it('keeps a 1 kHz tone: within 1 % of the ideal 16 kHz signal away from the edges', () => {
    const resampled = samplesOf(resamplePcm16(pcmOf(sine(1000, 24000, 2400, 10000)), 24000, 16000));
    const ideal = sine(1000, 16000, 1600, 10000);
    const errors = resampled.slice(100, 1500).map((sample, i) => Math.abs(sample - ideal[i + 100]));
    expect(Math.max(...errors)).toBeLessThan(100);
  });

  it('filters out a 10 kHz tone, above the 8 kHz Nyquist frequency of 16 kHz audio, instead of aliasing it', () => {
    const resampled = samplesOf(resamplePcm16(pcmOf(sine(10000, 24000, 2400, 10000)), 24000, 16000));
    expect(rms(resampled.slice(100, 1500))).toBeLessThan(0.05 * rms(sine(10000, 24000, 2400, 10000)));
  });

  it('clamps overshoot at full scale instead of wrapping around', () => {
    const square = Array.from({ length: 480 }, (_, i) => (Math.floor(i / 12) % 2 === 0 ? 32767 : -32768));
    const resampled = samplesOf(resamplePcm16(pcmOf(square), 24000, 16000));
    expect(Math.max(...resampled)).toBe(32767);
    expect(Math.min(...resampled)).toBe(-32768);
  });

  it('refuses a buffer that is not whole 16-bit samples', () => {
    expect(() => resamplePcm16(Buffer.alloc(5), 24000, 16000)).toThrow('PCM must hold whole 16-bit samples, got 5 bytes');
  });

  it('refuses a rate that is not a positive integer', () => {
    expect(() => resamplePcm16(Buffer.alloc(2), 0, 16000)).toThrow('Sample rates must be positive integers, got 0');
    expect(() => resamplePcm16(Buffer.alloc(2), 24000, 16000.5)).toThrow('Sample rates must be positive integers, got 16000.5');
  });
});

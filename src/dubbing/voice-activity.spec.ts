import { chunked, silence, tone } from './testing/synthetic-pcm.js';
import { rmsReaches, VoiceActivitySegmenter, type VoiceSegment } from './voice-activity.js';

const FRAME_MS = 20;
const BYTES_PER_MS = 32;

function segmentsOf(pcm: Buffer, chunkSizes?: number[]): VoiceSegment[] {
  const segmenter = new VoiceActivitySegmenter();
  const chunks = chunkSizes === undefined ? [pcm] : chunked(pcm, chunkSizes);
  return [...chunks.flatMap((chunk) => segmenter.push(chunk)), ...segmenter.flush()];
}

function boundaries(segments: VoiceSegment[]): Array<[number, number]> {
  return segments.map((segment) => [segment.startMs, segment.endMs]);
}

function samplesOf(pcm: Buffer): Int16Array {
  return Int16Array.from({ length: pcm.length / 2 }, (_, i) => pcm.readInt16LE(2 * i));
}

describe(rmsReaches.name, () => {
  const alternating = samplesOf(Buffer.from(new Int16Array(320).map((_, i) => (i % 2 === 0 ? 1000 : -1000)).buffer));

  it('holds a constant-magnitude frame to exactly that magnitude', () => {
    expect(rmsReaches(alternating, 0, 320, 1000)).toBe(true);
    expect(rmsReaches(alternating, 0, 320, 1000.5)).toBe(false);
  });

  it('finds digital silence below any positive threshold', () => {
    expect(rmsReaches(new Int16Array(320), 0, 320, 1)).toBe(false);
    expect(rmsReaches(new Int16Array(320), 0, 320, 0)).toBe(true);
  });

  it('weighs only the samples of the frame it is given', () => {
    const quietThenLoud = new Int16Array(640);
    quietThenLoud.fill(5000, 320);
    expect(rmsReaches(quietThenLoud, 0, 320, 500)).toBe(false);
    expect(rmsReaches(quietThenLoud, 320, 320, 500)).toBe(true);
    expect(rmsReaches(quietThenLoud, 160, 320, 5000 / Math.SQRT2)).toBe(true);
    expect(rmsReaches(quietThenLoud, 160, 320, 5000 / Math.SQRT2 + 1)).toBe(false);
  });

  it('agrees with the RMS computed in full for a tone', () => {
    const samples = samplesOf(tone(20, 12_000, 400));
    const rms = Math.sqrt(samples.reduce((sum, sample) => sum + sample * sample, 0) / samples.length);
    expect(rmsReaches(samples, 0, samples.length, rms - 0.01)).toBe(true);
    expect(rmsReaches(samples, 0, samples.length, rms + 0.01)).toBe(false);
  });
});

describe(VoiceActivitySegmenter.name, () => {
  it('finds one segment per tone burst, bounded by the tone edges', () => {
    const pcm = Buffer.concat([silence(500), tone(1000), silence(800), tone(600), silence(500)]);
    const segments = segmentsOf(pcm);
    expect(boundaries(segments)).toEqual([
      [500, 1500],
      [2300, 2900],
    ]);
    expect(segments.map((segment) => segment.sequence)).toEqual([1, 2]);
  });

  it('finds the same segments, with the same samples, in audio that starts on an odd byte', () => {
    const pcm = Buffer.concat([silence(300), tone(700, 3000), silence(400), tone(300, 900), silence(400)]);
    const backing = Buffer.alloc(pcm.length + 1);
    pcm.copy(backing, 1);
    const unaligned = backing.subarray(1);
    expect(unaligned.byteOffset % 2).toBe(1);
    const [aligned, odd] = [segmentsOf(pcm, [3200, 3200, 1000]), segmentsOf(unaligned, [3200, 3200, 1000])];
    expect(boundaries(odd)).toEqual(boundaries(aligned));
    expect(boundaries(aligned)).toEqual([
      [300, 1000],
      [1400, 1700],
    ]);
    expect(odd.map((segment) => segment.pcm)).toEqual(aligned.map((segment) => segment.pcm));
  });

  it('returns exactly the speech samples of a segment', () => {
    const speech = tone(400);
    const [segment] = segmentsOf(Buffer.concat([silence(100), speech, silence(400)]));
    expect(segment.pcm.equals(speech)).toBe(true);
  });

  it('places boundaries that fall inside a frame within one frame of the tone edges', () => {
    const [segment] = segmentsOf(Buffer.concat([silence(510), tone(1000), silence(700)]));
    expect(Math.abs(segment.startMs - 510)).toBeLessThanOrEqual(FRAME_MS);
    expect(Math.abs(segment.endMs - 1510)).toBeLessThanOrEqual(FRAME_MS);
  });

  it('finds the same segments whatever the chunk sizes', () => {
    const pcm = Buffer.concat([silence(300), tone(700), silence(450), tone(1200), silence(310), tone(250), silence(600)]);
    const whole = segmentsOf(pcm);
    expect(whole).toHaveLength(3);
    expect(segmentsOf(pcm, [320])).toEqual(whole);
    expect(segmentsOf(pcm, [2, 998, 642, 4, 1278, 100, 6])).toEqual(whole);
  });

  it('does not treat a quiet hum below the threshold as speech', () => {
    expect(segmentsOf(tone(2000, 300))).toEqual([]);
  });

  it('drops a click shorter than the minimum segment length', () => {
    expect(segmentsOf(Buffer.concat([silence(500), tone(100), silence(1000)]))).toEqual([]);
  });

  it('keeps a segment of exactly the minimum length and drops one a frame shorter', () => {
    expect(boundaries(segmentsOf(Buffer.concat([tone(200), silence(400)])))).toEqual([[0, 200]]);
    expect(segmentsOf(Buffer.concat([tone(180), silence(400)]))).toEqual([]);
  });

  it('does not spend a sequence number on a dropped click', () => {
    const segments = segmentsOf(Buffer.concat([tone(60), silence(500), tone(500), silence(500)]));
    expect(segments.map((segment) => [segment.sequence, segment.startMs])).toEqual([[1, 560]]);
  });

  it('bridges a pause shorter than the hangover', () => {
    const pcm = Buffer.concat([tone(400), silence(280), tone(400), silence(400)]);
    expect(boundaries(segmentsOf(pcm))).toEqual([[0, 1080]]);
  });

  it('ends a segment after a pause as long as the hangover', () => {
    const pcm = Buffer.concat([tone(400), silence(300), tone(400), silence(400)]);
    expect(boundaries(segmentsOf(pcm))).toEqual([
      [0, 400],
      [700, 1100],
    ]);
  });

  it('emits a segment as soon as the hangover has passed, not at the end of the chunk', () => {
    const segmenter = new VoiceActivitySegmenter();
    expect(segmenter.push(Buffer.concat([tone(400), silence(280)]))).toEqual([]);
    expect(boundaries(segmenter.push(silence(FRAME_MS)))).toEqual([[0, 400]]);
  });

  it('cuts continuous speech at the maximum segment length', () => {
    const segments = segmentsOf(Buffer.concat([tone(25_000), silence(500)]));
    expect(boundaries(segments)).toEqual([
      [0, 10_000],
      [10_000, 20_000],
      [20_000, 25_000],
    ]);
    expect(segments[0].pcm.length).toBe(10_000 * BYTES_PER_MS);
  });

  it('emits a cut segment while the speech is still going on', () => {
    const segmenter = new VoiceActivitySegmenter();
    expect(segmenter.push(tone(9_980))).toEqual([]);
    expect(boundaries(segmenter.push(tone(FRAME_MS)))).toEqual([[0, 10_000]]);
  });

  it('emits the speech in progress on flush', () => {
    const segmenter = new VoiceActivitySegmenter();
    expect(segmenter.push(Buffer.concat([silence(200), tone(700)]))).toEqual([]);
    expect(boundaries(segmenter.flush())).toEqual([[200, 900]]);
  });

  it('leaves the trailing silence out of a flushed segment', () => {
    const segmenter = new VoiceActivitySegmenter();
    segmenter.push(Buffer.concat([tone(500), silence(200)]));
    expect(boundaries(segmenter.flush())).toEqual([[0, 500]]);
  });

  it('drops a flushed segment shorter than the minimum length', () => {
    const segmenter = new VoiceActivitySegmenter();
    segmenter.push(tone(100));
    expect(segmenter.flush()).toEqual([]);
  });

  it('flushes nothing when no speech is in progress', () => {
    const segmenter = new VoiceActivitySegmenter();
    segmenter.push(Buffer.concat([tone(300), silence(400)]));
    expect(segmenter.flush()).toEqual([]);
  });

  it('cuts the speech in progress mid-stream, keeping a partial frame for the segments after it', () => {
    const segmenter = new VoiceActivitySegmenter();
    // 710 ms: 35 whole frames and half a frame of silence, which the cut keeps.
    expect(segmenter.push(Buffer.concat([silence(200), tone(500), silence(10)]))).toEqual([]);
    expect(boundaries(segmenter.cut())).toEqual([[200, 700]]);
    expect(segmenter.cut()).toEqual([]);
    const after = segmenter.push(Buffer.concat([silence(290), tone(400), silence(400)]));
    expect(boundaries(after)).toEqual([[1_000, 1_400]]);
  });

  it('honours custom thresholds and lengths', () => {
    const segmenter = new VoiceActivitySegmenter({ thresholdRms: 100, hangoverMs: 100, minSegmentMs: 40, maxSegmentMs: 1000 });
    const segments = segmenter.push(Buffer.concat([tone(60, 300), silence(100), tone(1500, 300), silence(100)]));
    expect(boundaries(segments)).toEqual([
      [0, 60],
      [160, 1160],
      [1160, 1660],
    ]);
  });

  it('rejects an analysis frame that is not a whole number of samples', () => {
    expect(() => new VoiceActivitySegmenter({ sampleRateHz: 22050, frameMs: 10 })).toThrow(
      'A 10-ms frame at 22050 Hz is not a whole number of samples',
    );
  });
});

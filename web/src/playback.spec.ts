import { s16leToFloat32 } from './pcm.js';
import { PlaybackScheduler, type PlaybackContext } from './playback.js';

class FakeContext implements PlaybackContext {
  currentTime = 0;
  readonly started: { when: number; length: number; sampleRate: number }[] = [];

  createBuffer(_channels: number, length: number, sampleRate: number) {
    return { length, sampleRate, copyToChannel: () => undefined };
  }

  createBufferSource() {
    const source = {
      buffer: undefined as unknown,
      onended: null as ((event: Event) => unknown) | null,
      connect: () => undefined,
      start: (when: number) => {
        const buffer = source.buffer as { length: number; sampleRate: number };
        this.started.push({ when, length: buffer.length, sampleRate: buffer.sampleRate });
      },
    };
    return source;
  }
}

function pcm(samples: number): ArrayBuffer {
  return new ArrayBuffer(samples * 2);
}

describe('gapless playback of dubbed segments', () => {
  it('starts the first segment just ahead of now and each next one exactly where the previous ends', () => {
    const context = new FakeContext();
    context.currentTime = 2;
    const scheduler = new PlaybackScheduler(context, {}, 0.1);
    scheduler.enqueue(pcm(8000), 16_000);
    context.currentTime = 2.2;
    scheduler.enqueue(pcm(16_000), 16_000);
    scheduler.enqueue(pcm(1600), 16_000);
    expect(context.started.map((s) => s.when)).toEqual([2.1, 2.6, 3.6]);
    expect(scheduler.stats).toMatchObject({ scheduledSegments: 3, scheduledSamples: 25_600, gaps: 0, playing: 3 });
    expect(scheduler.queuedSeconds()).toBeCloseTo(1.5, 9);
  });

  it('starts afresh after running dry, and counts the gap', () => {
    const context = new FakeContext();
    const scheduler = new PlaybackScheduler(context, {}, 0.05);
    scheduler.enqueue(pcm(1600), 16_000);
    context.currentTime = 5;
    scheduler.enqueue(pcm(1600), 16_000);
    expect(context.started.map((s) => s.when)).toEqual([0.05, 5.05]);
    expect(scheduler.stats.gaps).toBe(1);
  });

  it('ignores an empty frame', () => {
    const context = new FakeContext();
    const scheduler = new PlaybackScheduler(context, {});
    expect(scheduler.enqueue(new ArrayBuffer(0), 16_000)).toBeUndefined();
    expect(context.started).toEqual([]);
  });

  it('reads PCM s16le', () => {
    const buffer = new ArrayBuffer(6);
    const view = new DataView(buffer);
    view.setInt16(0, -32768, true);
    view.setInt16(2, 16384, true);
    view.setInt16(4, 0, true);
    expect([...s16leToFloat32(buffer)]).toEqual([-1, 0.5, 0]);
  });
});

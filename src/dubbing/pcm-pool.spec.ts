import { PcmPool } from './pcm-pool.js';

describe(PcmPool.name, () => {
  it('lends a buffer of exactly the bytes asked for', () => {
    const lease = new PcmPool().lease(38_400);
    expect(lease.pcm.length).toBe(38_400);
    expect(lease.pcm.buffer.byteLength).toBe(65_536);
  });

  it('lends released memory again, and memory still held never', () => {
    const pool = new PcmPool();
    const first = pool.lease(30_000);
    const held = pool.lease(30_000);
    first.release();
    const reused = pool.lease(20_000);
    expect(reused.pcm.buffer).toBe(first.pcm.buffer);
    expect(pool.lease(30_000).pcm.buffer).not.toBe(held.pcm.buffer);
  });

  it('keeps memory out of the pool until every holder has released it', () => {
    const pool = new PcmPool();
    const lease = pool.lease(10_000);
    const releaseReader = lease.hold();
    lease.release();
    expect(pool.stats().freeBuffers).toBe(0);
    expect(pool.lease(10_000).pcm.buffer).not.toBe(lease.pcm.buffer);
    releaseReader();
    expect(pool.stats()).toEqual({ freeBuffers: 1, freeBytes: 16_384 });
  });

  it('counts a release function called twice as one release', () => {
    const pool = new PcmPool();
    const lease = pool.lease(10_000);
    const releaseReader = lease.hold();
    releaseReader();
    releaseReader();
    expect(pool.stats().freeBuffers).toBe(0);
    lease.release();
    expect(pool.stats().freeBuffers).toBe(1);
  });

  it('refuses a new holder for memory already given back', () => {
    const lease = new PcmPool().lease(10_000);
    lease.release();
    expect(() => lease.hold()).toThrow('A released PCM buffer cannot be held again');
  });

  it('keeps no more free memory than its limit', () => {
    const pool = new PcmPool(40_000);
    const leases = [pool.lease(16_000), pool.lease(16_000), pool.lease(16_000)];
    for (const lease of leases) {
      lease.release();
    }
    expect(pool.stats()).toEqual({ freeBuffers: 2, freeBytes: 32_768 });
  });
});

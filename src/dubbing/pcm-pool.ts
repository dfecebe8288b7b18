/** The smallest buffer the pool hands out: half a second of session audio. */
const MIN_CAPACITY_BYTES = 16_384;
/** Free memory the pool keeps for reuse; what goes back beyond this is left to the garbage collector. */
const DEFAULT_MAX_FREE_BYTES = 16 * 1024 * 1024;

/**
 * One pooled buffer and its holders. `pcm` must not be read once every holder has released it: the memory
 * goes back to the pool then and becomes another segment's.
 */
export interface PcmLease {
  readonly pcm: Buffer;
  /** The first holder's release (the one `lease` made). Calling it again does nothing. */
  readonly release: () => void;
  /** Adds a holder; the returned function releases that holder, once. */
  hold(): () => void;
}

/**
 * Reusable memory for speech segments. Off-heap buffers count toward V8's next full collection, so a fresh
 * buffer per segment made a busy gateway mark its whole heap about once a second. Memory goes back when its
 * last holder releases it; a lease that is never released is collected as usual, so a missed release costs
 * a fresh allocation, never a wrong byte.
 */
export class PcmPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;

  constructor(private readonly maxFreeBytes = DEFAULT_MAX_FREE_BYTES) {}

  /** A buffer of exactly `bytes` (contents undefined), with one holder. */
  lease(bytes: number): PcmLease {
    const capacity = capacityFor(bytes);
    let memory = this.free.get(capacity)?.pop();
    if (memory === undefined) {
      memory = new ArrayBuffer(capacity);
    } else {
      this.freeBytes -= capacity;
    }
    const pooled = memory;
    let holders = 0;
    let released = false;
    const hold = () => {
      if (released) {
        throw new Error('A released PCM buffer cannot be held again');
      }
      holders++;
      let done = false;
      return () => {
        if (!done) {
          done = true;
          if (--holders === 0) {
            released = true;
            this.giveBack(pooled);
          }
        }
      };
    };
    const release = hold();
    return { pcm: Buffer.from(pooled, 0, bytes), release, hold };
  }

  /** Buffers waiting for reuse, and their bytes. */
  stats(): { freeBuffers: number; freeBytes: number } {
    let freeBuffers = 0;
    for (const buffers of this.free.values()) {
      freeBuffers += buffers.length;
    }
    return { freeBuffers, freeBytes: this.freeBytes };
  }

  private giveBack(memory: ArrayBuffer): void {
    if (this.freeBytes + memory.byteLength > this.maxFreeBytes) {
      return;
    }
    const buffers = this.free.get(memory.byteLength) ?? [];
    buffers.push(memory);
    this.free.set(memory.byteLength, buffers);
    this.freeBytes += memory.byteLength;
  }
}

function capacityFor(bytes: number): number {
  let capacity = MIN_CAPACITY_BYTES;
  while (capacity < bytes) {
    capacity *= 2;
  }
  return capacity;
}

export type Release = () => void;

/** At most `permits` holders at once; waiters are served first come, first served and can give up through their signal. */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<(release: Release) => void> = [];

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`A semaphore needs a positive whole number of permits, got ${permits}`);
    }
    this.available = permits;
  }

  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) {
      return Promise.reject(signal.reason);
    }
    if (this.available > 0) {
      this.available--;
      return Promise.resolve(this.releaseOnce());
    }
    return new Promise((resolve, reject) => {
      const grant = (release: Release) => {
        signal?.removeEventListener('abort', giveUp);
        resolve(release);
      };
      const giveUp = () => {
        this.waiters.splice(this.waiters.indexOf(grant), 1);
        reject(signal!.reason);
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', giveUp, { once: true });
    });
  }

  waiting(): number {
    return this.waiters.length;
  }

  private releaseOnce(): Release {
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      const next = this.waiters.shift();
      if (next === undefined) {
        this.available++;
      } else {
        next(this.releaseOnce());
      }
    };
  }
}

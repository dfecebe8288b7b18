/** A small deterministic PRNG (xorshift32): the same seed gives the same sequence, so a chaos trial can be replayed. */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    // xorshift has one fixed point, 0; any other 32-bit state works.
    this.state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }

  /** A float in [0, 1). */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 2 ** 32;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

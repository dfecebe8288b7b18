import { Clock, type CancelTimer, type TimerCallback } from '../../src/common/clock.js';

/**
 * A clock that moves only when told. Benchmarks never move it past a pending timer (they stop well
 * before any session's cut-off or warning), and `advance` refuses to, so no timer ever needs to fire.
 */
export class BenchClock extends Clock {
  private readonly timers = new Set<{ at: number }>();

  constructor(private current: number) {
    super();
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, _callback: TimerCallback): CancelTimer {
    const timer = { at: this.current + Math.max(0, delayMs) };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (const timer of this.timers) {
      if (timer.at <= target) {
        throw new Error(`BenchClock: advancing ${ms} ms would pass a pending timer`);
      }
    }
    this.current = target;
  }
}

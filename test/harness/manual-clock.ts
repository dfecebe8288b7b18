import { Clock, type CancelTimer, type TimerCallback } from '../../src/common/clock.js';

interface PendingTimer {
  at: number;
  seq: number;
  callback: TimerCallback;
}

/** A clock that moves only when told; timers fire in time order as it moves past them. */
export class ManualClock extends Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private seq = 0;

  constructor(start: number | Date = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    super();
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, callback: TimerCallback): CancelTimer {
    const timer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((pending) => pending !== timer);
    };
  }

  /** Moves time forward by `ms`, firing due timers in order and awaiting what each one returns. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((timer) => timer.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) {
        break;
      }
      this.timers = this.timers.filter((timer) => timer !== due);
      this.current = due.at;
      await due.callback();
      await flushPromises();
    }
    this.current = target;
    await flushPromises();
  }

  pendingTimers(): number {
    return this.timers.length;
  }
}

export async function flushPromises(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

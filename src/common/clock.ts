export type CancelTimer = () => void;
export type TimerCallback = () => void | Promise<void>;

/** Time source and timers for everything that reasons about time, so tests can drive it exactly. */
export abstract class Clock {
  abstract now(): number;

  /** Calls `callback` once, `delayMs` from now; the returned function cancels it. A returned promise must handle its own errors. */
  abstract setTimer(delayMs: number, callback: TimerCallback): CancelTimer;

  date(): Date {
    return new Date(this.now());
  }
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }

  setTimer(delayMs: number, callback: TimerCallback): CancelTimer {
    const timer = setTimeout(() => void callback(), Math.max(0, delayMs));
    timer.unref?.();
    return () => clearTimeout(timer);
  }
}

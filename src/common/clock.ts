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

/** The largest delay `setTimeout` honours (a signed 32-bit number of milliseconds). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }

  /** Node fires a timeout over 2^31 - 1 ms at once, so a longer delay waits in steps until the instant is due. */
  setTimer(delayMs: number, callback: TimerCallback): CancelTimer {
    const dueAt = Date.now() + Math.max(0, delayMs);
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = dueAt - Date.now();
      timer = setTimeout(() => (left > MAX_TIMEOUT_MS ? arm() : void callback()), Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
      timer.unref?.();
    };
    arm();
    return () => clearTimeout(timer);
  }
}

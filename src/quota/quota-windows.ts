import type { QuotaMinutes, QuotaWindow } from '../config/app-config.js';

export const QUOTA_WINDOWS: readonly QuotaWindow[] = ['hour', 'day', 'month'];

/** One number per quota window (seconds or minutes, as the name of the variable says). */
export type WindowAmounts = Record<QuotaWindow, number>;

/** Seconds charged to one calendar window. */
export interface WindowCharge {
  window: QuotaWindow;
  windowStartMs: number;
  seconds: number;
}

const MS_PER_SECOND = 1000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

/** Start of the UTC calendar hour, day or month that contains `atMs`. */
export function windowStart(window: QuotaWindow, atMs: number): number {
  switch (window) {
    case 'hour':
      return Math.floor(atMs / MS_PER_HOUR) * MS_PER_HOUR;
    case 'day':
      return Math.floor(atMs / MS_PER_DAY) * MS_PER_DAY;
    case 'month': {
      const at = new Date(atMs);
      return Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
    }
  }
}

/** Start of the window after the one that contains `atMs` (the instant this window resets). */
export function nextWindowStart(window: QuotaWindow, atMs: number): number {
  switch (window) {
    case 'hour':
      return windowStart('hour', atMs) + MS_PER_HOUR;
    case 'day':
      return windowStart('day', atMs) + MS_PER_DAY;
    case 'month': {
      const at = new Date(atMs);
      return Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
    }
  }
}

/**
 * Whole seconds a session has been charged once it has run until `atMs`: every started second counts
 * (ceil, like credits). Charging spans as differences of this value makes the total independent of how
 * the session was cut into spans, so recording every 10 s never charges more than ceil(duration).
 */
export function chargedSecondsUntil(sessionStartMs: number, atMs: number): number {
  return Math.max(0, Math.ceil((atMs - sessionStartMs) / MS_PER_SECOND));
}

/**
 * The seconds a session charges for running from `fromMs` to `toMs`, per window. Second k of the session
 * begins at `sessionStartMs + k s` and is charged, whole, to the windows containing that instant, so a span
 * that crosses a boundary is split between the windows it touches.
 */
export function splitUsage(span: { sessionStartMs: number; fromMs: number; toMs: number }): WindowCharge[] {
  const { sessionStartMs } = span;
  const firstSecond = chargedSecondsUntil(sessionStartMs, span.fromMs);
  const endSecond = chargedSecondsUntil(sessionStartMs, span.toMs);
  const charges: WindowCharge[] = [];
  for (const window of QUOTA_WINDOWS) {
    let second = firstSecond;
    while (second < endSecond) {
      const secondStartMs = sessionStartMs + second * MS_PER_SECOND;
      const firstSecondOfNextWindow = chargedSecondsUntil(sessionStartMs, nextWindowStart(window, secondStartMs));
      const chunkEnd = Math.min(endSecond, firstSecondOfNextWindow);
      charges.push({ window, windowStartMs: windowStart(window, secondStartMs), seconds: chunkEnd - second });
      second = chunkEnd;
    }
  }
  return charges;
}

/** Seconds left in each window: the limit in minutes minus what was used, never below 0. */
export function remainingSeconds(limits: QuotaMinutes, usedSeconds: WindowAmounts): WindowAmounts {
  return {
    hour: Math.max(0, limits.hour * 60 - usedSeconds.hour),
    day: Math.max(0, limits.day * 60 - usedSeconds.day),
    month: Math.max(0, limits.month * 60 - usedSeconds.month),
  };
}

/** Whole minutes left in each window (rounded down: 90 s left shows as 1 minute). */
export function wholeMinutes(seconds: WindowAmounts): WindowAmounts {
  return {
    hour: Math.floor(seconds.hour / 60),
    day: Math.floor(seconds.day / 60),
    month: Math.floor(seconds.month / 60),
  };
}

/** The tightest window decides: the fewest seconds left in any of them. */
export function smallestRemaining(seconds: WindowAmounts): number {
  return Math.min(seconds.hour, seconds.day, seconds.month);
}

/**
 * The instant a session that has been charged up to `chargedUntilMs` uses up a window, if it keeps running
 * alone: with `remaining` seconds left it may run through second c + remaining - 1 (c = seconds charged so far),
 * so it must stop when second c + remaining would begin. A window whose remaining seconds outlast it resets
 * first and cannot cut the session; `undefined` when no window can, before the next reset is reached.
 */
export function quotaRunOutAt(session: { sessionStartMs: number; chargedUntilMs: number }, remaining: WindowAmounts): number | undefined {
  const charged = chargedSecondsUntil(session.sessionStartMs, session.chargedUntilMs);
  const cutOffs = QUOTA_WINDOWS.flatMap((window) => {
    const cutOffMs = session.sessionStartMs + (charged + remaining[window]) * MS_PER_SECOND;
    return cutOffMs < nextWindowStart(window, session.chargedUntilMs) ? [cutOffMs] : [];
  });
  return cutOffs.length === 0 ? undefined : Math.min(...cutOffs);
}

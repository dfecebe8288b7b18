import { jest } from '@jest/globals';
import { MAX_TIMEOUT_MS, SystemClock } from './clock.js';

describe(SystemClock.name, () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('fires a timer longer than setTimeout can hold at its instant, not at once', () => {
    const fired = jest.fn<() => void>();
    new SystemClock().setTimer(MAX_TIMEOUT_MS * 2 + 5_000, fired);
    jest.advanceTimersByTime(MAX_TIMEOUT_MS);
    jest.advanceTimersByTime(MAX_TIMEOUT_MS);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(4_999);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('cancels a long timer between its steps', () => {
    const fired = jest.fn<() => void>();
    const cancel = new SystemClock().setTimer(MAX_TIMEOUT_MS + 10, fired);
    jest.advanceTimersByTime(MAX_TIMEOUT_MS);
    cancel();
    jest.advanceTimersByTime(100);
    expect(fired).not.toHaveBeenCalled();
  });

  it('fires a short timer once after its delay', () => {
    const fired = jest.fn<() => void>();
    new SystemClock().setTimer(250, fired);
    jest.advanceTimersByTime(249);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });
});

import {
  chargedSecondsUntil,
  nextWindowStart,
  quotaRunOutAt,
  remainingSeconds,
  smallestRemaining,
  splitUsage,
  wholeMinutes,
  windowStart,
} from './quota-windows.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe(windowStart.name, () => {
  it.each([
    ['hour', '2026-11-25T12:34:56.789Z', '2026-11-25T12:00:00.000Z'],
    ['day', '2026-11-25T12:34:56.789Z', '2026-11-25T00:00:00.000Z'],
    ['month', '2026-11-25T12:34:56.789Z', '2026-11-01T00:00:00.000Z'],
  ] as const)('puts the %s of %s at %s', (window, instant, start) => {
    expect(iso(windowStart(window, at(instant)))).toBe(start);
  });

  it.each(['hour', 'day', 'month'] as const)('treats the first millisecond of a %s as part of it', (window) => {
    expect(iso(windowStart(window, at('2026-12-01T00:00:00.000Z')))).toBe('2026-12-01T00:00:00.000Z');
  });

  it.each(['hour', 'day', 'month'] as const)('keeps the last millisecond of a year in the old %s', (window) => {
    const start = windowStart(window, at('2026-12-31T23:59:59.999Z'));
    expect(start).toBeLessThan(at('2027-01-01T00:00:00.000Z'));
    expect(nextWindowStart(window, at('2026-12-31T23:59:59.999Z'))).toBe(at('2027-01-01T00:00:00.000Z'));
  });
});

describe(nextWindowStart.name, () => {
  it('ends February on the 29th in a leap year', () => {
    expect(iso(nextWindowStart('month', at('2028-02-10T08:00:00Z')))).toBe('2028-03-01T00:00:00.000Z');
    expect(iso(nextWindowStart('day', at('2028-02-28T08:00:00Z')))).toBe('2028-02-29T00:00:00.000Z');
  });

  it('ends February on the 28th in a common year', () => {
    expect(iso(nextWindowStart('day', at('2027-02-28T08:00:00Z')))).toBe('2027-03-01T00:00:00.000Z');
  });

  it('rolls the month over into the next year in December', () => {
    expect(iso(nextWindowStart('month', at('2026-12-15T00:00:00Z')))).toBe('2027-01-01T00:00:00.000Z');
  });

  it('makes a month window as long as its calendar month', () => {
    const february2028 = at('2028-02-01T00:00:00Z');
    expect(nextWindowStart('month', february2028) - windowStart('month', february2028)).toBe(29 * 86_400_000);
  });
});

describe(chargedSecondsUntil.name, () => {
  it('charges a started second as a whole second', () => {
    expect(chargedSecondsUntil(1_000, 1_001)).toBe(1);
  });

  it('charges exact seconds exactly', () => {
    expect(chargedSecondsUntil(1_000, 31_000)).toBe(30);
  });

  it('charges nothing before the session has run', () => {
    expect(chargedSecondsUntil(1_000, 1_000)).toBe(0);
  });
});

describe(splitUsage.name, () => {
  it('charges a span inside one hour to the hour, day and month it lies in', () => {
    const start = at('2026-11-25T12:00:00Z');
    expect(splitUsage({ sessionStartMs: start, fromMs: start, toMs: start + 10_000 })).toEqual([
      { window: 'hour', windowStartMs: at('2026-11-25T12:00:00Z'), seconds: 10 },
      { window: 'day', windowStartMs: at('2026-11-25T00:00:00Z'), seconds: 10 },
      { window: 'month', windowStartMs: at('2026-11-01T00:00:00Z'), seconds: 10 },
    ]);
  });

  it('splits a span across midnight into ten seconds in each hour and day', () => {
    const start = at('2026-11-25T23:59:50Z');
    expect(splitUsage({ sessionStartMs: start, fromMs: start, toMs: at('2026-11-26T00:00:10Z') })).toEqual([
      { window: 'hour', windowStartMs: at('2026-11-25T23:00:00Z'), seconds: 10 },
      { window: 'hour', windowStartMs: at('2026-11-26T00:00:00Z'), seconds: 10 },
      { window: 'day', windowStartMs: at('2026-11-25T00:00:00Z'), seconds: 10 },
      { window: 'day', windowStartMs: at('2026-11-26T00:00:00Z'), seconds: 10 },
      { window: 'month', windowStartMs: at('2026-11-01T00:00:00Z'), seconds: 20 },
    ]);
  });

  it('splits a span across new year into two of every window', () => {
    const start = at('2026-12-31T23:59:50Z');
    const charges = splitUsage({ sessionStartMs: start, fromMs: start, toMs: at('2027-01-01T00:00:10Z') });
    expect(charges.filter((charge) => charge.window === 'month')).toEqual([
      { window: 'month', windowStartMs: at('2026-12-01T00:00:00Z'), seconds: 10 },
      { window: 'month', windowStartMs: at('2027-01-01T00:00:00Z'), seconds: 10 },
    ]);
  });

  it('splits a span from the leap day into March', () => {
    const start = at('2028-02-29T23:59:30Z');
    const charges = splitUsage({ sessionStartMs: start, fromMs: start, toMs: at('2028-03-01T00:00:30Z') });
    expect(charges.filter((charge) => charge.window === 'month')).toEqual([
      { window: 'month', windowStartMs: at('2028-02-01T00:00:00Z'), seconds: 30 },
      { window: 'month', windowStartMs: at('2028-03-01T00:00:00Z'), seconds: 30 },
    ]);
  });

  it('splits a span of several hours into one charge per hour it touches', () => {
    const start = at('2026-11-25T10:30:00Z');
    const hours = splitUsage({ sessionStartMs: start, fromMs: start, toMs: at('2026-11-25T13:15:00Z') }).filter(
      (charge) => charge.window === 'hour',
    );
    expect(hours.map((charge) => [iso(charge.windowStartMs), charge.seconds])).toEqual([
      ['2026-11-25T10:00:00.000Z', 1800],
      ['2026-11-25T11:00:00.000Z', 3600],
      ['2026-11-25T12:00:00.000Z', 3600],
      ['2026-11-25T13:00:00.000Z', 900],
    ]);
  });

  it('charges a second that straddles a boundary to the window it began in', () => {
    const start = at('2026-11-25T12:59:59.500Z');
    const hours = splitUsage({ sessionStartMs: start, fromMs: start, toMs: start + 1_000 }).filter((charge) => charge.window === 'hour');
    expect(hours).toEqual([{ window: 'hour', windowStartMs: at('2026-11-25T12:00:00Z'), seconds: 1 }]);
  });

  it('charges ceil(duration) in total however the session is cut into spans', () => {
    const start = at('2026-11-25T12:00:00Z');
    const cuts = [start, start + 10_003, start + 20_009, start + 29_999, start + 40_500];
    const total = cuts
      .slice(1)
      .flatMap((toMs, i) => splitUsage({ sessionStartMs: start, fromMs: cuts[i], toMs }))
      .filter((charge) => charge.window === 'day')
      .reduce((sum, charge) => sum + charge.seconds, 0);
    expect(total).toBe(41);
  });

  it('charges nothing for an empty span', () => {
    const start = at('2026-11-25T12:00:00Z');
    expect(splitUsage({ sessionStartMs: start, fromMs: start + 5_000, toMs: start + 5_000 })).toEqual([]);
  });

  it('charges nothing for a span within a second already charged', () => {
    const start = at('2026-11-25T12:00:00Z');
    expect(splitUsage({ sessionStartMs: start, fromMs: start + 100, toMs: start + 900 })).toEqual([]);
  });
});

describe(remainingSeconds.name, () => {
  it('subtracts the used seconds from each limit in minutes', () => {
    expect(remainingSeconds({ hour: 60, day: 240, month: 3000 }, { hour: 600, day: 1200, month: 1200 })).toEqual({
      hour: 3000,
      day: 13200,
      month: 178800,
    });
  });

  it('never goes below zero when concurrent sessions overshot a limit', () => {
    expect(remainingSeconds({ hour: 1, day: 1, month: 1 }, { hour: 75, day: 60, month: 0 })).toEqual({ hour: 0, day: 0, month: 60 });
  });

  it('leaves nothing for a tier with no quota', () => {
    expect(remainingSeconds({ hour: 0, day: 0, month: 0 }, { hour: 0, day: 0, month: 0 })).toEqual({ hour: 0, day: 0, month: 0 });
  });
});

describe(wholeMinutes.name, () => {
  it('rounds partial minutes down', () => {
    expect(wholeMinutes({ hour: 119, day: 120, month: 59 })).toEqual({ hour: 1, day: 2, month: 0 });
  });
});

describe(smallestRemaining.name, () => {
  it('returns the fewest seconds left in any window', () => {
    expect(smallestRemaining({ hour: 300, day: 120, month: 9000 })).toBe(120);
  });
});

describe(quotaRunOutAt.name, () => {
  const start = at('2026-11-25T12:00:00Z');

  it('runs out after the remaining seconds of the tightest window', () => {
    const runOut = quotaRunOutAt({ sessionStartMs: start, chargedUntilMs: start + 10_000 }, { hour: 50, day: 30, month: 900 });
    expect(iso(runOut!)).toBe('2026-11-25T12:00:40.000Z');
  });

  it('counts from the end of the last charged second, not from the last record', () => {
    const runOut = quotaRunOutAt({ sessionStartMs: start, chargedUntilMs: start + 10_200 }, { hour: 5, day: 900, month: 900 });
    expect(iso(runOut!)).toBe('2026-11-25T12:00:16.000Z');
  });

  it('runs out at once when a window has nothing left', () => {
    expect(quotaRunOutAt({ sessionStartMs: start, chargedUntilMs: start + 10_000 }, { hour: 0, day: 900, month: 900 })).toBe(
      start + 10_000,
    );
  });

  it('ignores a window that resets before its remaining seconds are used', () => {
    const lateStart = at('2026-11-25T12:59:00Z');
    const runOut = quotaRunOutAt({ sessionStartMs: lateStart, chargedUntilMs: lateStart }, { hour: 120, day: 600, month: 9000 });
    expect(iso(runOut!)).toBe('2026-11-25T13:09:00.000Z');
  });

  it('returns undefined when every window resets before it runs out', () => {
    const lateStart = at('2026-11-30T23:59:00Z');
    expect(quotaRunOutAt({ sessionStartMs: lateStart, chargedUntilMs: lateStart }, { hour: 120, day: 120, month: 120 })).toBeUndefined();
  });
});

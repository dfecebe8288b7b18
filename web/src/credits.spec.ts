import {
  creditView,
  errorView,
  expiryLabel,
  formatCredits,
  formatDuration,
  meterPercent,
  quotaText,
  tokenFromFragment,
  WarningLog,
  warningText,
} from './credits.js';

describe('credit widget', () => {
  it('shows the balance, its share of the granted credits and the time it buys at the session rate', () => {
    expect(creditView({ remaining_credits: 470, granted_credits: 500, credits_per_second: 1 })).toEqual({
      remaining: 470,
      granted: 500,
      fraction: 0.94,
      secondsLeft: 470,
      remainingLabel: '470 of 500 credits left',
      timeLabel: 'about 7 min 50 s of live dubbing',
      level: 'ok',
    });
  });

  it('buys twice the time at 0.5 credits per second, and rounds seconds down', () => {
    expect(creditView({ remaining_credits: 45.5, granted_credits: 500, credits_per_second: 0.5 }).secondsLeft).toBe(91);
    expect(creditView({ remaining_credits: 7, granted_credits: 500, credits_per_second: 10 }).secondsLeft).toBe(0);
  });

  it('grades the level at the warning thresholds, and never shows a negative balance', () => {
    const level = (remaining: number) => creditView({ remaining_credits: remaining, granted_credits: 100, credits_per_second: 1 }).level;
    expect([level(21), level(20), level(11), level(10), level(1), level(0), level(-3)]).toEqual([
      'ok',
      'low',
      'low',
      'critical',
      'critical',
      'empty',
      'empty',
    ]);
    expect(creditView({ remaining_credits: -3, granted_credits: 100, credits_per_second: 1 })).toMatchObject({ remaining: 0, fraction: 0 });
  });

  it('caps the bar at full when a grant came after the session began', () => {
    expect(creditView({ remaining_credits: 600, granted_credits: 500, credits_per_second: 1 }).fraction).toBe(1);
    expect(creditView({ remaining_credits: 10, granted_credits: 0, credits_per_second: 1 }).fraction).toBe(0);
  });

  it('formats credits and durations', () => {
    expect([formatCredits(1500), formatCredits(12.5), formatCredits(12.04)]).toEqual(['1,500', '12.5', '12']);
    expect([formatDuration(0), formatDuration(59.9), formatDuration(60), formatDuration(245), formatDuration(7380)]).toEqual([
      '0 s',
      '59 s',
      '1 min 00 s',
      '4 min 05 s',
      '2 h 03 min',
    ]);
  });

  it('shows each warning threshold once', () => {
    const log = new WarningLog();
    expect([log.accept(20), log.accept(20), log.accept(10), log.accept(5), log.accept(10)]).toEqual([true, false, true, true, false]);
    expect(log.thresholds).toEqual([20, 10, 5]);
  });

  it('words a warning with the credits and the time left', () => {
    expect(warningText({ threshold_percent: 10, remaining_credits: 50 }, 1)).toBe(
      '10 % of your beta credits left: 50 credits, about 50 s of live dubbing.',
    );
  });

  it('shows the quota left in each window', () => {
    expect(quotaText({ hour: 60, day: 240, month: 3000 })).toBe('60 min left this hour · 240 min today · 3000 min this month');
  });
});

describe('errors', () => {
  it("shows the server's own message, with an upgrade call to action where an upgrade helps", () => {
    expect(
      errorView({
        code: 'insufficient_credits',
        message: 'Insufficient beta credits for live dubbing',
        upgrade_required: true,
        remaining_credits: 59,
      }),
    ).toEqual({ title: 'Not enough beta credits', message: 'Insufficient beta credits for live dubbing', upgrade: true, exhausted: true });
    expect(
      errorView({ code: 'credits_exhausted', message: 'Beta credits exhausted', upgrade_required: true, session_ended: true }),
    ).toMatchObject({
      message: 'Beta credits exhausted',
      upgrade: true,
      exhausted: true,
    });
    expect(
      errorView({ code: 'upgrade_required', message: 'Live dubbing requires a Premium or Family plan', upgrade_required: true }),
    ).toMatchObject({
      title: 'Live dubbing is a Premium feature',
      upgrade: true,
      exhausted: false,
    });
    expect(errorView({ code: 'internal_error', message: 'Something failed' })).toEqual({
      title: 'Live dubbing stopped',
      message: 'Something failed',
      upgrade: false,
      exhausted: false,
    });
  });
});

describe('token in the fragment', () => {
  it('reads #token=…, and nothing else', () => {
    expect(tokenFromFragment('#token=abc.def.ghi')).toBe('abc.def.ghi');
    expect(tokenFromFragment('#x=1&token=abc')).toBe('abc');
    expect(tokenFromFragment('')).toBeUndefined();
    expect(tokenFromFragment('#token=')).toBeUndefined();
    expect(tokenFromFragment('#abc')).toBeUndefined();
  });
});

describe('input meter', () => {
  it('reads the level in decibels: silence empty, -20 dBFS two thirds, full scale full', () => {
    expect([meterPercent(0), meterPercent(0.0005), meterPercent(0.1), meterPercent(1), meterPercent(3)]).toEqual([0, 0, 67, 100, 100]);
  });
});

describe(expiryLabel.name, () => {
  const at = '2026-12-14T09:30:00.000Z';

  it('says how many credits expire at the next expiry, and when', () => {
    const label = expiryLabel({
      grants: [
        { remaining: 30, expires_at: at },
        { remaining: 20, expires_at: at },
        { remaining: 400, expires_at: '2027-01-01T00:00:00.000Z' },
        { remaining: 100 },
      ],
      next_expiry: at,
    });
    expect(label).toMatch(/^50 credits expire on Dec 14, 2026, /);
  });

  it('says nothing when no credit expires', () => {
    expect(expiryLabel({ grants: [{ remaining: 100 }], next_expiry: null })).toBeUndefined();
  });

  it('uses the singular for one credit', () => {
    expect(expiryLabel({ grants: [{ remaining: 1, expires_at: at }], next_expiry: at })).toMatch(/^1 credit expires on /);
  });
});

import { parseDurationSeconds } from './duration.js';

describe(parseDurationSeconds.name, () => {
  it.each([
    ['90', 90],
    ['45s', 45],
    ['15m', 900],
    ['1h', 3600],
    ['7d', 604800],
  ])('reads %s as %i seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(['', '0', '-5m', '1.5h', '1w', 'h', '10 minutes'])('rejects %j', (text) => {
    expect(() => parseDurationSeconds(text)).toThrow(/Invalid duration/);
  });
});

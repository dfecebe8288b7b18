import { nestedDeeperThan } from './live-dubbing-ws.adapter.js';

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

describe(nestedDeeperThan.name, () => {
  it('lets a flat message through', () => {
    expect(nestedDeeperThan('{"type":"auth","token":"t","channel_id":"c","target_lang":"en"}', 1)).toBe(false);
  });

  it('counts objects and arrays inside one another up to the limit', () => {
    expect(nestedDeeperThan(nested(8), 8)).toBe(false);
    expect(nestedDeeperThan(nested(9), 8)).toBe(true);
    expect(nestedDeeperThan('{"a":[[{"b":[1]}]]}', 5)).toBe(false);
    expect(nestedDeeperThan('{"a":[[{"b":[[1]]}]]}', 5)).toBe(true);
  });

  it('counts depth, not the number of siblings', () => {
    expect(nestedDeeperThan(`[${'{},'.repeat(5000)}{}]`, 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestedDeeperThan(JSON.stringify({ token: '[[[[{{{{"\\"[[[[' }), 1)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify({ token: 'x\\' }) + '[[', 1)).toBe(true);
  });

  it('finds a 5000-deep message at once', () => {
    expect(nestedDeeperThan(nested(5000), 8)).toBe(true);
  });
});

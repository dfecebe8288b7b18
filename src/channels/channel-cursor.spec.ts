import { CHANNEL_CURSOR_MAX_LENGTH, CHANNEL_CURSOR_PATTERN, decodeChannelCursor, encodeChannelCursor } from './channel-cursor.js';

describe(encodeChannelCursor.name, () => {
  it.each(['news-il', 'a', 'канал 😀'])('names the position after %j, which its decoding gives back, in the pattern', (id) => {
    const cursor = encodeChannelCursor(id);
    expect(cursor).toMatch(new RegExp(CHANNEL_CURSOR_PATTERN));
    expect(decodeChannelCursor(cursor)).toBe(id);
  });

  it('fits an id of 1536 bytes in the maximum length', () => {
    expect(encodeChannelCursor('x'.repeat(1536))).toHaveLength(CHANNEL_CURSOR_MAX_LENGTH);
  });
});

describe(decodeChannelCursor.name, () => {
  it.each(['A', '-_', 'bmV3cy1pbA', 'AAAAA'])('reads any cursor of the pattern, such as %j, as an id', (cursor) => {
    expect(cursor).toMatch(new RegExp(CHANNEL_CURSOR_PATTERN));
    expect(typeof decodeChannelCursor(cursor)).toBe('string');
  });
});

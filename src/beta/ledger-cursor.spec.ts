import { decodeLedgerCursor, encodeLedgerCursor, LEDGER_CURSOR_PATTERN } from './ledger-cursor.js';

describe(encodeLedgerCursor.name, () => {
  it.each([
    ['2025-01-15T10:00:00.000Z', 'enrollment:viewer@example.com'],
    ['1970-01-01T00:00:00.000Z', 'adjustment:a@b.co:ключ 😀'],
    ['2025-01-15T10:00:00.123Z', ''],
  ])('names a position (%s, %j) its decoding gives back, in the documented pattern', (at, key) => {
    const cursor = encodeLedgerCursor({ createdAt: new Date(at), key });
    expect(cursor).toMatch(new RegExp(LEDGER_CURSOR_PATTERN));
    expect(decodeLedgerCursor(cursor)).toEqual({ createdAt: new Date(at), key });
  });
});

describe(decodeLedgerCursor.name, () => {
  it.each(['0.', '999999999999999.A', '5.-_', '1736935200000.AAAA'])(
    'reads any cursor of the pattern, such as %j, as a valid date',
    (cursor) => {
      expect(cursor).toMatch(new RegExp(LEDGER_CURSOR_PATTERN));
      expect(Number.isNaN(decodeLedgerCursor(cursor).createdAt.getTime())).toBe(false);
    },
  );
});

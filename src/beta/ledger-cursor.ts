/**
 * A ledger page's cursor names a position in the newest-first order: `<created_at in ms>.<base64url of the entry key>`.
 * Every string of that form is a position (a page after it, maybe empty), so the documented pattern is the whole rule.
 */
export const LEDGER_CURSOR_PATTERN = '^(0|[1-9][0-9]{0,14})\\.[A-Za-z0-9_-]*$';
/** Room for the longest key: an admin adjustment's prefix, email and idempotency key, base64url-encoded. */
export const LEDGER_CURSOR_MAX_LENGTH = 2048;

export interface LedgerPosition {
  createdAt: Date;
  key: string;
}

export function encodeLedgerCursor(position: LedgerPosition): string {
  return `${position.createdAt.getTime()}.${Buffer.from(position.key).toString('base64url')}`;
}

/** For a cursor of the documented pattern (the validation pipe has checked it); at most 15 digits is always a valid date. */
export function decodeLedgerCursor(cursor: string): LedgerPosition {
  const dot = cursor.indexOf('.');
  return { createdAt: new Date(Number(cursor.slice(0, dot))), key: Buffer.from(cursor.slice(dot + 1), 'base64url').toString() };
}

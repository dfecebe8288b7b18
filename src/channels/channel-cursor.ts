/**
 * A channel page's cursor names a position in the id order: the base64url of the last id of the previous page.
 * Every string of that form is a position (the page after it, maybe empty), so the documented pattern is the whole rule.
 */
export const CHANNEL_CURSOR_PATTERN = '^[A-Za-z0-9_-]+$';
/** Room for an id of up to 1536 bytes, base64url-encoded. */
export const CHANNEL_CURSOR_MAX_LENGTH = 2048;

export function encodeChannelCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

/** For a cursor of the documented pattern (the validation pipe has checked it). */
export function decodeChannelCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString();
}

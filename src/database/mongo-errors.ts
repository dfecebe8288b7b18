const DUPLICATE_KEY = 11000;

/** The server rejected a write because a unique index already holds the key. */
export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY;
}

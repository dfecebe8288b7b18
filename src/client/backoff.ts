/**
 * When to try again (docs/protocol.md, "Resuming a session", "Backoff"): the first attempt at once, then after about
 * 0.5 s, 1 s, 2 s, 4 s, and at most every 5 s, each delay with random jitter.
 */
export interface BackoffOptions {
  /** The delay before the second attempt; doubled for each next one. Default 500 ms. */
  initialDelayMs?: number;
  /** The longest delay. Default 5 000 ms. */
  maxDelayMs?: number;
  /** Each delay is spread uniformly over ± this share of itself. Default 0.2. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialDelayMs: 500, maxDelayMs: 5000, jitter: 0.2 };

/**
 * The delay before attempt `attempt` (0 is the first: at once). `random` returns a number in [0, 1): 0.5 gives the
 * delay without jitter.
 */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  if (attempt <= 0) {
    return 0;
  }
  const { initialDelayMs, maxDelayMs, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}

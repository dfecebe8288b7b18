const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `90`, `90s`, `15m`, `1h`, `7d` into whole seconds; throws on anything else. */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match === null ? NaN : Number(match[1]) * UNIT_SECONDS[match[2] === '' ? 's' : match[2]];
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new Error(`Invalid duration "${text}": use a positive number with s, m, h or d (e.g. 1h)`);
  }
  return seconds;
}

// An RFC 3339 date-time (section 5.6), as the OpenAPI `format: date-time` means it. Date.parse alone is too lenient
// for that (it reads 2025-02-30 as 2 March, and 24:00 as the next day), so the fields are checked first.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * The instant (epoch ms) of an RFC 3339 date-time such as `2030-01-15T10:00:00Z` or `2030-01-15T12:00:00.5+02:00`;
 * undefined for anything else. A leap second (`:60`) is refused: an instant in milliseconds cannot name it.
 */
export function parseDateTime(text: string): number | undefined {
  const match = DATE_TIME.exec(text);
  if (match === null) {
    return undefined;
  }
  const [year, month, day, hour, minute, second, offsetHour = 0, offsetMinute = 0] = match.slice(1).map((field) => Number(field ?? 0));
  const fits =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59;
  const instant = fits ? Date.parse(text.toUpperCase()) : NaN;
  return Number.isFinite(instant) ? instant : undefined;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

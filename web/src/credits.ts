/**
 * What the credit widget and the status area show, as pure functions of the server's messages
 * (docs/protocol.md: `ready.beta`, `credits`, `credit_warning`, and the error codes).
 */

export interface BetaTerms {
  remaining_credits: number;
  granted_credits: number;
  credits_per_second: number;
}

export type CreditLevel = 'ok' | 'low' | 'critical' | 'empty';

export interface CreditView {
  remaining: number;
  granted: number;
  /** Share of the granted credits left, 0..1, for the bar. */
  fraction: number;
  /** Whole seconds of dubbing the balance buys at the session's rate. */
  secondsLeft: number;
  remainingLabel: string;
  timeLabel: string;
  level: CreditLevel;
}

export function creditView(terms: BetaTerms): CreditView {
  const remaining = Math.max(0, terms.remaining_credits);
  const granted = Math.max(terms.granted_credits, 0);
  const fraction = granted === 0 ? 0 : Math.min(1, remaining / granted);
  const secondsLeft = terms.credits_per_second > 0 ? Math.floor(remaining / terms.credits_per_second) : 0;
  const level: CreditLevel = remaining <= 0 ? 'empty' : fraction <= 0.1 ? 'critical' : fraction <= 0.2 ? 'low' : 'ok';
  return {
    remaining,
    granted,
    fraction,
    secondsLeft,
    remainingLabel: `${formatCredits(remaining)} of ${formatCredits(granted)} credits left`,
    timeLabel: `about ${formatDuration(secondsLeft)} of live dubbing`,
    level,
  };
}

/** Credits can be fractional (0.5 per second on subtitles): at most one decimal, none when whole. */
export function formatCredits(credits: number): string {
  const rounded = Math.round(credits * 10) / 10;
  return Number.isInteger(rounded) ? rounded.toLocaleString('en-US') : rounded.toLocaleString('en-US', { minimumFractionDigits: 1 });
}

/** `45 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) {
    return `${seconds} s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(seconds / 3600)} h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')} min`;
}

/** Each `credit_warning` threshold is shown once, however often the server or a resumed session repeats it. */
export class WarningLog {
  private readonly shown = new Set<number>();

  /** True the first time a threshold is seen. */
  accept(thresholdPercent: number): boolean {
    if (this.shown.has(thresholdPercent)) {
      return false;
    }
    this.shown.add(thresholdPercent);
    return true;
  }

  get thresholds(): number[] {
    return [...this.shown].sort((a, b) => b - a);
  }
}

export function warningText(warning: { threshold_percent: number; remaining_credits: number }, creditsPerSecond: number): string {
  const seconds = creditsPerSecond > 0 ? Math.floor(Math.max(0, warning.remaining_credits) / creditsPerSecond) : 0;
  return `${warning.threshold_percent} % of your beta credits left: ${formatCredits(Math.max(0, warning.remaining_credits))} credits, about ${formatDuration(seconds)} of live dubbing.`;
}

export interface QuotaMinutes {
  hour: number;
  day: number;
  month: number;
}

export function quotaText(quota: QuotaMinutes): string {
  return `${quota.hour} min left this hour · ${quota.day} min today · ${quota.month} min this month`;
}

export interface ServerError {
  code: string;
  message: string;
  upgrade_required?: boolean;
  session_ended?: boolean;
  remaining_credits?: number;
}

export interface ErrorView {
  /** The server's own message, shown as it is. */
  message: string;
  /** A plan or credits upgrade is what gets the viewer going again. */
  upgrade: boolean;
  /** The page's credit widget goes to its exhausted state. */
  exhausted: boolean;
  /** A short headline above the message. */
  title: string;
}

const TITLES: Record<string, string> = {
  insufficient_credits: 'Not enough beta credits',
  credits_exhausted: 'Beta credits used up',
  upgrade_required: 'Live dubbing is a Premium feature',
  quota_exceeded: 'Live dubbing time used up',
  beta_revoked: 'Beta access ended',
  unauthorized: 'Sign-in needed',
  rate_limited: 'Too many sessions opened',
  too_many_sessions: 'Too many sessions at once',
  channel_unavailable: 'Channel unavailable',
  speech_service_unavailable: 'Speech service unavailable',
  service_unavailable: 'Service unavailable',
};

export function errorView(error: ServerError): ErrorView {
  return {
    message: error.message,
    upgrade: error.upgrade_required === true,
    exhausted: error.code === 'credits_exhausted' || error.code === 'insufficient_credits',
    title: TITLES[error.code] ?? 'Live dubbing stopped',
  };
}

/** The access token from the page's fragment (`#token=<JWT>`): it never leaves the browser in a URL. */
export function tokenFromFragment(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token')?.trim();
  return token === undefined || token === '' ? undefined : token;
}

/** The input meter's width, 0..100: -60 dBFS and below is empty, full scale is full, so speech sits mid-way. */
export function meterPercent(level: number): number {
  if (!(level > 0)) {
    return 0;
  }
  const decibels = 20 * Math.log10(Math.min(1, level));
  return Math.max(0, Math.min(100, Math.round(((decibels + 60) / 60) * 100)));
}

/**
 * The next expiry of the viewer's credits (`GET /api/v1/beta/credits`: `grants`, `next_expiry`; docs/credits.md,
 * "Expiry"): how many credits expire then, and when. Undefined when none of them expires.
 */
export function expiryLabel(
  credits: { grants: { remaining: number; expires_at?: string }[]; next_expiry: string | null },
  locale = 'en-US',
): string | undefined {
  if (credits.next_expiry === null) {
    return undefined;
  }
  const at = Date.parse(credits.next_expiry);
  const expiring = credits.grants
    .filter((grant) => grant.expires_at !== undefined && Date.parse(grant.expires_at) === at)
    .reduce((sum, grant) => sum + grant.remaining, 0);
  if (expiring <= 0) {
    return undefined;
  }
  const when = new Date(at).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
  return `${formatCredits(expiring)} ${expiring === 1 ? 'credit expires' : 'credits expire'} on ${when}`;
}

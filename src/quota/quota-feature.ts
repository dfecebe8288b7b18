/** Live features metered by quotas. Each feature has its own counters; the tier's minutes apply to each. */
export const LIVE_DUBBING_FEATURE = 'live_dubbing';
export const QUOTA_FEATURES = [LIVE_DUBBING_FEATURE] as const;
export type QuotaFeature = (typeof QUOTA_FEATURES)[number];

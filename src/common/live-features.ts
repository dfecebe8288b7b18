/** The metered live features. Each has its own quota counters and its own beta credit rate. */
export const LIVE_DUBBING_FEATURE = 'live_dubbing';
export const LIVE_SUBTITLES_FEATURE = 'live_subtitles';
export const LIVE_FEATURES = [LIVE_DUBBING_FEATURE, LIVE_SUBTITLES_FEATURE] as const;
export type LiveFeatureName = (typeof LIVE_FEATURES)[number];

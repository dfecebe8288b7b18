/** Live features metered by quotas. Each feature has its own counters; the tier's minutes apply to each. */
export { LIVE_DUBBING_FEATURE, LIVE_FEATURES as QUOTA_FEATURES, type LiveFeatureName as QuotaFeature } from '../common/live-features.js';

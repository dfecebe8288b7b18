import { LIVE_DUBBING_FEATURE, LIVE_SUBTITLES_FEATURE, type LiveFeatureName } from '../common/live-features.js';
import type { AppConfig } from '../config/app-config.js';

/** What differs between the live gateways: their path, what they meter, and whether they speak. */
export interface LiveFeature {
  name: LiveFeatureName;
  path: string;
  creditsPerSecond(config: AppConfig): number;
  /** Dubbing sends synthesized audio back; subtitles send transcript and translation only. */
  synthesize: boolean;
}

export const LIVE_DUBBING: LiveFeature = {
  name: LIVE_DUBBING_FEATURE,
  path: '/ws/live-dubbing',
  creditsPerSecond: (config) => config.beta.creditsPerSecond,
  synthesize: true,
};

export const LIVE_SUBTITLES: LiveFeature = {
  name: LIVE_SUBTITLES_FEATURE,
  path: '/ws/live-subtitles',
  creditsPerSecond: (config) => config.beta.subtitlesCreditsPerSecond,
  synthesize: false,
};

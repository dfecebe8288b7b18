import { loadAppConfig } from './app-config.js';
import { ConfigValidationError } from './environment.js';

const STRONG_SECRET = 'k3J9x0QmZ4vT8wR2yB6nH1sD5fG7jL0p';

describe(loadAppConfig.name, () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadAppConfig({});
    expect(config.port).toBe(3000);
    expect(config.database).toEqual({ uri: undefined, embeddedPath: './data' });
    expect(config.beta).toEqual({
      enabled: true,
      initialCredits: 500,
      creditsPerSecond: 1,
      subtitlesCreditsPerSecond: 0.5,
      preauthSeconds: 60,
      checkpointIntervalMs: 30000,
      warningThresholds: [20, 10, 5],
      invitationTtlDays: 14,
    });
    expect(config.quota.updateIntervalMs).toBe(10000);
    expect(config.ws).toEqual({ authTimeoutMs: 10000, connectionsPerMinute: 5, maxAudioFrameBytes: 65536 });
  });

  it('reads typed values from strings', () => {
    const config = loadAppConfig({
      PORT: '8080',
      BETA_FEATURES_ENABLED: 'false',
      BETA_CREDITS_PER_SECOND: '0.5',
      BETA_WARNING_THRESHOLDS: '5, 50,25',
    });
    expect(config.port).toBe(8080);
    expect(config.beta.enabled).toBe(false);
    expect(config.beta.creditsPerSecond).toBe(0.5);
    expect(config.beta.warningThresholds).toEqual([50, 25, 5]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadAppConfig({ MONGODB_URI: '', PORT: '' }).port).toBe(3000);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['MONGODB_URI', 'postgres://localhost/db'],
    ['BETA_FEATURES_ENABLED', 'yes'],
    ['BETA_CREDITS_PER_SECOND', '-1'],
    ['BETA_CHECKPOINT_INTERVAL_MS', '10'],
    ['BETA_WARNING_THRESHOLDS', '20,ten'],
    ['WS_CONNECTIONS_PER_MINUTE', '0'],
    ['DUBBING_PROVIDER', 'magic'],
    ['NODE_ENV', 'staging'],
  ])('refuses %s=%s and names the variable', (name, value) => {
    expect(() => loadAppConfig({ [name]: value })).toThrow(ConfigValidationError);
    expect(() => loadAppConfig({ [name]: value })).toThrow(new RegExp(`${name}=`));
  });

  it('lists every invalid variable at once', () => {
    try {
      loadAppConfig({ PORT: 'x', WS_AUTH_TIMEOUT_MS: 'y' });
      throw new Error('expected a validation error');
    } catch (error) {
      expect((error as ConfigValidationError).problems.map((problem) => problem.split('=')[0]).sort()).toEqual([
        'PORT',
        'WS_AUTH_TIMEOUT_MS',
      ]);
    }
  });

  it('refuses warning thresholds outside 1..99 percent', () => {
    expect(() => loadAppConfig({ BETA_WARNING_THRESHOLDS: '20,100' })).toThrow(/BETA_WARNING_THRESHOLDS/);
  });

  describe('in production', () => {
    it('refuses a missing JWT_SECRET', () => {
      expect(() => loadAppConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: required/);
    });

    it('refuses a JWT_SECRET shorter than 32 bytes', () => {
      expect(() => loadAppConfig({ NODE_ENV: 'production', JWT_SECRET: 'short-secret' })).toThrow(/at least 32 bytes/);
    });

    it('refuses the example JWT_SECRET', () => {
      expect(() => loadAppConfig({ NODE_ENV: 'production', JWT_SECRET: 'replace-with-a-long-random-secret' })).toThrow(/example secret/);
    });

    it('accepts a strong JWT_SECRET', () => {
      expect(loadAppConfig({ NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET }).jwt.secret).toBe(STRONG_SECRET);
    });
  });

  it('uses a development secret outside production when none is given', () => {
    expect(loadAppConfig({ NODE_ENV: 'development' }).jwt.secret.length).toBeGreaterThanOrEqual(32);
  });
});

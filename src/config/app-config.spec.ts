import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAppConfig } from './app-config.js';
import { ConfigValidationError, Environment } from './environment.js';

const STRONG_SECRET = 'k3J9x0QmZ4vT8wR2yB6nH1sD5fG7jL0p';

/** Every environment but explicit development on the embedded database needs a JWT secret. */
function loadWithSecret(raw: Record<string, string>) {
  return loadAppConfig({ JWT_SECRET: STRONG_SECRET, ...raw });
}

function captureError(run: () => unknown): ConfigValidationError {
  try {
    run();
  } catch (error) {
    return error as ConfigValidationError;
  }
  throw new Error('expected a validation error');
}

describe(loadAppConfig.name, () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadWithSecret({});
    expect(config.port).toBe(3000);
    expect(config.database).toEqual({ uri: undefined, embeddedPath: './data', timeoutMs: 10000 });
    expect(config.beta).toEqual({
      enabled: true,
      initialCredits: 500,
      creditsExpireDays: undefined,
      creditsPerSecond: 1,
      subtitlesCreditsPerSecond: 0.5,
      preauthSeconds: 60,
      checkpointIntervalMs: 30000,
      warningThresholds: [20, 10, 5],
      invitationTtlDays: 14,
    });
    expect(config.quota.updateIntervalMs).toBe(10000);
    expect(config.ws).toEqual({
      authTimeoutMs: 10000,
      connectionsPerMinute: 5,
      maxSessions: { premium: 2, family: 4 },
      maxAudioFrameBytes: 65536,
      maxPendingPerAddress: 20,
      trustedProxies: [],
      heartbeatMs: 10000,
      resumeWindowMs: 20000,
      idleTimeoutMs: 30000,
    });
  });

  it('reads typed values from strings', () => {
    const config = loadWithSecret({
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

  it('has every variable it reads listed in .env.example', () => {
    const example = readFileSync('.env.example', 'utf8');
    const unlisted = Object.keys(new Environment()).filter((name) => !new RegExp(`^(# )?${name}=`, 'm').test(example));
    expect(unlisted).toEqual([]);
  });

  it('reads the trusted proxies as a list of addresses and CIDR blocks', () => {
    expect(loadWithSecret({ TRUST_PROXY: '10.0.0.7, 192.168.0.0/16,fd00::/8' }).ws.trustedProxies).toEqual([
      '10.0.0.7',
      '192.168.0.0/16',
      'fd00::/8',
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadWithSecret({ MONGODB_URI: '', PORT: '' }).port).toBe(3000);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['MONGODB_URI', 'postgres://localhost/db'],
    ['BETA_FEATURES_ENABLED', 'yes'],
    ['BETA_CREDITS_PER_SECOND', '-1'],
    ['BETA_CHECKPOINT_INTERVAL_MS', '10'],
    ['WS_HEARTBEAT_MS', '50'],
    ['WS_IDLE_TIMEOUT_MS', '999'],
    ['WS_IDLE_TIMEOUT_MS', 'soon'],
    ['BETA_WARNING_THRESHOLDS', '20,ten'],
    ['WS_CONNECTIONS_PER_MINUTE', '0'],
    ['LIVE_MAX_SESSIONS_PREMIUM', '0'],
    ['LIVE_MAX_SESSIONS_FAMILY', 'four'],
    ['WS_MAX_PENDING_PER_ADDRESS', '0'],
    ['TRUST_PROXY', 'proxy.internal'],
    ['TRUST_PROXY', '10.0.0.1,10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.0/8/8'],
    ['TRUST_PROXY', ' , '],
    ['DUBBING_PROVIDER', 'magic'],
    ['NODE_ENV', 'staging'],
    ['OPENAI_BASE_URL', 'ftp://speech.example.com'],
    ['OPENAI_BASE_URL', 'localhost:8000'],
    ['OPENAI_TTS_SAMPLE_RATE_HZ', '1000'],
    ['OPENAI_TIMEOUT_MS', '10'],
    ['OPENAI_MAX_RETRIES', '-1'],
    ['OPENAI_MAX_RETRIES', '11'],
    ['OPENAI_MAX_CONCURRENCY', '0'],
  ])('refuses %s=%s and names the variable', (name, value) => {
    expect(() => loadWithSecret({ [name]: value })).toThrow(ConfigValidationError);
    expect(() => loadWithSecret({ [name]: value })).toThrow(new RegExp(`${name}=`));
  });

  it('lists every invalid variable at once, on one line', () => {
    try {
      loadWithSecret({ PORT: 'x', WS_AUTH_TIMEOUT_MS: 'y' });
      throw new Error('expected a validation error');
    } catch (error) {
      expect((error as ConfigValidationError).problems.map((problem) => problem.split('=')[0]).sort()).toEqual([
        'PORT',
        'WS_AUTH_TIMEOUT_MS',
      ]);
      expect((error as ConfigValidationError).message).not.toContain('\n');
    }
  });

  it('refuses a heartbeat slower than the checkpoint, since a session is lost after three silent intervals', () => {
    expect(() => loadWithSecret({ BETA_CHECKPOINT_INTERVAL_MS: '5000' })).toThrow(
      /WS_HEARTBEAT_MS: must not exceed BETA_CHECKPOINT_INTERVAL_MS \(5000\)/,
    );
    expect(loadWithSecret({ BETA_CHECKPOINT_INTERVAL_MS: '5000', WS_HEARTBEAT_MS: '5000' }).ws.heartbeatMs).toBe(5000);
  });

  it('refuses warning thresholds outside 1..99 percent', () => {
    expect(() => loadWithSecret({ BETA_WARNING_THRESHOLDS: '20,100' })).toThrow(/BETA_WARNING_THRESHOLDS/);
  });

  describe('dubbing providers', () => {
    const OPENAI_KEY = 'sk-test-0123456789abcdef';

    it('uses the loopback set by default', () => {
      expect(loadWithSecret({}).dubbing).toEqual({ provider: 'loopback' });
    });

    it('reads the openai set with its documented defaults', () => {
      const config = loadWithSecret({ DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: 'https://api.openai.com', OPENAI_API_KEY: OPENAI_KEY });
      expect(config.dubbing).toEqual({
        provider: 'openai',
        openai: {
          baseUrl: 'https://api.openai.com',
          apiKey: OPENAI_KEY,
          models: { speechToText: 'whisper-1', translation: 'gpt-4o-mini', textToSpeech: 'tts-1' },
          voice: 'alloy',
          speechSampleRateHz: 24000,
          timeoutMs: 15000,
          maxRetries: 2,
          maxConcurrency: 8,
        },
      });
    });

    it('reads every openai variable', () => {
      const config = loadWithSecret({
        DUBBING_PROVIDER: 'openai',
        OPENAI_BASE_URL: 'http://speech.internal:8000/openai',
        OPENAI_API_KEY: OPENAI_KEY,
        OPENAI_STT_MODEL: 'Systran/faster-whisper-small',
        OPENAI_TRANSLATION_MODEL: 'qwen2.5:7b',
        OPENAI_TTS_MODEL: 'kokoro',
        OPENAI_TTS_VOICE: 'af_heart',
        OPENAI_TTS_SAMPLE_RATE_HZ: '22050',
        OPENAI_TIMEOUT_MS: '4000',
        OPENAI_MAX_RETRIES: '0',
        OPENAI_MAX_CONCURRENCY: '2',
      });
      expect(config.dubbing).toEqual({
        provider: 'openai',
        openai: {
          baseUrl: 'http://speech.internal:8000/openai',
          apiKey: OPENAI_KEY,
          models: { speechToText: 'Systran/faster-whisper-small', translation: 'qwen2.5:7b', textToSpeech: 'kokoro' },
          voice: 'af_heart',
          speechSampleRateHz: 22050,
          timeoutMs: 4000,
          maxRetries: 0,
          maxConcurrency: 2,
        },
      });
    });

    it.each(['http://localhost:8000', 'http://localhost:8000/', 'http://localhost:8000/v1', 'http://localhost:8000/v1/'])(
      'accepts the base URL %s with or without /v1',
      (url) => {
        const config = loadWithSecret({ DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: url, OPENAI_API_KEY: OPENAI_KEY });
        expect(config.dubbing.provider === 'openai' && config.dubbing.openai.baseUrl).toBe('http://localhost:8000');
      },
    );

    it('accepts the host name of a container, underscores included', () => {
      const config = loadWithSecret({
        DUBBING_PROVIDER: 'openai',
        OPENAI_BASE_URL: 'http://speech_gateway:8000/v1',
        OPENAI_API_KEY: OPENAI_KEY,
      });
      expect(config.dubbing.provider === 'openai' && config.dubbing.openai.baseUrl).toBe('http://speech_gateway:8000');
    });

    it('refuses a base URL with a query string, to which paths could not be appended', () => {
      expect(() =>
        loadWithSecret({ DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://localhost:8000/?key=x', OPENAI_API_KEY: OPENAI_KEY }),
      ).toThrow(/OPENAI_BASE_URL: must not have a query string or fragment/);
    });

    it('requires OPENAI_BASE_URL and OPENAI_API_KEY for the openai set, naming both', () => {
      expect(() => loadWithSecret({ DUBBING_PROVIDER: 'openai' })).toThrow(
        new ConfigValidationError([
          'OPENAI_BASE_URL: required when DUBBING_PROVIDER=openai',
          'OPENAI_API_KEY: required when DUBBING_PROVIDER=openai',
        ]),
      );
    });

    it('requires the key even when the URL is given', () => {
      expect(() => loadWithSecret({ DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://localhost:8000' })).toThrow(
        /^Invalid configuration: OPENAI_API_KEY: required when DUBBING_PROVIDER=openai$/,
      );
    });

    it('ignores the openai variables for the loopback set', () => {
      expect(loadWithSecret({ OPENAI_BASE_URL: 'http://localhost:8000', OPENAI_API_KEY: OPENAI_KEY }).dubbing).toEqual({
        provider: 'loopback',
      });
    });

    it('refuses a key that could not be sent in a header, without quoting it', () => {
      const key = 'sk-with a-space';
      const error = captureError(() =>
        loadWithSecret({ DUBBING_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://localhost', OPENAI_API_KEY: key }),
      );
      expect(error.message).toContain('OPENAI_API_KEY=<hidden>: OPENAI_API_KEY must be printable ASCII without spaces');
      expect(error.message).not.toContain('a-space');
    });
  });

  describe('JWT_SECRET', () => {
    const EVERY_NODE_ENV = [undefined, 'development', 'test', 'production'];
    const environment = (nodeEnv: string | undefined, rest: Record<string, string> = {}) =>
      nodeEnv === undefined ? rest : { NODE_ENV: nodeEnv, ...rest };

    it.each(EVERY_NODE_ENV)('is used as given when strong (NODE_ENV=%s)', (nodeEnv) => {
      expect(loadAppConfig(environment(nodeEnv, { JWT_SECRET: STRONG_SECRET })).jwt.secret).toEqual({
        from: 'environment',
        secret: STRONG_SECRET,
      });
    });

    it.each(EVERY_NODE_ENV)('is refused when shorter than 32 bytes (NODE_ENV=%s)', (nodeEnv) => {
      expect(() => loadAppConfig(environment(nodeEnv, { JWT_SECRET: STRONG_SECRET.slice(1) }))).toThrow(
        /JWT_SECRET: must be at least 32 bytes/,
      );
    });

    it('counts bytes, not characters', () => {
      expect(() => loadAppConfig({ JWT_SECRET: 'é'.repeat(15) + 'x' })).toThrow(/at least 32 bytes/);
      expect(loadAppConfig({ JWT_SECRET: 'é'.repeat(16) }).jwt.secret).toEqual({ from: 'environment', secret: 'é'.repeat(16) });
    });

    it.each(EVERY_NODE_ENV)('is refused when it is a published example, in any case (NODE_ENV=%s)', (nodeEnv) => {
      for (const example of ['replace-with-a-long-random-secret', 'REPLACE-WITH-A-LONG-RANDOM-SECRET']) {
        expect(() => loadAppConfig(environment(nodeEnv, { JWT_SECRET: example }))).toThrow(/JWT_SECRET: a published example secret/);
      }
    });

    it('never shows the refused secret', () => {
      const error = captureError(() => loadAppConfig({ JWT_SECRET: 'too-short-to-sign' }));
      expect(error.message).not.toContain('too-short-to-sign');
    });

    it('may be unset only in explicit development on the embedded database, which keeps a generated secret in EMBEDDED_DB_PATH', () => {
      expect(loadAppConfig({ NODE_ENV: 'development' }).jwt.secret).toEqual({ from: 'file', path: join('data', 'jwt-secret') });
      expect(loadAppConfig({ NODE_ENV: 'development', EMBEDDED_DB_PATH: '/var/lib/dubbing' }).jwt.secret).toEqual({
        from: 'file',
        path: '/var/lib/dubbing/jwt-secret',
      });
    });

    it.each([
      ['NODE_ENV unset', {}],
      ['NODE_ENV=production', { NODE_ENV: 'production' }],
      ['NODE_ENV=test', { NODE_ENV: 'test' }],
      ['NODE_ENV=development with MONGODB_URI', { NODE_ENV: 'development', MONGODB_URI: 'mongodb://db.internal:27017/live_dubbing' }],
    ])('is required with %s, in one line that says what to do', (_, raw) => {
      const error = captureError(() => loadAppConfig(raw));
      expect(error).toBeInstanceOf(ConfigValidationError);
      expect(error.message).toMatch(/^Invalid configuration: JWT_SECRET: required .*NODE_ENV=development without MONGODB_URI/);
      expect(error.message).not.toContain('\n');
    });
  });

  it('leaves NODE_ENV undefined when it is unset', () => {
    expect(loadWithSecret({}).nodeEnv).toBeUndefined();
  });

  describe('DOCS_ENABLED', () => {
    it.each([
      [undefined, true],
      ['development', true],
      ['test', true],
      ['production', false],
    ])('defaults, with NODE_ENV=%s, to %s', (nodeEnv, enabled) => {
      expect(loadWithSecret(nodeEnv === undefined ? {} : { NODE_ENV: nodeEnv }).docs).toEqual({ enabled });
    });

    it('overrides the default either way', () => {
      expect(loadWithSecret({ NODE_ENV: 'production', DOCS_ENABLED: 'true' }).docs).toEqual({ enabled: true });
      expect(loadWithSecret({ NODE_ENV: 'development', DOCS_ENABLED: 'false' }).docs).toEqual({ enabled: false });
    });

    it('refuses a value other than true or false', () => {
      expect(() => loadWithSecret({ DOCS_ENABLED: 'yes' })).toThrow(/DOCS_ENABLED="yes"/);
    });
  });

  describe('METRICS_TOKEN', () => {
    it('is unset by default, leaving /metrics open', () => {
      expect(loadWithSecret({}).metrics).toEqual({ token: undefined });
    });

    it('is read when set', () => {
      expect(loadWithSecret({ METRICS_TOKEN: 'scrape-token-0123456789' }).metrics).toEqual({ token: 'scrape-token-0123456789' });
    });

    it('refuses a token that could not be sent in a header, without quoting it', () => {
      const error = captureError(() => loadWithSecret({ METRICS_TOKEN: 'has a space' }));
      expect(error.message).toContain('METRICS_TOKEN=<hidden>: METRICS_TOKEN must be printable ASCII without spaces');
      expect(error.message).not.toContain('has a space');
    });
  });
});

import { splitList } from '../common/client-address.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ConfigValidationError, parseEnvironment, type Environment } from './environment.js';

export type SubscriptionTierWithQuota = 'premium' | 'family';
export type QuotaWindow = 'hour' | 'day' | 'month';
export type QuotaMinutes = Record<QuotaWindow, number>;

export const MIN_JWT_SECRET_BYTES = 32;
/**
 * SHA-256 of secrets that were published as examples or defaults, refused whatever their length: anyone
 * can sign tokens with them. Kept as digests so the source offers no secret to copy.
 */
const PUBLISHED_SECRET_SHA256 = new Set([
  '79ef599b03c84b902bc2c21405ad47203ca5606291b87fc383219ccc0c9d77f6', // "replace-with-a-long-random-secret", an example-file placeholder
  '04e2ec4725f7da11ab8f980ffc31209c8c33352803972274cbde4ee59743c257', // a development default published in this repository
]);
/** Explicit development on the embedded database signs with a random secret generated once and kept here. */
const GENERATED_SECRET_FILE = 'jwt-secret';
const SECRET_HINT = 'e.g. `openssl rand -base64 48`';

/** Where the HS256 secret comes from: `JWT_SECRET`, or the file that keeps the generated development secret. */
export type JwtSecretSource = { from: 'environment'; secret: string } | { from: 'file'; path: string };

/** An OpenAI-compatible speech service (OpenAI itself or a self-hosted server speaking its API). */
export interface OpenAiProviderConfig {
  /** Scheme, host and optional path prefix, without a trailing slash or `/v1`: requests go to `{baseUrl}/v1/...`. */
  baseUrl: string;
  apiKey: string;
  models: { speechToText: string; translation: string; textToSpeech: string };
  voice: string;
  /** Rate of the raw PCM the server's text-to-speech returns (OpenAI: 24 kHz). */
  speechSampleRateHz: number;
  timeoutMs: number;
  maxRetries: number;
  maxConcurrency: number;
}

export type DubbingConfig = { provider: 'loopback' } | { provider: 'openai'; openai: OpenAiProviderConfig };

/** Typed configuration, built once from the validated environment. */
export class AppConfig {
  /** Undefined when `NODE_ENV` is unset. */
  readonly nodeEnv?: 'development' | 'test' | 'production';
  readonly port!: number;
  readonly logLevel!: string;
  readonly database!: { uri: string | undefined; embeddedPath: string; timeoutMs: number };
  readonly jwt!: { secret: JwtSecretSource; issuer?: string; audience?: string };
  /** Swagger UI and its JSON at `/docs`. */
  readonly docs!: { enabled: boolean };
  /** When set, `/metrics` answers only requests bearing this token. */
  readonly metrics!: { token?: string };
  readonly beta!: {
    enabled: boolean;
    initialCredits: number;
    /** Days the enrolment grant lasts; undefined: it never expires. */
    creditsExpireDays?: number;
    creditsPerSecond: number;
    subtitlesCreditsPerSecond: number;
    preauthSeconds: number;
    checkpointIntervalMs: number;
    warningThresholds: number[];
    invitationTtlDays: number;
  };
  readonly quota!: { updateIntervalMs: number; minutes: Record<SubscriptionTierWithQuota, QuotaMinutes> };
  readonly ws!: {
    authTimeoutMs: number;
    connectionsPerMinute: number;
    /** Sessions, live or suspended, one user may hold at once across instances (docs/protocol.md, "Sessions per user"). */
    maxSessions: { premium: number; family: number };
    maxAudioFrameBytes: number;
    maxPendingPerAddress: number;
    /** TRUST_PROXY: addresses and CIDR blocks of the proxies whose X-Forwarded-For is believed. */
    trustedProxies: string[];
    heartbeatMs: number;
    /** How long a session whose connection was lost waits, suspended, for its client to resume it. */
    resumeWindowMs: number;
    /** How long a live session may go without an audio frame before it ends `idle_timeout` (docs/protocol.md). */
    idleTimeoutMs: number;
  };
  readonly dubbing!: DubbingConfig;
  /** How long the holder of the cluster-wide jobs may be silent before another instance takes them over. */
  readonly jobLeaseMs!: number;
}

export function loadAppConfig(raw: Record<string, string | undefined>): AppConfig {
  const env = parseEnvironment(raw);
  return Object.assign(new AppConfig(), {
    nodeEnv: env.NODE_ENV,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    database: { uri: env.MONGODB_URI, embeddedPath: env.EMBEDDED_DB_PATH, timeoutMs: env.MONGODB_TIMEOUT_MS },
    jwt: {
      secret: jwtSecretSource(env),
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
    },
    docs: { enabled: env.DOCS_ENABLED ?? env.NODE_ENV !== 'production' },
    metrics: { token: env.METRICS_TOKEN },
    beta: {
      enabled: env.BETA_FEATURES_ENABLED,
      initialCredits: env.BETA_INITIAL_CREDITS,
      creditsExpireDays: env.BETA_CREDITS_EXPIRE_DAYS,
      creditsPerSecond: env.BETA_CREDITS_PER_SECOND,
      subtitlesCreditsPerSecond: env.BETA_SUBTITLES_CREDITS_PER_SECOND,
      preauthSeconds: env.BETA_PREAUTH_SECONDS,
      checkpointIntervalMs: env.BETA_CHECKPOINT_INTERVAL_MS,
      warningThresholds: parseThresholds(env.BETA_WARNING_THRESHOLDS),
      invitationTtlDays: env.BETA_INVITATION_TTL_DAYS,
    },
    quota: {
      updateIntervalMs: env.QUOTA_UPDATE_INTERVAL_MS,
      minutes: {
        premium: {
          hour: env.QUOTA_PREMIUM_MINUTES_PER_HOUR,
          day: env.QUOTA_PREMIUM_MINUTES_PER_DAY,
          month: env.QUOTA_PREMIUM_MINUTES_PER_MONTH,
        },
        family: {
          hour: env.QUOTA_FAMILY_MINUTES_PER_HOUR,
          day: env.QUOTA_FAMILY_MINUTES_PER_DAY,
          month: env.QUOTA_FAMILY_MINUTES_PER_MONTH,
        },
      },
    },
    ws: {
      authTimeoutMs: env.WS_AUTH_TIMEOUT_MS,
      connectionsPerMinute: env.WS_CONNECTIONS_PER_MINUTE,
      maxSessions: { premium: env.LIVE_MAX_SESSIONS_PREMIUM, family: env.LIVE_MAX_SESSIONS_FAMILY },
      maxAudioFrameBytes: env.WS_MAX_AUDIO_FRAME_BYTES,
      heartbeatMs: checkHeartbeat(env),
      resumeWindowMs: env.WS_RESUME_WINDOW_MS,
      idleTimeoutMs: env.WS_IDLE_TIMEOUT_MS,
      maxPendingPerAddress: env.WS_MAX_PENDING_PER_ADDRESS,
      trustedProxies: splitList(env.TRUST_PROXY ?? ''),
    },
    dubbing: dubbingConfig(env),
    jobLeaseMs: env.JOB_LEASE_MS ?? env.BETA_CHECKPOINT_INTERVAL_MS,
  });
}

function dubbingConfig(env: Environment): DubbingConfig {
  if (env.DUBBING_PROVIDER !== 'openai') {
    return { provider: 'loopback' };
  }
  const missing = (['OPENAI_BASE_URL', 'OPENAI_API_KEY'] as const).filter((name) => env[name] === undefined);
  if (missing.length > 0) {
    throw new ConfigValidationError(missing.map((name) => `${name}: required when DUBBING_PROVIDER=openai`));
  }
  return {
    provider: 'openai',
    openai: {
      baseUrl: normalizeBaseUrl(env.OPENAI_BASE_URL!),
      apiKey: env.OPENAI_API_KEY!,
      models: {
        speechToText: env.OPENAI_STT_MODEL,
        translation: env.OPENAI_TRANSLATION_MODEL,
        textToSpeech: env.OPENAI_TTS_MODEL,
      },
      voice: env.OPENAI_TTS_VOICE,
      speechSampleRateHz: env.OPENAI_TTS_SAMPLE_RATE_HZ,
      timeoutMs: env.OPENAI_TIMEOUT_MS,
      maxRetries: env.OPENAI_MAX_RETRIES,
      maxConcurrency: env.OPENAI_MAX_CONCURRENCY,
    },
  };
}

/** Accepts the base URL with or without the `/v1` that OpenAI SDKs include, and with or without a trailing slash. */
function normalizeBaseUrl(url: string): string {
  const { search, hash } = new URL(url);
  if (search !== '' || hash !== '') {
    throw new ConfigValidationError(['OPENAI_BASE_URL: must not have a query string or fragment (paths are appended to it)']);
  }
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** A secret that is too short or published is refused everywhere; only explicit development on the embedded database runs without one. */
function jwtSecretSource(env: Environment): JwtSecretSource {
  if (env.JWT_SECRET !== undefined) {
    return { from: 'environment', secret: checkJwtSecret(env.JWT_SECRET) };
  }
  if (env.NODE_ENV === 'development' && env.MONGODB_URI === undefined) {
    return { from: 'file', path: join(env.EMBEDDED_DB_PATH, GENERATED_SECRET_FILE) };
  }
  throw new ConfigValidationError([
    `JWT_SECRET: required (at least ${MIN_JWT_SECRET_BYTES} random bytes, ${SECRET_HINT}); ` +
      'only NODE_ENV=development without MONGODB_URI runs without it, on a secret generated under EMBEDDED_DB_PATH',
  ]);
}

function checkJwtSecret(secret: string): string {
  if (Buffer.byteLength(secret) < MIN_JWT_SECRET_BYTES) {
    throw new ConfigValidationError([`JWT_SECRET: must be at least ${MIN_JWT_SECRET_BYTES} bytes (${SECRET_HINT})`]);
  }
  if (PUBLISHED_SECRET_SHA256.has(createHash('sha256').update(secret.toLowerCase()).digest('hex'))) {
    throw new ConfigValidationError([`JWT_SECRET: a published example secret; generate your own (${SECRET_HINT})`]);
  }
  return secret;
}

/** A session is lost after 3 silent checkpoint intervals; its owner must prove itself well within that. */
function checkHeartbeat(env: Environment): number {
  if (env.WS_HEARTBEAT_MS > env.BETA_CHECKPOINT_INTERVAL_MS) {
    throw new ConfigValidationError([
      `WS_HEARTBEAT_MS: must not exceed BETA_CHECKPOINT_INTERVAL_MS (${env.BETA_CHECKPOINT_INTERVAL_MS}), since a session is lost after three silent checkpoint intervals`,
    ]);
  }
  return env.WS_HEARTBEAT_MS;
}

function parseThresholds(list: string): number[] {
  const thresholds = list.split(',').map((part) => Number(part.trim()));
  const invalid = thresholds.filter((value) => value <= 0 || value >= 100);
  if (invalid.length > 0) {
    throw new ConfigValidationError([`BETA_WARNING_THRESHOLDS: percentages must be between 1 and 99, got ${invalid.join(', ')}`]);
  }
  return [...new Set(thresholds)].sort((a, b) => b - a);
}

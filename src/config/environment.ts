import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
  ValidateBy,
} from 'class-validator';
import { isAddressOrBlock, splitList } from '../common/client-address.js';

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const toNumber = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value);
const INTEGER_LIST = /^\s*\d+\s*(,\s*\d+\s*)*$/;

/** Every variable the service reads (README, Configuration), with its default. Validated once at start. */
export class Environment {
  /** Unset is not development: only an explicit `development` may run without `JWT_SECRET`. */
  @IsOptional()
  @IsIn(['development', 'test', 'production'])
  NODE_ENV?: 'development' | 'test' | 'production' = undefined;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/.+/, { message: 'MONGODB_URI must be a mongodb:// or mongodb+srv:// URI' })
  MONGODB_URI?: string = undefined;

  @IsString()
  @MinLength(1)
  EMBEDDED_DB_PATH = './data';

  @Transform(toNumber)
  @IsInt()
  @Min(100)
  MONGODB_TIMEOUT_MS = 10000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_SECRET?: string = undefined;

  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_ISSUER?: string = undefined;

  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_AUDIENCE?: string = undefined;

  @IsOptional()
  @Matches(/^[\x21-\x7e]+$/, { message: 'METRICS_TOKEN must be printable ASCII without spaces' })
  METRICS_TOKEN?: string = undefined;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  DOCS_ENABLED?: boolean = undefined;

  @Transform(toBoolean)
  @IsBoolean()
  BETA_FEATURES_ENABLED = true;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  BETA_INITIAL_CREDITS = 500;

  /** Days the enrolment grant's credits last; unset: they never expire. */
  @Transform(toNumber)
  @IsOptional()
  @IsInt()
  @Min(1)
  BETA_CREDITS_EXPIRE_DAYS?: number = undefined;

  @Transform(toNumber)
  @IsNumber()
  @IsPositive()
  BETA_CREDITS_PER_SECOND = 1;

  @Transform(toNumber)
  @IsNumber()
  @IsPositive()
  BETA_SUBTITLES_CREDITS_PER_SECOND = 0.5;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  BETA_PREAUTH_SECONDS = 60;

  @Transform(toNumber)
  @IsInt()
  @Min(100)
  BETA_CHECKPOINT_INTERVAL_MS = 30000;

  /** Unset: BETA_CHECKPOINT_INTERVAL_MS, the pace of the jobs the lease covers. */
  @IsOptional()
  @Transform(toNumber)
  @IsInt()
  @Min(300)
  JOB_LEASE_MS?: number = undefined;

  @Matches(INTEGER_LIST, { message: 'BETA_WARNING_THRESHOLDS must be a comma-separated list of whole percentages' })
  BETA_WARNING_THRESHOLDS = '20,10,5';

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  BETA_INVITATION_TTL_DAYS = 14;

  @Transform(toNumber)
  @IsInt()
  @Min(100)
  QUOTA_UPDATE_INTERVAL_MS = 10000;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  QUOTA_PREMIUM_MINUTES_PER_HOUR = 60;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  QUOTA_PREMIUM_MINUTES_PER_DAY = 240;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  QUOTA_PREMIUM_MINUTES_PER_MONTH = 3000;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  QUOTA_FAMILY_MINUTES_PER_HOUR = 60;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  QUOTA_FAMILY_MINUTES_PER_DAY = 480;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  QUOTA_FAMILY_MINUTES_PER_MONTH = 6000;

  @Transform(toNumber)
  @IsInt()
  @Min(100)
  WS_AUTH_TIMEOUT_MS = 10000;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  WS_CONNECTIONS_PER_MINUTE = 5;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  LIVE_MAX_SESSIONS_PREMIUM = 2;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  LIVE_MAX_SESSIONS_FAMILY = 4;

  @Transform(toNumber)
  @IsInt()
  @Min(2)
  WS_MAX_AUDIO_FRAME_BYTES = 65536;

  @Transform(toNumber)
  @IsInt()
  @Min(100)
  WS_HEARTBEAT_MS = 10000;

  @Transform(toNumber)
  @IsInt()
  @Min(1000)
  WS_RESUME_WINDOW_MS = 20000;

  @Transform(toNumber)
  @IsInt()
  @Min(1000)
  WS_IDLE_TIMEOUT_MS = 30000;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  WS_MAX_PENDING_PER_ADDRESS = 20;

  @IsOptional()
  @ValidateBy({
    name: 'isProxyList',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && splitList(value).length > 0 && splitList(value).every(isAddressOrBlock),
      defaultMessage: () => 'TRUST_PROXY must be a comma-separated list of IP addresses or CIDR blocks, e.g. "10.0.0.1,10.1.0.0/16"',
    },
  })
  TRUST_PROXY?: string = undefined;

  @IsIn(['loopback', 'openai'])
  DUBBING_PROVIDER = 'loopback';

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, allow_underscores: true },
    { message: 'OPENAI_BASE_URL must be an http:// or https:// URL' },
  )
  OPENAI_BASE_URL?: string = undefined;

  // Validated here so a bad key fails at start, not inside fetch (whose header error would quote it).
  @IsOptional()
  @Matches(/^[\x21-\x7e]+$/, { message: 'OPENAI_API_KEY must be printable ASCII without spaces' })
  OPENAI_API_KEY?: string = undefined;

  @IsString()
  @MinLength(1)
  OPENAI_STT_MODEL = 'whisper-1';

  @IsString()
  @MinLength(1)
  OPENAI_TRANSLATION_MODEL = 'gpt-4o-mini';

  @IsString()
  @MinLength(1)
  OPENAI_TTS_MODEL = 'tts-1';

  @IsString()
  @MinLength(1)
  OPENAI_TTS_VOICE = 'alloy';

  @Transform(toNumber)
  @IsInt()
  @Min(8000)
  @Max(48000)
  OPENAI_TTS_SAMPLE_RATE_HZ = 24000;

  @Transform(toNumber)
  @IsInt()
  @Min(100)
  OPENAI_TIMEOUT_MS = 15000;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(10)
  OPENAI_MAX_RETRIES = 2;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(256)
  OPENAI_MAX_CONCURRENCY = 8;
}

/** Variables whose values never appear in a validation message. */
const SECRET_VARIABLES = new Set(['JWT_SECRET', 'OPENAI_API_KEY', 'METRICS_TOKEN']);

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    // One line: the service and the CLI print it as their whole error.
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigValidationError';
  }
}

/** Reads and validates the raw environment; unknown variables are ignored, empty strings count as unset. */
export function parseEnvironment(raw: Record<string, string | undefined>): Environment {
  const known = new Set(Object.keys(new Environment()));
  const present = Object.fromEntries(Object.entries(raw).filter(([key, value]) => known.has(key) && value !== undefined && value !== ''));
  const env = plainToInstance(Environment, present, { exposeDefaultValues: true });
  const errors = validateSync(env, { skipMissingProperties: false });
  if (errors.length > 0) {
    throw new ConfigValidationError(
      errors.map((error) => {
        const shown = SECRET_VARIABLES.has(error.property) ? '<hidden>' : JSON.stringify(error.value);
        return `${error.property}=${shown}: ${Object.values(error.constraints ?? {}).join('; ')}`;
      }),
    );
  }
  return env;
}

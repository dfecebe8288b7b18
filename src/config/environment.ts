import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const toNumber = ({ value }: { value: unknown }) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value);
const INTEGER_LIST = /^\s*\d+\s*(,\s*\d+\s*)*$/;

/** Every variable the service reads (SPEC §8), with its default. Validated once at start. */
export class Environment {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV = 'development';

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

  @Transform(toBoolean)
  @IsBoolean()
  BETA_FEATURES_ENABLED = true;

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  BETA_INITIAL_CREDITS = 500;

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
  @Min(2)
  WS_MAX_AUDIO_FRAME_BYTES = 65536;

  @IsIn(['loopback'])
  DUBBING_PROVIDER = 'loopback';
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
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
      errors.map((error) => `${error.property}=${JSON.stringify(error.value)}: ${Object.values(error.constraints ?? {}).join('; ')}`),
    );
  }
  return env;
}

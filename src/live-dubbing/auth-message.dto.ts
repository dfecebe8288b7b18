import { IsIn, IsOptional, IsString, Length, Matches, ValidateIf } from 'class-validator';

const LANGUAGE = /^[a-z]{2,3}(-[A-Z]{2})?$/;

const opening = (message: AuthMessage) => message.resume_token === undefined;

/**
 * The first message of a session (step 2 of the opening, docs/protocol.md): a new session names its channel and
 * languages; a resume names only the session's resume token, and the session brings its own.
 */
export class AuthMessage {
  @IsIn(['auth'])
  type!: 'auth';

  @IsString()
  @Length(1, 4096)
  token!: string;

  @IsOptional()
  @IsString()
  @Length(1, 256)
  resume_token?: string;

  @ValidateIf(opening)
  @IsString()
  @Length(1, 128)
  @Matches(/^[\w.-]+$/, { message: 'channel_id may contain letters, digits, "_", "." and "-" only' })
  channel_id!: string;

  @ValidateIf(opening)
  @IsString()
  @Matches(LANGUAGE, { message: 'target_lang must be a language code such as "en" or "pt-BR"' })
  target_lang!: string;

  @IsOptional()
  @IsString()
  @Matches(LANGUAGE, { message: 'source_lang must be a language code such as "he"' })
  source_lang?: string;
}

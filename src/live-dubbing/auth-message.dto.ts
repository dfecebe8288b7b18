import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';

const LANGUAGE = /^[a-z]{2,3}(-[A-Z]{2})?$/;

/** The first message of a session (step 2 of the opening, docs/protocol.md). */
export class AuthMessage {
  @IsIn(['auth'])
  type!: 'auth';

  @IsString()
  @Length(1, 4096)
  token!: string;

  @IsString()
  @Length(1, 128)
  @Matches(/^[\w.-]+$/, { message: 'channel_id may contain letters, digits, "_", "." and "-" only' })
  channel_id!: string;

  @IsString()
  @Matches(LANGUAGE, { message: 'target_lang must be a language code such as "en" or "pt-BR"' })
  target_lang!: string;

  @IsOptional()
  @IsString()
  @Matches(LANGUAGE, { message: 'source_lang must be a language code such as "he"' })
  source_lang?: string;
}

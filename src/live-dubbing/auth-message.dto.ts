import { IsIn, IsString, Length, Matches, ValidateIf } from 'class-validator';
import { CHANNEL_ID_PATTERN, LANGUAGE_PATTERN } from '../protocol/index.js';

const LANGUAGE = new RegExp(LANGUAGE_PATTERN);

const opening = (message: AuthMessage) => message.resume_token === undefined;
/** An optional field, when sent, is checked like any other: `null` is not a way to leave it out. */
const present = (_message: AuthMessage, value: unknown) => value !== undefined;

/**
 * The first message of a session (step 2 of the opening, docs/protocol.md): a new session names its channel and
 * languages; a resume names only the session's resume token, and the session brings its own. The same rules as the
 * protocol's schemas (`AuthOpenMessageSchema`, `AuthResumeMessageSchema` in src/protocol); a spec holds both to the
 * same corpus of messages, and this class words the refusals.
 */
export class AuthMessage {
  @IsIn(['auth'])
  type!: 'auth';

  @IsString()
  @Length(1, 4096)
  token!: string;

  @ValidateIf(present)
  @IsString()
  @Length(1, 256)
  resume_token?: string;

  @ValidateIf((message: AuthMessage, value: unknown) => opening(message) || present(message, value))
  @IsString()
  @Length(1, 128)
  @Matches(new RegExp(CHANNEL_ID_PATTERN), { message: 'channel_id may contain letters, digits, "_", "." and "-" only' })
  channel_id!: string;

  @ValidateIf((message: AuthMessage, value: unknown) => opening(message) || present(message, value))
  @IsString()
  @Matches(LANGUAGE, { message: 'target_lang must be a language code such as "en" or "pt-BR"' })
  target_lang!: string;

  @ValidateIf(present)
  @IsString()
  @Matches(LANGUAGE, { message: 'source_lang must be a language code such as "he"' })
  source_lang?: string;
}

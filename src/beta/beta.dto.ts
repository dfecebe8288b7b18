import { DateTimeField, EnumField, IntegerField, TextField } from '../common/openapi/fields.js';
import { EmailField } from '../users/email.dto.js';
import { DEFAULT_GRANT_PRIORITY, MAX_GRANT_PRIORITY } from './credits/grants.js';
import { BETA_INVITATION_STATUSES, type BetaInvitationStatus } from './invitations/beta-invitation.schema.js';
import { LEDGER_CURSOR_MAX_LENGTH, LEDGER_CURSOR_PATTERN } from './ledger-cursor.js';
import { BETA_SESSION_STATUSES, type BetaSessionStatus } from './sessions/beta-session.schema.js';

export class PreauthorizeDto {
  @EnumField({ values: ['live_dubbing'] })
  feature!: 'live_dubbing';

  @IntegerField({
    required: false,
    minimum: 1,
    maximum: 86_400,
    example: 120,
    description: 'Seconds to estimate; defaults to BETA_PREAUTH_SECONDS',
  })
  estimated_seconds?: number;
}

export class TransactionsQueryDto {
  @IntegerField({ required: false, inQuery: true, minimum: 1, maximum: 100, default: 20 })
  limit?: number;

  @TextField({
    required: false,
    minLength: 1,
    maxLength: LEDGER_CURSOR_MAX_LENGTH,
    pattern: LEDGER_CURSOR_PATTERN,
    description: 'The next_cursor of the previous page',
  })
  cursor?: string;
}

export class EnrollDto {
  @EmailField()
  email!: string;

  @IntegerField({
    required: false,
    minimum: 1,
    maximum: 1_000_000,
    description: 'Credits granted at enrolment; defaults to BETA_INITIAL_CREDITS',
  })
  credits?: number;
}

export class AdjustCreditsDto {
  @IntegerField({
    minimum: -1_000_000,
    maximum: 1_000_000,
    not: 0,
    example: 100,
    description: 'Credits to add (positive) or remove (negative); never below 0',
  })
  amount!: number;

  @TextField({ minLength: 3, maxLength: 200, example: 'support goodwill' })
  reason!: string;

  @TextField({
    required: false,
    minLength: 8,
    maxLength: 100,
    description: 'Makes a retried request apply once; reused with another amount or reason: 409',
  })
  idempotency_key?: string;
}

/** Text with at least one character that is not ASCII white space (a class every regex engine reads alike). */
const NOT_BLANK = '[^\\t\\n\\v\\f\\r ]';

export class GrantCreditsDto {
  @IntegerField({
    minimum: 1,
    maximum: 1_000_000,
    example: 100,
    description: 'Credits to grant; credits are removed with a negative adjustment (`POST /api/v1/admin/beta/users/{email}/credits`)',
    belowMinimum:
      'amount must be at least 1: a grant only adds credits; to remove credits, use the credits adjustment endpoint (POST /api/v1/admin/beta/users/{email}/credits) with a negative amount',
  })
  amount!: number;

  @TextField({
    minLength: 3,
    maxLength: 200,
    pattern: NOT_BLANK,
    message: 'reason must be a string of 3 to 200 characters, not all blank',
    example: 'launch bonus',
  })
  reason!: string;

  @DateTimeField({
    required: false,
    example: '2099-01-15T10:00:00.000Z',
    description: 'When what is left of the grant expires; in the future. Absent: it never expires',
  })
  expires_at?: string;

  @IntegerField({
    required: false,
    minimum: 0,
    maximum: MAX_GRANT_PRIORITY,
    default: DEFAULT_GRANT_PRIORITY,
    example: 0,
    description: 'Lower is spent first (docs/credits.md, "Grants"); the enrolment grant has 10',
  })
  priority?: number;

  @TextField({
    minLength: 8,
    maxLength: 100,
    example: 'launch-bonus-2099-01',
    description: 'Makes a retried request grant once; reused with another amount, reason, priority or expiry: 409',
  })
  idempotency_key!: string;
}

export class SessionsQueryDto {
  @EnumField({ required: false, values: BETA_SESSION_STATUSES })
  status?: BetaSessionStatus;
}

export class CreateInvitationDto {
  @EmailField()
  email!: string;
}

export class InvitationsQueryDto {
  @EnumField({ required: false, values: BETA_INVITATION_STATUSES })
  status?: BetaInvitationStatus;
}

export class AcceptInvitationDto {
  @TextField({ minLength: 1, maxLength: 200, description: 'The code from the invitation' })
  code!: string;
}

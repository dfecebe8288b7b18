import { ApiProperty } from '@nestjs/swagger';
import { LIVE_FEATURES } from '../common/live-features.js';
import type { CreditBalance, GrantView } from './credits/beta-credits.service.js';
import { TRANSACTION_TYPES } from './credits/beta-credit-transaction.schema.js';
import type { LedgerEntry } from './credits/credit-ledger.repository.js';
import { compareBurnDown, MAX_GRANT_PRIORITY } from './credits/grants.js';
import type { EnrollmentResult } from './enrollment/beta-enrollment.service.js';
import { BETA_INVITATION_STATUSES } from './invitations/beta-invitation.schema.js';
import type { BetaInvitationRecord } from './invitations/beta-invitations.repository.js';
import type { IssuedInvitation } from './invitations/beta-invitations.service.js';
import { BETA_END_REASONS, BETA_SESSION_STATUSES } from './sessions/beta-session.schema.js';
import type { BetaSessionRecord } from './sessions/beta-sessions.repository.js';

const EMAIL = { example: 'viewer@example.com' };
const CREDITS = { type: 'integer', minimum: 0 } as const;
const INSTANT = { type: 'string', format: 'date-time', example: '2025-01-15T10:00:00.000Z' } as const;
const NULLABLE_INSTANT = { ...INSTANT, nullable: true } as const;
const FUTURE_INSTANT = { ...INSTANT, example: '2099-01-15T10:00:00.000Z' } as const;
const GRANT_ID = { description: "The grant's ledger key", example: 'grant:viewer@example.com:launch-bonus-2099-01' } as const;
const PRIORITY = { type: 'integer', minimum: 0, maximum: MAX_GRANT_PRIORITY, example: 10, description: 'Lower is spent first' } as const;
const GRANT_STATUSES = ['active', 'spent', 'expired'] as const;

/** The REST answers of the Beta 500 programme, each with the function that builds it. */
export class CreditsView {
  @ApiProperty() is_beta_user!: boolean;
  @ApiProperty({ ...CREDITS, example: 500, description: 'Credits ever granted' }) total_credits!: number;
  @ApiProperty({
    ...CREDITS,
    example: 500,
    description: 'Credits granted and not expired: what a credit bar is drawn against (as `ready.beta.granted_credits`)',
  })
  granted_credits!: number;
  @ApiProperty({ ...CREDITS, example: 440, description: 'Granted minus charged' }) remaining_credits!: number;
  @ApiProperty({ ...CREDITS, example: 60, description: 'Held by running sessions' }) held_credits!: number;
  @ApiProperty({ ...CREDITS, example: 380, description: 'Remaining minus held: what a new session may use' }) available_credits!: number;
  @ApiProperty({ ...CREDITS, example: 1 }) active_sessions!: number;

  static of(isBetaUser: boolean, balance: CreditBalance): CreditsView {
    return {
      is_beta_user: isBetaUser,
      total_credits: balance.totalCredits,
      granted_credits: balance.grantedCredits,
      remaining_credits: balance.remainingCredits,
      held_credits: balance.heldCredits,
      available_credits: balance.availableCredits,
      active_sessions: balance.activeSessions,
    };
  }
}

/** A grant as admins see it (docs/credits.md, "Grants"). */
export class CreditGrantView {
  @ApiProperty(GRANT_ID) id!: string;
  @ApiProperty({ ...CREDITS, example: 100, description: 'Credits granted' }) amount!: number;
  @ApiProperty({ ...CREDITS, example: 60, description: 'Unspent, what running sessions hold of it included; 0 once expired' })
  remaining!: number;
  @ApiProperty(PRIORITY) priority!: number;
  @ApiProperty({ ...FUTURE_INSTANT, required: false, description: 'When what is left expires; absent: never' }) expires_at?: Date;
  @ApiProperty(INSTANT) created_at!: Date;
  @ApiProperty({ type: 'string', nullable: true, example: 'launch bonus' }) reason!: string | null;
  @ApiProperty({
    enum: GRANT_STATUSES,
    description: '`active`: credits left; `spent`: none left; `expired`: its expiry came (what was left is written off)',
  })
  status!: GrantView['status'];

  static of(grant: GrantView): CreditGrantView {
    return {
      id: grant.id,
      amount: grant.amount,
      remaining: grant.remaining,
      priority: grant.priority,
      ...(grant.expiresAt === undefined ? {} : { expires_at: new Date(grant.expiresAt) }),
      created_at: new Date(grant.createdAt),
      reason: grant.reason ?? null,
      status: grant.status,
    };
  }
}

export class CreditGrantListView {
  @ApiProperty({ type: [CreditGrantView], description: 'Every grant of the account, newest first' }) grants!: CreditGrantView[];
}

/** What a user sees of one of their active grants: enough to tell which credits go first and when some expire. */
export class ActiveGrantView {
  @ApiProperty(GRANT_ID) id!: string;
  @ApiProperty({ ...CREDITS, example: 60, description: 'Unspent credits, what running sessions hold of it included' }) remaining!: number;
  @ApiProperty({ ...FUTURE_INSTANT, required: false, description: 'When what is left expires; absent: never' }) expires_at?: Date;
  @ApiProperty(PRIORITY) priority!: number;

  static of(grant: GrantView): ActiveGrantView {
    return {
      id: grant.id,
      remaining: grant.remaining,
      ...(grant.expiresAt === undefined ? {} : { expires_at: new Date(grant.expiresAt) }),
      priority: grant.priority,
    };
  }
}

/** `GET /beta/credits`: the balance, and the grants it is made of. */
export class MyCreditsView extends CreditsView {
  @ApiProperty({ type: [ActiveGrantView], description: 'The active grants (credits left, not expired), in the order they are spent' })
  grants!: ActiveGrantView[];
  @ApiProperty({
    ...NULLABLE_INSTANT,
    example: '2099-01-15T10:00:00.000Z',
    description: 'The earliest expiry of an active grant; null: none expires',
  })
  next_expiry!: Date | null;

  static ofGrants(isBetaUser: boolean, balance: CreditBalance, grants: GrantView[]): MyCreditsView {
    const active = grants.filter((grant) => grant.status === 'active' && grant.remaining > 0).sort(compareSpendOrder);
    const expiries = active.flatMap((grant) => (grant.expiresAt === undefined ? [] : [grant.expiresAt]));
    return {
      ...CreditsView.of(isBetaUser, balance),
      grants: active.map(ActiveGrantView.of),
      next_expiry: expiries.length === 0 ? null : new Date(Math.min(...expiries)),
    };
  }
}

/** The order the credits are spent in (grants.ts, compareBurnDown), for the user to read their grants in. */
function compareSpendOrder(a: GrantView, b: GrantView): number {
  const credit = (grant: GrantView) => ({ ...grant, expires_at: grant.expiresAt, created_at: grant.createdAt });
  return compareBurnDown(credit(a), credit(b));
}

export class AccountCreditsView extends CreditsView {
  @ApiProperty(EMAIL) email!: string;

  static ofAccount(email: string, isBetaUser: boolean, balance: CreditBalance): AccountCreditsView {
    return { email, ...CreditsView.of(isBetaUser, balance) };
  }
}

export class EnrollmentView extends AccountCreditsView {
  @ApiProperty({ description: 'False when the email was already enrolled (nothing was granted again)' }) newly_enrolled!: boolean;

  static ofEnrollment(result: EnrollmentResult): EnrollmentView {
    return { newly_enrolled: result.newlyEnrolled, ...AccountCreditsView.ofAccount(result.email, true, result.balance) };
  }
}

export class RevokedEnrollmentView {
  @ApiProperty(EMAIL) email!: string;
  @ApiProperty({ enum: [false] }) is_beta_user!: false;
}

export class PreauthorizationView {
  @ApiProperty({ description: 'Enrolled and enough available credits for the estimate' }) allowed!: boolean;
  @ApiProperty({ ...CREDITS, example: 60 }) required_credits!: number;
  @ApiProperty({ ...CREDITS, example: 440 }) remaining_credits!: number;
}

export class LedgerEntryView {
  @ApiProperty({ description: 'The entry idempotency key', example: 'enrollment:viewer@example.com' }) id!: string;
  @ApiProperty({ enum: TRANSACTION_TYPES }) type!: string;
  @ApiProperty({ type: 'integer', example: 500, description: 'Signed change of the balance' }) amount!: number;
  @ApiProperty({ type: 'string', nullable: true }) session_id!: string | null;
  @ApiProperty({ type: 'string', nullable: true, example: 'enrolment (admin)' }) reason!: string | null;
  @ApiProperty(INSTANT) created_at!: Date;

  static of(entry: LedgerEntry): LedgerEntryView {
    return {
      id: entry._id,
      type: entry.type,
      amount: entry.amount,
      session_id: entry.session_id ?? null,
      reason: entry.reason ?? null,
      created_at: entry.created_at,
    };
  }
}

export class TransactionsPageView {
  @ApiProperty({ type: [LedgerEntryView] }) transactions!: LedgerEntryView[];
  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  next_cursor!: string | null;
}

export class IssuedInvitationView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty(EMAIL) email!: string;
  @ApiProperty({ description: 'Shown only in this answer', example: 'q3xY0b9k2mWc1VtR8sLp_A' }) code!: string;
  @ApiProperty({ enum: ['pending'] }) status!: 'pending';
  @ApiProperty(INSTANT) expires_at!: Date;

  static of(invitation: IssuedInvitation): IssuedInvitationView {
    return { id: invitation.id, email: invitation.email, code: invitation.code, status: 'pending', expires_at: invitation.expires_at };
  }
}

export class InvitationView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty(EMAIL) email!: string;
  @ApiProperty({ enum: BETA_INVITATION_STATUSES, description: 'As of now: a pending invitation past its expiry is expired' })
  status!: string;
  @ApiProperty(INSTANT) created_at!: Date;
  @ApiProperty(INSTANT) expires_at!: Date;
  @ApiProperty(NULLABLE_INSTANT) accepted_at!: Date | null;
  @ApiProperty(NULLABLE_INSTANT) revoked_at!: Date | null;
  @ApiProperty({ description: 'The admin who issued it', example: 'admin@example.com' }) created_by!: string;

  static of(invitation: BetaInvitationRecord): InvitationView {
    return {
      id: invitation._id,
      email: invitation.email,
      status: invitation.status,
      created_at: invitation.created_at,
      expires_at: invitation.expires_at,
      accepted_at: invitation.accepted_at ?? null,
      revoked_at: invitation.revoked_at ?? null,
      created_by: invitation.created_by,
    };
  }
}

export class InvitationListView {
  @ApiProperty({ type: [InvitationView] }) invitations!: InvitationView[];
}

export class SessionView {
  @ApiProperty() session_id!: string;
  @ApiProperty(EMAIL) email!: string;
  @ApiProperty({ enum: LIVE_FEATURES }) feature!: string;
  @ApiProperty({ enum: BETA_SESSION_STATUSES }) status!: string;
  @ApiProperty(INSTANT) started_at!: Date;
  @ApiProperty(CREDITS) charged_credits!: number;
  @ApiProperty({ type: 'number', minimum: 0 }) charged_seconds!: number;
  @ApiProperty(NULLABLE_INSTANT) ended_at!: Date | null;
  @ApiProperty({ type: 'string', enum: [...BETA_END_REASONS, null], nullable: true }) end_reason!: string | null;

  static of(session: BetaSessionRecord): SessionView {
    return {
      session_id: session._id,
      email: session.email,
      feature: session.feature,
      status: session.status,
      started_at: session.started_at,
      charged_credits: session.charged_credits,
      charged_seconds: session.charged_seconds,
      ended_at: session.ended_at ?? null,
      end_reason: session.end_reason ?? null,
    };
  }
}

export class SessionListView {
  @ApiProperty({ type: [SessionView] }) sessions!: SessionView[];
}

export class BetaUserView extends CreditsView {
  @ApiProperty(EMAIL) email!: string;
  @ApiProperty({ type: [LedgerEntryView], description: 'The newest 20 ledger entries' }) recent_transactions!: LedgerEntryView[];
  @ApiProperty({ type: [SessionView], description: 'The newest 20 sessions' }) sessions!: SessionView[];
  @ApiProperty({ type: [CreditGrantView], description: 'Every grant of the account, newest first' }) grants!: CreditGrantView[];
}

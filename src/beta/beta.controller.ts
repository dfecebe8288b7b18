import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { AdminGuard, HttpAuthGuard } from '../auth/http-auth.guard.js';
import type { AuthenticatedUser } from '../auth/token.service.js';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { EmailParamDto } from '../users/email.dto.js';
import { normalizeEmail } from '../users/email.js';
import {
  AcceptInvitationDto,
  AdjustCreditsDto,
  CreateInvitationDto,
  EnrollDto,
  InvitationsQueryDto,
  PreauthorizeDto,
  SessionsQueryDto,
  TransactionsQueryDto,
} from './beta.dto.js';
import { BetaCreditsService, type CreditBalance } from './credits/beta-credits.service.js';
import type { LedgerEntry } from './credits/credit-ledger.repository.js';
import { creditsForSeconds } from './credits/credit-math.js';
import { BetaEnrollmentService, type EnrollmentResult } from './enrollment/beta-enrollment.service.js';
import type { BetaInvitationRecord } from './invitations/beta-invitations.repository.js';
import { BetaInvitationsService } from './invitations/beta-invitations.service.js';
import { decodeLedgerCursor, encodeLedgerCursor } from './ledger-cursor.js';
import type { BetaSessionRecord } from './sessions/beta-sessions.repository.js';
import { BetaSessionsService } from './sessions/beta-sessions.service.js';

function creditsView(isBetaUser: boolean, balance: CreditBalance) {
  return {
    is_beta_user: isBetaUser,
    total_credits: balance.totalCredits,
    remaining_credits: balance.remainingCredits,
    held_credits: balance.heldCredits,
    available_credits: balance.availableCredits,
    active_sessions: balance.activeSessions,
  };
}

function enrollmentView(result: EnrollmentResult) {
  return { email: result.email, newly_enrolled: result.newlyEnrolled, ...creditsView(true, result.balance) };
}

function invitationView(invitation: BetaInvitationRecord) {
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

function entryView(entry: LedgerEntry) {
  return {
    id: entry._id,
    type: entry.type,
    amount: entry.amount,
    session_id: entry.session_id ?? null,
    reason: entry.reason ?? null,
    created_at: entry.created_at,
  };
}

function sessionView(session: BetaSessionRecord) {
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

@ApiTags('beta')
@ApiBearerAuth()
@UseGuards(HttpAuthGuard)
@Controller('beta')
export class BetaController {
  constructor(
    private readonly credits: BetaCreditsService,
    private readonly enrollment: BetaEnrollmentService,
    private readonly invitations: BetaInvitationsService,
    private readonly config: AppConfig,
  ) {}

  @Get('credits')
  async myCredits(@CurrentUser() user: AuthenticatedUser) {
    return creditsView(await this.enrollment.isMember(user.email), await this.credits.balance(user.email));
  }

  @Get('credits/transactions')
  async myTransactions(@CurrentUser() user: AuthenticatedUser, @Query() query: TransactionsQueryDto) {
    const before = query.cursor === undefined ? undefined : decodeLedgerCursor(query.cursor);
    const page = await this.credits.transactions(user.email, query.limit ?? 20, before);
    const last = page.entries[page.entries.length - 1];
    return {
      transactions: page.entries.map(entryView),
      next_cursor: page.hasMore ? encodeLedgerCursor({ createdAt: last.created_at, key: last._id }) : null,
    };
  }

  @Post('preauthorize')
  @HttpCode(200)
  async preauthorize(@CurrentUser() user: AuthenticatedUser, @Body() body: PreauthorizeDto) {
    const rate = this.config.beta.creditsPerSecond;
    const required = creditsForSeconds(body.estimated_seconds ?? this.config.beta.preauthSeconds, rate);
    const isMember = await this.enrollment.isMember(user.email);
    const balance = await this.credits.balance(user.email);
    return {
      allowed: isMember && balance.availableCredits >= required,
      required_credits: required,
      remaining_credits: balance.remainingCredits,
    };
  }

  @Post('invitations/accept')
  @HttpCode(200)
  async acceptInvitation(@CurrentUser() user: AuthenticatedUser, @Body() body: AcceptInvitationDto) {
    return enrollmentView(await this.invitations.accept(user, body.code));
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(HttpAuthGuard, AdminGuard)
@Controller('admin/beta')
export class AdminBetaController {
  constructor(
    private readonly credits: BetaCreditsService,
    private readonly enrollment: BetaEnrollmentService,
    private readonly invitations: BetaInvitationsService,
    private readonly sessions: BetaSessionsService,
  ) {}

  @Post('invitations')
  async invite(@CurrentUser() admin: AuthenticatedUser, @Body() body: CreateInvitationDto) {
    const invitation = await this.invitations.create(body.email, admin.email);
    return { id: invitation.id, email: invitation.email, code: invitation.code, status: 'pending', expires_at: invitation.expires_at };
  }

  @Get('invitations')
  async listInvitations(@Query() query: InvitationsQueryDto) {
    return { invitations: (await this.invitations.list(query.status)).map(invitationView) };
  }

  @Post('enrollments')
  async enroll(@CurrentUser() admin: AuthenticatedUser, @Body() body: EnrollDto) {
    return enrollmentView(await this.enrollment.enroll({ email: body.email, credits: body.credits, via: 'admin', actor: admin.email }));
  }

  @Delete('enrollments/:email')
  async revoke(@Param() params: EmailParamDto) {
    if (!(await this.enrollment.revoke(params.email))) {
      throw new DomainError(ErrorCode.NotFound, `${normalizeEmail(params.email)} is not enrolled`);
    }
    return { email: normalizeEmail(params.email), is_beta_user: false };
  }

  @Post('users/:email/credits')
  async adjust(@CurrentUser() admin: AuthenticatedUser, @Param() params: EmailParamDto, @Body() body: AdjustCreditsDto) {
    const email = normalizeEmail(params.email);
    if (!(await this.enrollment.isMember(email)) && (await this.credits.account(email)) === undefined) {
      throw new DomainError(ErrorCode.NotFound, `${email} is not enrolled`);
    }
    const balance = await this.credits.change({
      email,
      amount: body.amount,
      key: `adjustment:${email}:${body.idempotency_key ?? randomUUID()}`,
      type: 'adjustment',
      reason: body.reason,
      actor: admin.email,
    });
    return { email, ...creditsView(await this.enrollment.isMember(email), balance) };
  }

  @Get('users/:email')
  async user(@Param() params: EmailParamDto) {
    const email = normalizeEmail(params.email);
    const account = await this.credits.account(email);
    if (account === undefined) {
      throw new DomainError(ErrorCode.NotFound, `${email} has no beta account`);
    }
    const [isMember, recent, sessions] = await Promise.all([
      this.enrollment.isMember(email),
      this.credits.transactions(email, 20),
      this.sessions.list({ email }, 20),
    ]);
    return {
      email,
      ...creditsView(isMember, await this.credits.balance(email)),
      recent_transactions: recent.entries.map(entryView),
      sessions: sessions.map(sessionView),
    };
  }

  @Get('sessions')
  async list(@Query() query: SessionsQueryDto) {
    return { sessions: (await this.sessions.list(query.status === undefined ? {} : { status: query.status }, 200)).map(sessionView) };
  }
}

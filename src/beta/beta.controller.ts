import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { AdminGuard, HttpAuthGuard } from '../auth/http-auth.guard.js';
import { ADMIN_ERRORS, USER_ERRORS } from '../auth/http-auth.openapi.js';
import type { AuthenticatedUser } from '../auth/token.service.js';
import { parseDateTime } from '../common/date-time.js';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { ApiErrors, BODY_TOO_LARGE, failsWith, invalidRequest } from '../common/openapi/error-responses.js';
import { AppConfig } from '../config/app-config.js';
import { EmailParamDto } from '../users/email.dto.js';
import { normalizeEmail } from '../users/email.js';
import {
  AcceptInvitationDto,
  AdjustCreditsDto,
  CreateInvitationDto,
  EnrollDto,
  GrantCreditsDto,
  InvitationsQueryDto,
  PreauthorizeDto,
  SessionsQueryDto,
  TransactionsQueryDto,
} from './beta.dto.js';
import {
  AccountCreditsView,
  BetaUserView,
  CreditGrantListView,
  CreditGrantView,
  CreditsView,
  EnrollmentView,
  InvitationListView,
  InvitationView,
  IssuedInvitationView,
  LedgerEntryView,
  MyCreditsView,
  PreauthorizationView,
  RevokedEnrollmentView,
  SessionListView,
  SessionView,
  TransactionsPageView,
} from './beta.views.js';
import { BetaCreditsService } from './credits/beta-credits.service.js';
import { creditsForSeconds } from './credits/credit-math.js';
import { BetaEnrollmentService } from './enrollment/beta-enrollment.service.js';
import { BetaInvitationsService } from './invitations/beta-invitations.service.js';
import { decodeLedgerCursor, encodeLedgerCursor } from './ledger-cursor.js';
import { BetaSessionsService } from './sessions/beta-sessions.service.js';

const CONTENTION = failsWith(ErrorCode.ServiceUnavailable, 'Too many concurrent changes of this account; try again');

@ApiTags('beta')
@ApiBearerAuth()
@ApiErrors(...USER_ERRORS)
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
  @ApiOperation({ summary: "The caller's beta credits" })
  @ApiOkResponse({ type: MyCreditsView, description: 'Zeros, no grants, for a caller who never had credits' })
  async myCredits(@CurrentUser() user: AuthenticatedUser): Promise<MyCreditsView> {
    const [isMember, balance, grants] = await Promise.all([
      this.enrollment.isMember(user.email),
      this.credits.balance(user.email),
      this.credits.grants(user.email),
    ]);
    return MyCreditsView.ofGrants(isMember, balance, grants);
  }

  @Get('credits/transactions')
  @ApiOperation({ summary: "A page of the caller's ledger, newest first" })
  @ApiOkResponse({ type: TransactionsPageView, description: 'Up to `limit` entries older than the cursor' })
  @ApiErrors(invalidRequest('A query parameter is invalid'))
  async myTransactions(@CurrentUser() user: AuthenticatedUser, @Query() query: TransactionsQueryDto): Promise<TransactionsPageView> {
    const before = query.cursor === undefined ? undefined : decodeLedgerCursor(query.cursor);
    const page = await this.credits.transactions(user.email, query.limit ?? 20, before);
    const last = page.entries[page.entries.length - 1];
    return {
      transactions: page.entries.map(LedgerEntryView.of),
      next_cursor: page.hasMore ? encodeLedgerCursor({ createdAt: last.created_at, key: last._id }) : null,
    };
  }

  @Post('preauthorize')
  @HttpCode(200)
  @ApiOperation({ summary: 'Whether the caller could start a session of the estimated length now (nothing is held)' })
  @ApiOkResponse({ type: PreauthorizationView, description: 'The estimate and whether it is covered' })
  @ApiErrors(invalidRequest('The body is invalid'), BODY_TOO_LARGE)
  async preauthorize(@CurrentUser() user: AuthenticatedUser, @Body() body: PreauthorizeDto): Promise<PreauthorizationView> {
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
  @ApiOperation({ summary: 'Enrol the caller with the code of a pending invitation for their email' })
  @ApiOkResponse({ type: EnrollmentView, description: 'The caller is enrolled' })
  @ApiErrors(
    invalidRequest('The body is invalid'),
    BODY_TOO_LARGE,
    failsWith(
      ErrorCode.InvitationInvalid,
      'No pending, unexpired invitation for the caller has this code (the same answer whatever the reason)',
    ),
    CONTENTION,
  )
  async acceptInvitation(@CurrentUser() user: AuthenticatedUser, @Body() body: AcceptInvitationDto): Promise<EnrollmentView> {
    return EnrollmentView.ofEnrollment(await this.invitations.accept(user, body.code));
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@ApiErrors(...ADMIN_ERRORS)
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
  @ApiOperation({ summary: "Invite an email; the email's pending invitation, if any, stops working" })
  @ApiCreatedResponse({ type: IssuedInvitationView, description: 'The invitation, with its code this once' })
  @ApiErrors(
    invalidRequest('The body is invalid'),
    BODY_TOO_LARGE,
    failsWith(ErrorCode.Conflict, 'Invitations for this email are being created concurrently; try again'),
  )
  async invite(@CurrentUser() admin: AuthenticatedUser, @Body() body: CreateInvitationDto): Promise<IssuedInvitationView> {
    return IssuedInvitationView.of(await this.invitations.create(body.email, admin.email));
  }

  @Get('invitations')
  @ApiOperation({ summary: 'Invitations, newest first, without their codes' })
  @ApiOkResponse({ type: InvitationListView, description: 'At most 200 invitations' })
  @ApiErrors(invalidRequest('A query parameter is invalid'))
  async listInvitations(@Query() query: InvitationsQueryDto): Promise<InvitationListView> {
    return { invitations: (await this.invitations.list(query.status)).map(InvitationView.of) };
  }

  @Post('enrollments')
  @ApiOperation({ summary: 'Enrol an email; a repeat returns the existing enrolment and grants nothing' })
  @ApiCreatedResponse({
    type: EnrollmentView,
    description: 'The enrolment, new or existing',
    links: {
      GetBetaUser: { operationId: 'AdminBetaController_user', parameters: { email: '$response.body#/email' } },
      AdjustCredits: { operationId: 'AdminBetaController_adjust', parameters: { email: '$response.body#/email' } },
      GrantCredits: { operationId: 'AdminBetaController_grant', parameters: { email: '$response.body#/email' } },
      ListGrants: { operationId: 'AdminBetaController_listGrants', parameters: { email: '$response.body#/email' } },
      RevokeEnrollment: { operationId: 'AdminBetaController_revoke', parameters: { email: '$response.body#/email' } },
    },
  })
  @ApiErrors(invalidRequest('The body is invalid'), BODY_TOO_LARGE, CONTENTION)
  async enroll(@CurrentUser() admin: AuthenticatedUser, @Body() body: EnrollDto): Promise<EnrollmentView> {
    return EnrollmentView.ofEnrollment(
      await this.enrollment.enroll({ email: body.email, credits: body.credits, via: 'admin', actor: admin.email }),
    );
  }

  @Delete('enrollments/:email')
  @ApiOperation({ summary: 'Revoke an enrolment; its active sessions end at the next checkpoint' })
  @ApiOkResponse({ type: RevokedEnrollmentView, description: 'The enrolment is revoked' })
  @ApiErrors(invalidRequest('The path does not name an email'), failsWith(ErrorCode.NotFound, 'The email is not enrolled'))
  async revoke(@Param() params: EmailParamDto): Promise<RevokedEnrollmentView> {
    if (!(await this.enrollment.revoke(params.email))) {
      throw new DomainError(ErrorCode.NotFound, `${normalizeEmail(params.email)} is not enrolled`);
    }
    return { email: normalizeEmail(params.email), is_beta_user: false };
  }

  @Post('users/:email/credits')
  @ApiOperation({ summary: 'Add or remove credits (a ledger adjustment), once per idempotency key' })
  @ApiCreatedResponse({
    type: AccountCreditsView,
    description: 'The balance after the adjustment (or after its first request, for a retry)',
    links: { GetBetaUser: { operationId: 'AdminBetaController_user', parameters: { email: '$response.body#/email' } } },
  })
  @ApiErrors(
    invalidRequest('The path or the body is invalid'),
    BODY_TOO_LARGE,
    failsWith(ErrorCode.NotFound, 'The email has no beta account'),
    failsWith(ErrorCode.Conflict, 'The idempotency key was used for another amount or reason; nothing changed'),
    failsWith(ErrorCode.InsufficientCredits, 'The removal would take the balance below 0; `available_credits` says how far it can go'),
    CONTENTION,
  )
  async adjust(
    @CurrentUser() admin: AuthenticatedUser,
    @Param() params: EmailParamDto,
    @Body() body: AdjustCreditsDto,
  ): Promise<AccountCreditsView> {
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
    return AccountCreditsView.ofAccount(email, await this.enrollment.isMember(email), balance);
  }

  @Post('users/:email/grants')
  @ApiOperation({
    summary: 'Grant credits to an enrolled user, once per idempotency key',
    description:
      'A grant adds credits spent in the order of its priority (lower first), then earliest expiry (none last), then age; ' +
      'what is left of it at its expiry is written off (docs/credits.md, "Grants"). A retry with the same key and body ' +
      'answers with the same grant and grants nothing again. Credits are removed with a negative adjustment ' +
      '(`POST /api/v1/admin/beta/users/{email}/credits`), not here.',
  })
  @ApiCreatedResponse({
    type: CreditGrantView,
    description: 'The grant as it stands (for a retry, the grant its first request made)',
    links: { ListGrants: { operationId: 'AdminBetaController_listGrants', parameters: { email: '$request.path.email' } } },
  })
  @ApiErrors(
    invalidRequest('The path or the body is invalid'),
    failsWith(ErrorCode.InvalidInput, '`expires_at` is not in the future'),
    BODY_TOO_LARGE,
    failsWith(ErrorCode.NotFound, 'The email is not enrolled'),
    failsWith(ErrorCode.Conflict, 'The idempotency key was used for another grant (amount, reason, priority or expiry); nothing changed'),
    CONTENTION,
  )
  async grant(
    @CurrentUser() admin: AuthenticatedUser,
    @Param() params: EmailParamDto,
    @Body() body: GrantCreditsDto,
  ): Promise<CreditGrantView> {
    const email = normalizeEmail(params.email);
    // The credits service grants to any email; only members of the programme get grants (their sessions spend them).
    if (!(await this.enrollment.isMember(email))) {
      throw new DomainError(ErrorCode.NotFound, `${email} is not enrolled`);
    }
    const grant = await this.credits.grant({
      email,
      amount: body.amount,
      // In a namespace of its own, as adjustments are: no key given here can name another kind of entry.
      key: `grant:${email}:${body.idempotency_key}`,
      reason: body.reason,
      priority: body.priority,
      // Validated as a date-time already; whether it is still in the future is the credits service's to say.
      expiresAt: body.expires_at === undefined ? undefined : new Date(parseDateTime(body.expires_at)!),
      actor: admin.email,
    });
    return CreditGrantView.of(grant);
  }

  @Get('users/:email/grants')
  @ApiOperation({ summary: "An account's grants, newest first, with what is left of each and its status" })
  @ApiOkResponse({ type: CreditGrantListView, description: 'Every grant, spent and expired ones included' })
  @ApiErrors(invalidRequest('The path does not name an email'), failsWith(ErrorCode.NotFound, 'The email has no beta account'))
  async listGrants(@Param() params: EmailParamDto): Promise<CreditGrantListView> {
    const email = normalizeEmail(params.email);
    // As `GET users/{email}`: an account whose enrolment was revoked still shows its history.
    if ((await this.credits.account(email)) === undefined) {
      throw new DomainError(ErrorCode.NotFound, `${email} has no beta account`);
    }
    return { grants: (await this.credits.grants(email)).map(CreditGrantView.of) };
  }

  @Get('users/:email')
  @ApiOperation({ summary: 'A beta account: balance, holds, grants, recent ledger entries and sessions' })
  @ApiOkResponse({ type: BetaUserView, description: 'The account' })
  @ApiErrors(invalidRequest('The path does not name an email'), failsWith(ErrorCode.NotFound, 'The email has no beta account'))
  async user(@Param() params: EmailParamDto): Promise<BetaUserView> {
    const email = normalizeEmail(params.email);
    const account = await this.credits.account(email);
    if (account === undefined) {
      throw new DomainError(ErrorCode.NotFound, `${email} has no beta account`);
    }
    const [isMember, recent, sessions, grants] = await Promise.all([
      this.enrollment.isMember(email),
      this.credits.transactions(email, 20),
      this.sessions.list({ email }, 20),
      this.credits.grants(email),
    ]);
    return {
      email,
      ...CreditsView.of(isMember, await this.credits.balance(email)),
      recent_transactions: recent.entries.map(LedgerEntryView.of),
      sessions: sessions.map(SessionView.of),
      grants: grants.map(CreditGrantView.of),
    };
  }

  @Get('sessions')
  @ApiOperation({ summary: 'The newest 200 sessions' })
  @ApiOkResponse({ type: SessionListView, description: 'Newest first' })
  @ApiErrors(invalidRequest('A query parameter is invalid'))
  async list(@Query() query: SessionsQueryDto): Promise<SessionListView> {
    return { sessions: (await this.sessions.list(query.status === undefined ? {} : { status: query.status }, 200)).map(SessionView.of) };
  }
}

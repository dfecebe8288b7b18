import { randomUUID } from 'node:crypto';
import { isEmail } from 'class-validator';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { BetaCreditsService } from '../beta/credits/beta-credits.service.js';
import { CreditReconcilerService } from '../beta/credits/credit-reconciler.service.js';
import { BetaEnrollmentService } from '../beta/enrollment/beta-enrollment.service.js';
import { BetaInvitationsService } from '../beta/invitations/beta-invitations.service.js';
import { BetaSessionsService } from '../beta/sessions/beta-sessions.service.js';
import { normalizeEmail } from '../users/email.js';
import { CliOutput } from './cli-output.js';

function parseWholeNumber(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value)) {
    throw new Error(`${flag} must be a whole number, got "${value}"`);
  }
  return Number(value);
}

@SubCommand({ name: 'invite', arguments: '<email>', description: 'Invite an email to Beta 500 and print the code (shown only once)' })
export class BetaInviteCommand extends CommandRunner {
  constructor(
    private readonly invitations: BetaInvitationsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[]): Promise<void> {
    if (!isEmail(email)) {
      throw new Error(`"${email}" is not an email address`);
    }
    const invitation = await this.invitations.create(email, 'cli');
    this.output.line(`invited ${invitation.email}: code ${invitation.code}, expires ${invitation.expires_at.toISOString()}`);
  }
}

@SubCommand({ name: 'enroll', arguments: '<email>', description: 'Enrol a user in Beta 500 (idempotent)' })
export class BetaEnrollCommand extends CommandRunner {
  constructor(
    private readonly enrollment: BetaEnrollmentService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[], options: { credits?: number }): Promise<void> {
    const result = await this.enrollment.enroll({ email, credits: options.credits, via: 'cli', actor: 'cli' });
    this.output.line(
      `${result.newlyEnrolled ? 'enrolled' : 'already enrolled'} ${result.email}: ${result.balance.remainingCredits} credits remaining`,
    );
  }

  @Option({ flags: '--credits <n>', description: 'Credits granted at enrolment (default BETA_INITIAL_CREDITS)' })
  parseCredits(value: string): number {
    return parseWholeNumber(value, '--credits');
  }
}

@SubCommand({ name: 'credits', arguments: '<email>', description: "Show a user's credits" })
export class BetaCreditsCommand extends CommandRunner {
  constructor(
    private readonly credits: BetaCreditsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[]): Promise<void> {
    const balance = await this.credits.balance(normalizeEmail(email));
    this.output.line(
      `${normalizeEmail(email)}: total ${balance.totalCredits}, remaining ${balance.remainingCredits}, held ${balance.heldCredits}, available ${balance.availableCredits}, active sessions ${balance.activeSessions}`,
    );
  }
}

@SubCommand({ name: 'grant', arguments: '<email> <amount>', description: 'Add (or with a negative amount, remove) credits' })
export class BetaGrantCommand extends CommandRunner {
  constructor(
    private readonly credits: BetaCreditsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email, amount]: string[], options: { reason: string }): Promise<void> {
    const normalized = normalizeEmail(email);
    const balance = await this.credits.change({
      email: normalized,
      amount: parseWholeNumber(amount, 'amount'),
      key: `adjustment:${normalized}:${randomUUID()}`,
      type: 'adjustment',
      reason: options.reason,
      actor: 'cli',
    });
    this.output.line(`${normalized}: ${balance.remainingCredits} credits remaining`);
  }

  @Option({ flags: '--reason <text>', description: 'Why (kept in the ledger)', required: true })
  parseReason(value: string): string {
    return value;
  }
}

@SubCommand({ name: 'sessions', description: 'List beta sessions' })
export class BetaSessionsCommand extends CommandRunner {
  constructor(
    private readonly sessions: BetaSessionsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run(_: string[], options: { active?: boolean }): Promise<void> {
    const sessions = await this.sessions.list(options.active === true ? { status: 'active' } : {}, 200);
    for (const s of sessions) {
      this.output.line(
        `${s._id} ${s.email} ${s.status}${s.end_reason ? `/${s.end_reason}` : ''} charged ${s.charged_credits} started ${s.started_at.toISOString()}`,
      );
    }
    this.output.line(`${sessions.length} session(s)`);
  }

  @Option({ flags: '--active', description: 'Only active sessions' })
  parseActive(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'reconcile',
  description: 'Check the balances changed since the last reconcile (every balance with --full) against the ledger and repair drift',
})
export class BetaReconcileCommand extends CommandRunner {
  constructor(
    private readonly reconciler: CreditReconcilerService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run(_params: string[], options: { full?: boolean }): Promise<void> {
    const report = await this.reconciler.reconcile({ repair: true, full: options.full === true });
    for (const drift of report.drifts) {
      this.output.line(`drift ${drift.email} ${drift.field}: expected ${drift.expected}, found ${drift.actual}`);
    }
    this.output.line(
      `${report.accounts} account(s) checked (${report.scope}), ${report.drifts.length} drift(s), ${report.repaired} repaired`,
    );
  }

  @Option({ flags: '--full', description: 'Check every account, not only those changed since the last reconcile' })
  parseFull(): boolean {
    return true;
  }
}

@Command({
  name: 'beta',
  description: 'Beta 500 programme',
  subCommands: [BetaInviteCommand, BetaEnrollCommand, BetaCreditsCommand, BetaGrantCommand, BetaSessionsCommand, BetaReconcileCommand],
})
export class BetaCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}

import { randomUUID } from 'node:crypto';
import { isEmail } from 'class-validator';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { BetaCreditsService, type GrantView } from '../beta/credits/beta-credits.service.js';
import { CreditReconcilerService } from '../beta/credits/credit-reconciler.service.js';
import { BetaEnrollmentService } from '../beta/enrollment/beta-enrollment.service.js';
import { BetaInvitationsService } from '../beta/invitations/beta-invitations.service.js';
import { BetaSessionsService } from '../beta/sessions/beta-sessions.service.js';
import { Clock } from '../common/clock.js';
import { parseDateTime } from '../common/date-time.js';
import { parseDurationSeconds } from '../common/duration.js';
import { normalizeEmail } from '../users/email.js';
import { CliOutput } from './cli-output.js';

function parseWholeNumber(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value)) {
    throw new Error(`${flag} must be a whole number, got "${value}"`);
  }
  return Number(value);
}

/** `--expires`: a duration from now (`30d`, `12h`, `90m`, `45s`) or an RFC 3339 date-time; epoch ms. */
function parseExpiry(value: string, now: number): number {
  const instant = parseDateTime(value);
  if (instant !== undefined) {
    return instant;
  }
  try {
    return now + parseDurationSeconds(value) * 1000;
  } catch {
    throw new Error(`--expires must be a duration such as 30d, 12h or 90m, or a date-time such as 2030-01-15T10:00:00Z; got "${value}"`);
  }
}

function expiryText(grant: Pick<GrantView, 'expiresAt'>): string {
  return grant.expiresAt === undefined ? 'never' : new Date(grant.expiresAt).toISOString();
}

/** The idempotency key an operator gives (or is given) is the same one the REST endpoint takes: 8 to 100 characters. */
function checkKey(key: string): string {
  if ([...key].length < 8 || [...key].length > 100) {
    throw new Error(`--key must be 8 to 100 characters, got "${key}"`);
  }
  return key;
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
    const [balance, grants] = await Promise.all([this.credits.balance(normalizeEmail(email)), this.credits.grants(normalizeEmail(email))]);
    this.output.line(
      `${normalizeEmail(email)}: total ${balance.totalCredits}, remaining ${balance.remainingCredits}, held ${balance.heldCredits}, available ${balance.availableCredits}, active sessions ${balance.activeSessions}`,
    );
    // Only when some credits expire: the earliest expiry among the grants with credits left.
    const expiring = grants.filter((grant) => grant.status === 'active' && grant.expiresAt !== undefined);
    const next = Math.min(...expiring.map((grant) => grant.expiresAt!));
    if (expiring.length > 0) {
      const credits = expiring.filter((grant) => grant.expiresAt === next).reduce((sum, grant) => sum + grant.remaining, 0);
      this.output.line(`next expiry ${new Date(next).toISOString()}: ${credits} credits`);
    }
  }
}

@SubCommand({
  name: 'adjust',
  arguments: '<email> <amount>',
  description: 'Add, or with a negative amount (after --), remove credits: a ledger adjustment',
})
export class BetaAdjustCommand extends CommandRunner {
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

@SubCommand({
  name: 'grant',
  arguments: '<email> <amount>',
  description: 'Grant credits to an enrolled user, once per --key (printed when made up); remove credits with beta adjust',
  // A negative amount would otherwise stop at commander as an unknown option; run() refuses it, pointing at `adjust`.
  allowUnknownOptions: true,
})
export class BetaGrantCommand extends CommandRunner {
  constructor(
    private readonly credits: BetaCreditsService,
    private readonly enrollment: BetaEnrollmentService,
    private readonly clock: Clock,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run(params: string[], options: { reason: string; expires?: string; priority?: number; key?: string }): Promise<void> {
    const [email, amount, ...extra] = params;
    if (amount !== undefined && /^-\d+$/.test(amount)) {
      throw new Error(`a grant only adds credits; to remove ${amount.slice(1)}, use: beta adjust ${email} --reason R -- ${amount}`);
    }
    if (extra.length > 0) {
      throw new Error(`unexpected ${extra.join(' ')} (options: --reason, --expires, --priority, --key)`);
    }
    const credits = parseWholeNumber(amount, 'amount');
    if (credits < 1) {
      throw new Error(`amount must be at least 1: a grant only adds credits (to remove credits, use beta adjust)`);
    }
    const normalized = normalizeEmail(email);
    // As the REST endpoint: grants go to members of the programme only.
    if (!(await this.enrollment.isMember(normalized))) {
      throw new Error(`${normalized} is not enrolled (beta enroll ${normalized} first)`);
    }
    const key = options.key ?? randomUUID();
    const grant = await this.credits.grant({
      email: normalized,
      amount: credits,
      // The REST endpoint's namespace: a key works the same from either, and names the same grant.
      key: `grant:${normalized}:${key}`,
      reason: options.reason,
      priority: options.priority,
      expiresAt: options.expires === undefined ? undefined : new Date(parseExpiry(options.expires, this.clock.now())),
      actor: 'cli',
    });
    this.output.line(
      `${normalized}: grant of ${grant.amount} credits, priority ${grant.priority}, expires ${expiryText(grant)}, ${grant.remaining} remaining (${grant.status})`,
    );
    this.output.line(`key ${key}: repeat with --key ${key} to retry without granting twice`);
  }

  @Option({ flags: '--reason <text>', description: 'Why (kept in the ledger)', required: true })
  parseReason(value: string): string {
    return value;
  }

  @Option({ flags: '--expires <when>', description: 'When what is left expires: a duration (30d, 12h, 90m) or a date-time; default never' })
  parseExpires(value: string): string {
    return value;
  }

  @Option({ flags: '--priority <n>', description: 'Lower is spent first, 0 to 100 (default 10, as the enrolment grant)' })
  parsePriority(value: string): number {
    return parseWholeNumber(value, '--priority');
  }

  @Option({ flags: '--key <key>', description: 'Idempotency key (8 to 100 characters); default: a new one, printed' })
  parseKey(value: string): string {
    return checkKey(value);
  }
}

@SubCommand({ name: 'grants', arguments: '<email>', description: "List a user's grants, newest first, with what is left of each" })
export class BetaGrantsCommand extends CommandRunner {
  constructor(
    private readonly credits: BetaCreditsService,
    private readonly output: CliOutput,
  ) {
    super();
  }

  async run([email]: string[]): Promise<void> {
    const grants = await this.credits.grants(normalizeEmail(email));
    for (const grant of grants) {
      this.output.line(
        `${grant.id} ${grant.status} ${grant.remaining}/${grant.amount} priority ${grant.priority} expires ${expiryText(grant)}`,
      );
    }
    this.output.line(`${grants.length} grant(s)`);
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
  subCommands: [
    BetaInviteCommand,
    BetaEnrollCommand,
    BetaCreditsCommand,
    BetaGrantCommand,
    BetaGrantsCommand,
    BetaAdjustCommand,
    BetaSessionsCommand,
    BetaReconcileCommand,
  ],
})
export class BetaCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}

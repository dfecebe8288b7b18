import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AppConfig } from '../../config/app-config.js';
import { normalizeEmail } from '../../users/email.js';
import { BetaCreditsService, type CreditBalance } from '../credits/beta-credits.service.js';
import { BetaUsersRepository } from './beta-users.repository.js';

export interface EnrollmentResult {
  email: string;
  newlyEnrolled: boolean;
  balance: CreditBalance;
}

/**
 * Programme membership. Enrolment grants the initial credits once per email, however often it is repeated
 * and whatever credits a repeat asks for (it returns the existing enrolment).
 */
@Injectable()
export class BetaEnrollmentService {
  constructor(
    private readonly users: BetaUsersRepository,
    private readonly credits: BetaCreditsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async enroll(input: { email: string; credits?: number; via: string; actor?: string }): Promise<EnrollmentResult> {
    const email = normalizeEmail(input.email);
    const credits = input.credits ?? this.config.beta.initialCredits;
    // Checked before the membership is written: a member must always get an account with its grant.
    if (!Number.isSafeInteger(credits) || credits < 1) {
      throw new DomainError(ErrorCode.InvalidInput, 'credits must be a whole number of at least 1');
    }
    const { wasMember } = await this.users.enroll(email, input.via, this.clock.date());
    const expireDays = this.config.beta.creditsExpireDays;
    const balance = await this.credits.change({
      email,
      amount: credits,
      key: `enrollment:${email}`,
      type: 'grant',
      expiresAt: expireDays === undefined ? undefined : new Date(this.clock.now() + expireDays * 86_400_000),
      reason: `enrolment (${input.via})`,
      actor: input.actor,
      keyReuse: 'first-request',
    });
    return { email, newlyEnrolled: !wasMember, balance };
  }

  async revoke(email: string): Promise<boolean> {
    return this.users.revoke(normalizeEmail(email), this.clock.date());
  }

  async isMember(email: string): Promise<boolean> {
    return (await this.users.find(normalizeEmail(email)))?.is_beta_user === true;
  }
}

import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { BetaAccountsRepository } from './beta-accounts.repository.js';
import { BetaCreditsService } from './beta-credits.service.js';

/**
 * Writes off the grants whose expiry has come (docs/credits.md, "Expiry"). Run by the holder of the cluster-wide jobs
 * lease at each checkpoint tick; safe to run anywhere, any number of times: each grant's write-off has a key of its own.
 */
@Injectable()
export class GrantExpiryService {
  private readonly logger = new Logger(GrantExpiryService.name);

  constructor(
    private readonly accounts: BetaAccountsRepository,
    private readonly credits: BetaCreditsService,
    private readonly clock: Clock,
  ) {}

  /** One indexed read for the accounts with a grant due, then each account on its own. Returns the credits written off. */
  async run(): Promise<number> {
    let expired = 0;
    for (const email of await this.accounts.findExpiryDue(this.clock.now())) {
      try {
        expired += await this.credits.expireGrants(email);
      } catch (error) {
        this.logger.error({ email, err: error }, 'Grant expiry failed; the next run retries');
      }
    }
    return expired;
  }
}

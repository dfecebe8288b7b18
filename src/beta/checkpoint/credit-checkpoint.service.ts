import { Injectable, Logger } from '@nestjs/common';
import { BetaAccountsRepository } from '../credits/beta-accounts.repository.js';
import { BetaCreditsService } from '../credits/beta-credits.service.js';
import { secondsCoveredBy } from '../credits/credit-math.js';
import { BetaUsersRepository } from '../enrollment/beta-users.repository.js';
import { BetaSessionsRepository, type SessionProgress } from '../sessions/beta-sessions.repository.js';
import { BetaSessionsService } from '../sessions/beta-sessions.service.js';
import { InstanceIdentity } from '../../common/instance-identity.js';

export interface CheckpointReport {
  activeSessions: number;
  checkpointed: number;
  ended: number;
}

/**
 * One checkpoint tick: charge every active session this instance serves (bulk writes) and end those whose
 * user left the programme. A session this instance no longer serves (its end is being re-driven) is not charged:
 * its end settles it. Sessions of instances that died are the lost-session sweep's (docs/credits.md).
 */
@Injectable()
export class CreditCheckpointService {
  private readonly logger = new Logger(CreditCheckpointService.name);

  constructor(
    private readonly credits: BetaCreditsService,
    private readonly accounts: BetaAccountsRepository,
    private readonly sessions: BetaSessionsRepository,
    private readonly betaSessions: BetaSessionsService,
    private readonly betaUsers: BetaUsersRepository,
    private readonly instance: InstanceIdentity,
  ) {}

  async tick(): Promise<CheckpointReport> {
    // Never past the instant this instance surely still holds its sessions (docs/credits.md).
    const { proven, until, epochs } = await this.betaSessions.chargeableUntil();
    const active = await this.sessions.findActive();
    const owned = active.filter((session) => session.instance_id === this.instance.id && this.betaSessions.isWatched(session._id));
    // Accounts are read after the sessions: a session is inserted only once its hold is on the account, so every one seen is there.
    const [revoked, withSessions] = await Promise.all([
      this.betaUsers.findRevoked([...new Set(owned.map((session) => session.email))]),
      this.accounts.findWithActiveSessions(),
    ]);
    let ended = 0;
    for (const session of owned.filter((s) => revoked.has(s.email))) {
      await this.betaSessions.end(session._id, 'beta_revoked', proven);
      ended++;
    }
    const running = owned.filter((session) => !revoked.has(session.email));
    const sessionsByEmail = new Map<string, string[]>();
    for (const session of running) {
      const ids = sessionsByEmail.get(session.email);
      if (ids === undefined) {
        sessionsByEmail.set(session.email, [session._id]);
      } else {
        ids.push(session._id);
      }
    }
    const accounts = withSessions.filter((account) => sessionsByEmail.has(account._id));
    const settlements = await this.credits.settleMany(accounts, sessionsByEmail, until, epochs);

    // An account also holds sessions other instances serve: only this instance's progress is written here.
    const progress: SessionProgress[] = [];
    const stillHeld = new Set<string>();
    for (const settlement of settlements) {
      for (const sessionId of sessionsByEmail.get(settlement.email) ?? []) {
        const state = settlement.account.sessions[sessionId];
        if (state !== undefined) {
          stillHeld.add(sessionId);
          progress.push({ sessionId, chargedCredits: state.charged, chargedSeconds: secondsCoveredBy(state.charged, state.rate) });
        }
      }
    }
    await this.sessions.recordProgress(progress);
    for (const settlement of settlements) {
      await this.betaSessions.afterSettlement(settlement, { notify: true });
    }
    // A session the account no longer holds was settled for the last time by an end that did not finish.
    for (const orphan of running.filter((session) => !stillHeld.has(session._id))) {
      await this.betaSessions.end(orphan._id, 'error', proven);
      ended++;
    }
    const report = { activeSessions: owned.length, checkpointed: progress.length, ended };
    this.logger.log(
      { instance_id: this.instance.id, active_sessions_count: report.activeSessions, checkpointed: report.checkpointed, ended },
      'Beta checkpoint',
    );
    return report;
  }
}

import { Injectable } from '@nestjs/common';
import type { AuthenticatedUser } from '../auth/token.service.js';
import type { AccountState } from '../beta/credits/beta-accounts.repository.js';
import { BetaCreditsService } from '../beta/credits/beta-credits.service.js';
import { BetaEnrollmentService } from '../beta/enrollment/beta-enrollment.service.js';
import type { ChannelRecord } from '../channels/channels.repository.js';
import { ChannelsService } from '../channels/channels.service.js';
import { AppConfig } from '../config/app-config.js';
import { QuotaService, type QuotaCheck } from '../quota/quota.service.js';
import type { ConnectionOpensRecord } from './connection-opens.repository.js';
import { ConnectionRateLimiter } from './connection-rate-limiter.js';
import type { LiveSession } from './live-session.js';
import { hasLiveAccess } from './live-sessions.service.js';
import { SessionSlots, type SlotsRead } from './session-slots.js';

/**
 * The reads an opening's later steps need, started together as soon as the user is known (step 3 of
 * docs/protocol.md, "Opening a session"), so the client waits for one of them rather than for each in turn. Each
 * step still awaits its own read in its turn: a refusal by an earlier step wins, and a read whose step is never
 * reached is dropped (its failure too). Nothing here writes. The rate limit and the slots read the documents their
 * compare-and-set is conditioned on: when another opening wrote one meanwhile, the write is refused and that step
 * reads again, as it would have anyway.
 */
export interface OpeningReads {
  opens: Promise<ConnectionOpensRecord | undefined>;
  /** The later reads, for a user whose tier lets it open (step 5); none for a user step 5 refuses. */
  slots?: Promise<SlotsRead>;
  channel?: Promise<ChannelRecord | undefined>;
  beta?: Promise<boolean>;
  /** A member's credit account, read for the hold's compare-and-set (docs/credits.md, "Holds and pre-authorization"). */
  account?: Promise<AccountState | undefined>;
  quota?: Promise<QuotaCheck>;
}

@Injectable()
export class OpeningReadsService {
  constructor(
    private readonly limiter: ConnectionRateLimiter,
    private readonly slots: SessionSlots,
    private readonly channels: ChannelsService,
    private readonly enrollment: BetaEnrollmentService,
    private readonly credits: BetaCreditsService,
    private readonly quota: QuotaService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Starts the reads of a new session's opening (a resume reads none of these, and an opening the client left or
   * that was refused meanwhile none either: its steps, should they run, read for themselves).
   */
  start(session: LiveSession, user: AuthenticatedUser): void {
    if (session.resuming || session.phase !== 'opening') {
      return;
    }
    const reads: OpeningReads = { opens: early(this.limiter.read(user.id)) };
    if (hasLiveAccess(user)) {
      reads.slots = early(this.slots.read(user.id));
      reads.channel = early(this.channels.findForOpening(session.auth!.channel_id));
      reads.beta = this.config.beta.enabled ? early(this.enrollment.isMember(user.email)) : Promise.resolve(false);
      reads.account = early(reads.beta.then((member) => (member ? this.credits.account(user.email) : undefined)));
      reads.quota = early(this.quota.check({ id: user.id, tier: user.tier }, session.feature.name));
    }
    session.reads = reads;
  }
}

/** The read itself, awaited by its step; a failure nobody awaits (an earlier step refused) is dropped here. */
function early<T>(read: Promise<T>): Promise<T> {
  read.catch(() => undefined);
  return read;
}

import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { DomainError } from '../common/errors/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { ErrorCode } from './live-dubbing.protocol.js';
import { LiveSessionSweeper } from './live-session-sweeper.js';
import { LiveSessionsRepository, type LiveSessionRecord } from './live-sessions.repository.js';
import { UserSlotsRepository, type UserSlot, type UserSlotsRecord } from './user-slots.repository.js';

const MAX_ATTEMPTS = 50;

/** A user's slots document and the record of each session listed in it (undefined: none written), as read. */
export interface SlotsRead {
  current?: UserSlotsRecord;
  records: (LiveSessionRecord | undefined)[];
}

/** What a slot's session is to the next opening: it counts toward the cap, it is kept without counting, or dropped. */
interface Occupant {
  slot: UserSlot;
  record?: LiveSessionRecord;
  counts: boolean;
  kept: boolean;
}

/**
 * At most LIVE_MAX_SESSIONS_PREMIUM / _FAMILY sessions, live or suspended, per user across instances and both
 * gateways (docs/protocol.md, "Sessions per user"). Counting the records and then inserting one would let
 * two openings both see room, so the sessions that occupy a user's slots live in one document per user, changed
 * only by compare-and-set on its version: an opening adds its session only to the slots it counted.
 */
@Injectable()
export class SessionSlots {
  private readonly logger = new Logger(SessionSlots.name);

  constructor(
    private readonly slots: UserSlotsRepository,
    private readonly records: LiveSessionsRepository,
    private readonly sweeper: LiveSessionSweeper,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * Takes a slot for a new session before its record is written. Over the cap, the user's oldest suspended session
   * is ended as if its resume window had closed, and the opening goes on; with none suspended it is refused with
   * `too_many_sessions`. `earlier`, a `read` started before, saves the first attempt's reads: the compare-and-set
   * on the document's version refuses them if the slots changed since, and the next attempt reads again.
   */
  async take(user: { id: string; tier: string }, sessionId: string, earlier?: Promise<SlotsRead>): Promise<void> {
    const max = user.tier === 'family' ? this.config.ws.maxSessions.family : this.config.ws.maxSessions.premium;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { current, records } = attempt === 0 && earlier !== undefined ? await earlier : await this.read(user.id);
      const now = this.clock.now();
      const occupants = this.occupants(current?.slots ?? [], records, now);
      const counted = occupants.filter((occupant) => occupant.counts);
      if (counted.length >= max) {
        const oldestSuspended = counted
          .map((occupant) => occupant.record)
          .filter((record) => record?.status === 'suspended')
          .sort((a, b) => a!.lostAtMs! - b!.lostAtMs!)[0];
        if (oldestSuspended === undefined) {
          throw new DomainError(ErrorCode.TooManySessions, `At most ${max} live sessions at once`, { max_sessions: max });
        }
        // Ended or resumed meanwhile, either way its record has changed: the slots are read again.
        await this.sweeper.endSuspended(oldestSuspended);
        continue;
      }
      const slots = [...occupants.filter((occupant) => occupant.kept).map((occupant) => occupant.slot), { sessionId, takenAtMs: now }];
      const taken = current === undefined ? await this.slots.insert(user.id, slots) : await this.slots.replace(current, slots);
      if (taken) {
        return;
      }
    }
    throw new Error('Session slots: too much contention');
  }

  /** The user's slots document, then the record of each session listed in it. */
  async read(userId: string): Promise<SlotsRead> {
    const current = await this.slots.find(userId);
    const records = await Promise.all((current?.slots ?? []).map((slot) => this.records.find(slot.sessionId)));
    return { current, records };
  }

  /**
   * The session no longer occupies a slot (it ended, or its opening was refused). Best effort: a slot left behind
   * by a failed write or a crash is dropped by the user's next opening, which finds its record ended, or none
   * written in time (docs/protocol.md, "Sessions per user").
   */
  async leave(userId: string, sessionId: string): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const current = await this.slots.find(userId);
        if (current === undefined || !current.slots.some((slot) => slot.sessionId === sessionId)) {
          return;
        }
        if (
          await this.slots.replace(
            current,
            current.slots.filter((slot) => slot.sessionId !== sessionId),
          )
        ) {
          return;
        }
      }
    } catch (error) {
      this.logger.warn({ err: error, session_id: sessionId }, 'Could not free the session slot; the next opening drops it');
    }
  }

  /**
   * What each slot's session is, from its record. A live session counts while its owner heartbeats (a dead instance's
   * sessions do not lock the user out, but stay in the slots in case it comes back); a suspended one counts until
   * its resume window closes; an opening whose record is not written yet counts as long as a live one would. Ended
   * and ending sessions, and those that can no longer come back, are dropped.
   */
  private occupants(slots: UserSlot[], records: (LiveSessionRecord | undefined)[], now: number): Occupant[] {
    const staleBefore = now - 2 * this.config.ws.heartbeatMs;
    return slots.map((slot, i) => {
      const record = records[i];
      if (record === undefined) {
        const fresh = slot.takenAtMs >= staleBefore;
        return { slot, counts: fresh, kept: fresh };
      }
      switch (record.status) {
        case 'live':
          return { slot, record, counts: record.heartbeatAtMs >= staleBefore, kept: true };
        case 'suspended': {
          const resumable = record.resumeUntilMs! >= now;
          return { slot, record, counts: resumable, kept: resumable };
        }
        default:
          return { slot, record, counts: false, kept: false };
      }
    });
  }
}

import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { ConnectionOpensRepository, type ConnectionOpensRecord } from './connection-opens.repository.js';

const WINDOW_MS = 60_000;
const MAX_ATTEMPTS = 50;

/**
 * At most WS_CONNECTIONS_PER_MINUTE session opens per user in any rolling minute, across instances:
 * the opens live in one record per user, changed by compare-and-set on its version.
 */
@Injectable()
export class ConnectionRateLimiter {
  constructor(
    private readonly opens: ConnectionOpensRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** The user's recent opens, as the first attempt of `tryOpen` starts from. */
  read(userId: string): Promise<ConnectionOpensRecord | undefined> {
    return this.opens.find(userId);
  }

  /**
   * Records an open and returns true, or returns false when the user is over the limit. `earlier`, a `read` started
   * before, saves the first read: the compare-and-set on its version refuses it if another open was recorded since,
   * and the next attempt reads again.
   */
  async tryOpen(userId: string, earlier?: Promise<ConnectionOpensRecord | undefined>): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = attempt === 0 && earlier !== undefined ? await earlier : await this.opens.find(userId);
      const now = this.clock.now();
      const recent = (current?.openedAtMs ?? []).filter((at) => at > now - WINDOW_MS);
      if (recent.length >= this.config.ws.connectionsPerMinute) {
        return false;
      }
      const recorded = current === undefined ? await this.opens.insert(userId, [now]) : await this.opens.replace(current, [...recent, now]);
      if (recorded) {
        return true;
      }
    }
    throw new Error('Connection rate limit: too much contention');
  }
}

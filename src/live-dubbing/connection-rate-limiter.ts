import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { ConnectionOpensRepository } from './connection-opens.repository.js';

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

  /** Records an open and returns true, or returns false when the user is over the limit. */
  async tryOpen(userId: string): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const current = await this.opens.find(userId);
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

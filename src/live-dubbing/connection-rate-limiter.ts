import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import { ConnectionOpens } from './connection-open.schema.js';

const WINDOW_MS = 60_000;
const MAX_ATTEMPTS = 50;

/**
 * At most WS_CONNECTIONS_PER_MINUTE session opens per user in any rolling minute, across instances:
 * the opens live in one document per user, changed by compare-and-set on its version.
 */
@Injectable()
export class ConnectionRateLimiter implements OnModuleInit {
  constructor(
    @InjectModel(ConnectionOpens.name) private readonly opens: Model<ConnectionOpens>,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.opens.init();
  }

  /** Records an open and returns true, or returns false when the user is over the limit. */
  async tryOpen(userId: string): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const current = await this.opens.findById(userId).lean<ConnectionOpens>().exec();
      const recent = (current?.opened_at ?? []).filter((at) => at > now - WINDOW_MS);
      if (recent.length >= this.config.ws.connectionsPerMinute) {
        return false;
      }
      if (current === null) {
        try {
          await this.opens.create({ _id: userId, version: 0, opened_at: [now] });
          return true;
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
          continue;
        }
      }
      const result = await this.opens
        .updateOne({ _id: userId, version: current.version }, { $set: { opened_at: [...recent, now] }, $inc: { version: 1 } })
        .exec();
      if (result.modifiedCount === 1) {
        return true;
      }
    }
    throw new Error('Connection rate limit: too much contention');
  }
}

import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { ChannelsRepository, type ChannelRecord } from './channels.repository.js';

/**
 * How long an opening may go on a channel record read by an earlier opening (docs/protocol.md, "Opening a session",
 * step 6): a channel taken off the air or out of dubbing on another instance (or by the CLI) may still be opened on
 * for this long. Only channels found live and dubbing are kept; any other answer is read again at each opening.
 */
export const CHANNEL_CACHE_MS = 5_000;

@Injectable()
export class ChannelsService {
  /** Channels a session could be opened on when read, and reads in flight, with when each read began. */
  private readonly recent = new Map<string, { readAt: number; channel: Promise<ChannelRecord | undefined> }>();

  constructor(
    private readonly channels: ChannelsRepository,
    private readonly clock: Clock,
  ) {}

  async save(channel: ChannelRecord): Promise<{ created: boolean }> {
    const saved = await this.channels.upsert(channel);
    this.recent.delete(channel.id);
    return saved;
  }

  findById(id: string): Promise<ChannelRecord | undefined> {
    return this.channels.findById(id);
  }

  /**
   * The channel as an opening checks it: read at most CHANNEL_CACHE_MS ago when it was then live and dubbing,
   * otherwise read now. Openings that ask at once share one read.
   */
  findForOpening(id: string): Promise<ChannelRecord | undefined> {
    const now = this.clock.now();
    const recent = this.recent.get(id);
    if (recent !== undefined && now - recent.readAt < CHANNEL_CACHE_MS) {
      return recent.channel;
    }
    const entry = { readAt: now, channel: this.channels.findById(id) };
    this.recent.set(id, entry);
    const forget = () => {
      if (this.recent.get(id) === entry) {
        this.recent.delete(id);
      }
    };
    entry.channel.then((channel) => (channel?.isLive === true && channel.supportsDubbing ? undefined : forget()), forget);
    return entry.channel;
  }

  /** Up to `limit` channels a live session can be opened on, by id, after `afterId`; `hasMore` when more follow. */
  async openable(limit: number, afterId?: string): Promise<{ channels: ChannelRecord[]; hasMore: boolean }> {
    const channels = await this.channels.findOpenable(limit + 1, afterId);
    return { channels: channels.slice(0, limit), hasMore: channels.length > limit };
  }
}

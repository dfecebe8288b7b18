import { Injectable } from '@nestjs/common';
import { ChannelsRepository, type ChannelRecord } from './channels.repository.js';

@Injectable()
export class ChannelsService {
  constructor(private readonly channels: ChannelsRepository) {}

  save(channel: ChannelRecord): Promise<{ created: boolean }> {
    return this.channels.upsert(channel);
  }

  findById(id: string): Promise<ChannelRecord | undefined> {
    return this.channels.findById(id);
  }

  /** Up to `limit` channels a live session can be opened on, by id, after `afterId`; `hasMore` when more follow. */
  async openable(limit: number, afterId?: string): Promise<{ channels: ChannelRecord[]; hasMore: boolean }> {
    const channels = await this.channels.findOpenable(limit + 1, afterId);
    return { channels: channels.slice(0, limit), hasMore: channels.length > limit };
  }
}

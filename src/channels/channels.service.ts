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
}

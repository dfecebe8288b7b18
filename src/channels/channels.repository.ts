import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { Channel } from './channel.schema.js';

export interface ChannelRecord {
  id: string;
  name: string;
  isLive: boolean;
  supportsDubbing: boolean;
  sourceLanguage: string;
  dubbingLanguages: string[];
}

@Injectable()
export class ChannelsRepository {
  constructor(@InjectModel(Channel.name) private readonly channels: Model<Channel>) {}

  /** Creates the channel or replaces its settings; returns whether it was new. */
  async upsert(channel: ChannelRecord): Promise<{ created: boolean }> {
    const result = await this.channels
      .updateOne(
        { _id: channel.id },
        {
          $set: {
            name: channel.name,
            is_live: channel.isLive,
            supports_dubbing: channel.supportsDubbing,
            source_language: channel.sourceLanguage,
            dubbing_languages: channel.dubbingLanguages,
          },
        },
        { upsert: true },
      )
      .exec();
    return { created: result.upsertedCount > 0 };
  }

  async findById(id: string): Promise<ChannelRecord | undefined> {
    const found = await this.channels.findById(id).lean<Channel>().exec();
    if (found === null) {
      return undefined;
    }
    return {
      id: found._id,
      name: found.name,
      isLive: found.is_live,
      supportsDubbing: found.supports_dubbing,
      sourceLanguage: found.source_language,
      dubbingLanguages: found.dubbing_languages,
    };
  }
}

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
    return found === null ? undefined : recordOf(found);
  }

  /**
   * The channels a live session can be opened on (step 6 of the opening, docs/protocol.md: live, supports dubbing, and
   * offers a language), by id, from after `afterId`. No unique index has this filter's keys, so the embedded server
   * scans the collection: channels are few, each created by an operator.
   */
  async findOpenable(limit: number, afterId?: string): Promise<ChannelRecord[]> {
    const found = await this.channels
      .find({
        is_live: true,
        supports_dubbing: true,
        'dubbing_languages.0': { $exists: true },
        ...(afterId === undefined ? {} : { _id: { $gt: afterId } }),
      })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<Channel[]>()
      .exec();
    return found.map(recordOf);
  }
}

function recordOf(channel: Channel): ChannelRecord {
  return {
    id: channel._id,
    name: channel.name,
    isLive: channel.is_live,
    supportsDubbing: channel.supports_dubbing,
    sourceLanguage: channel.source_language,
    dubbingLanguages: channel.dubbing_languages,
  };
}

import { ApiProperty } from '@nestjs/swagger';
import { IntegerField, TextField } from '../common/openapi/fields.js';
import { CHANNEL_CURSOR_MAX_LENGTH, CHANNEL_CURSOR_PATTERN } from './channel-cursor.js';
import type { ChannelRecord } from './channels.repository.js';

export class ChannelsQueryDto {
  @IntegerField({ required: false, inQuery: true, minimum: 1, maximum: 100, default: 50 })
  limit?: number;

  @TextField({
    required: false,
    minLength: 1,
    maxLength: CHANNEL_CURSOR_MAX_LENGTH,
    pattern: CHANNEL_CURSOR_PATTERN,
    description: 'The next_cursor of the previous page',
  })
  cursor?: string;
}

export class ChannelView {
  @ApiProperty({ description: 'The `channel_id` of a live session', example: 'news-il' }) id!: string;
  @ApiProperty({ example: 'News IL' }) name!: string;
  @ApiProperty({ description: 'The language of the channel audio', example: 'he' }) source_language!: string;
  @ApiProperty({
    type: [String],
    minItems: 1,
    description: 'The `target_lang` values a live session on this channel accepts',
    example: ['en', 'es'],
  })
  dubbing_languages!: string[];

  static of(channel: ChannelRecord): ChannelView {
    return {
      id: channel.id,
      name: channel.name,
      source_language: channel.sourceLanguage,
      dubbing_languages: channel.dubbingLanguages,
    };
  }
}

export class ChannelsPageView {
  @ApiProperty({ type: [ChannelView] }) channels!: ChannelView[];
  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  next_cursor!: string | null;
}

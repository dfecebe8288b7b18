import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HttpAuthGuard } from '../auth/http-auth.guard.js';
import { USER_ERRORS } from '../auth/http-auth.openapi.js';
import { ApiErrors, invalidRequest } from '../common/openapi/error-responses.js';
import { decodeChannelCursor, encodeChannelCursor } from './channel-cursor.js';
import { ChannelsPageView, ChannelsQueryDto, ChannelView } from './channels.dto.js';
import { ChannelsService } from './channels.service.js';

@ApiTags('channels')
@ApiBearerAuth()
@ApiErrors(...USER_ERRORS)
@UseGuards(HttpAuthGuard)
@Controller('channels')
export class ChannelsController {
  constructor(private readonly channels: ChannelsService) {}

  /** Both live gateways open a session on the same channels (docs/protocol.md, step 6), so one list serves both. */
  @Get()
  @ApiOperation({
    summary: 'A page of the channels a live session (dubbing or subtitles) can be opened on, by id',
    description:
      'Live channels that support dubbing, each with the target languages it offers; a channel that is offline, does ' +
      'not support dubbing or offers no language is refused at the opening and is not listed.',
  })
  @ApiOkResponse({ type: ChannelsPageView, description: 'Up to `limit` channels after the cursor' })
  @ApiErrors(invalidRequest('A query parameter is invalid'))
  async list(@Query() query: ChannelsQueryDto): Promise<ChannelsPageView> {
    const page = await this.channels.openable(
      query.limit ?? 50,
      query.cursor === undefined ? undefined : decodeChannelCursor(query.cursor),
    );
    const last = page.channels[page.channels.length - 1];
    return {
      channels: page.channels.map(ChannelView.of),
      next_cursor: page.hasMore ? encodeChannelCursor(last.id) : null,
    };
  }
}

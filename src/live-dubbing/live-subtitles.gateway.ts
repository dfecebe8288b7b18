import { WebSocketGateway } from '@nestjs/websockets';
import { LIVE_SUBTITLES } from './live-feature.js';
import { LiveGateway } from './live.gateway.js';

/** `ws://HOST:PORT/ws/live-subtitles`: transcripts and translations only, at the subtitles credit rate and quota. */
@WebSocketGateway({ path: LIVE_SUBTITLES.path })
export class LiveSubtitlesGateway extends LiveGateway {
  protected readonly feature = LIVE_SUBTITLES;
}

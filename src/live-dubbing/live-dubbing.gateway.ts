import { WebSocketGateway } from '@nestjs/websockets';
import { LIVE_DUBBING } from './live-feature.js';
import { LiveGateway } from './live.gateway.js';

/** `ws://HOST:PORT/ws/live-dubbing`: transcripts, translations and dubbed audio. */
@WebSocketGateway({ path: LIVE_DUBBING.path })
export class LiveDubbingGateway extends LiveGateway {
  protected readonly feature = LIVE_DUBBING;
}

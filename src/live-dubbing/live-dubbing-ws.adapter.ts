import type { IncomingMessage } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { AppConfig } from '../config/app-config.js';
import { AUDIO_EVENT, CloseCode, ErrorCode, INVALID_MESSAGE_EVENT } from './live-dubbing.protocol.js';
import { LiveSessionsService } from './live-sessions.service.js';
import { PendingSockets } from './pending-sockets.js';

/** The largest text message a client may send: its messages are a few short fields (an auth token is at most 4 KiB). */
export const MAX_TEXT_MESSAGE_BYTES = 16 * 1024;
/** Browsers send each message in one frame; a message cut into more pieces than this is refused (1008). */
const MAX_FRAGMENTS = 64;
/** Socket reads ws may hold for one unfinished frame: a 64 KiB frame is ~45 full TCP segments; a thousand are slivers. */
const MAX_BUFFERED_CHUNKS = 1024;
/** Messages a client may have waiting before the server calls it a flood (each one is handled quickly). */
const MAX_QUEUED_MESSAGES = 256;

interface RoutedMessage {
  event: string;
  data: unknown;
}

/**
 * The stock adapter parses every frame as JSON. Here the frame's real kind decides: binary frames are audio,
 * handed untouched to LiveSessionsService.acceptAudio; text frames are JSON routed by `type` to the gateway's
 * handlers, and anything malformed goes to one handler that rejects it. A client's messages are handled one
 * at a time, in order: a frame that arrives while a message is being handled waits its turn.
 */
export class LiveDubbingWsAdapter extends WsAdapter {
  private sessions?: LiveSessionsService;
  private pending?: PendingSockets;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}): WebSocketServer {
    return super.create(port, {
      ...options,
      maxPayload: this.maxPayload(),
      maxFragments: MAX_FRAGMENTS,
      maxBufferedChunks: MAX_BUFFERED_CHUNKS,
    }) as WebSocketServer;
  }

  /** A socket over its address's limit of unauthenticated sockets is closed at once and never reaches a gateway. */
  override bindClientConnect(server: WebSocketServer, callback: (socket: WebSocket, request: IncomingMessage) => void): void {
    server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      const pending = this.pendingSockets();
      if (!pending.admit(socket, pending.addressOf(request))) {
        socket.close(CloseCode.PolicyViolation, 'Too many unauthenticated connections from this address');
        return;
      }
      callback(socket, request);
    });
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const handlersMap = new Map(handlers.map((handler) => [handler.message as string, handler]));
    const { maxAudioFrameBytes } = this.config().ws;
    const queue: RoutedMessage[] = [];
    let draining = false;
    const drain = async () => {
      draining = true;
      for (let message = queue.shift(); message !== undefined; message = queue.shift()) {
        await this.dispatch(client, message, handlersMap, transform).catch((error: unknown) => this.logger.error(error));
      }
      draining = false;
    };
    // Once the server has refused the client, what else it sent (often in the same socket read) is dropped.
    let refused = false;
    client.on('message', (data: Buffer, isBinary: boolean) => {
      if (refused || client.readyState !== client.OPEN) {
        return;
      }
      if (data.length > (isBinary ? maxAudioFrameBytes : MAX_TEXT_MESSAGE_BYTES)) {
        refused = true;
        client.close(CloseCode.MessageTooBig, isBinary ? 'Audio frame too big' : 'Text message too big');
        return;
      }
      if (isBinary && !draining) {
        // Nothing waits before it: the frame is handled now, with no queueing and no promise.
        this.audio(client, data);
        return;
      }
      if (queue.length >= MAX_QUEUED_MESSAGES) {
        client.close(CloseCode.ProtocolError, 'Too many messages');
        return;
      }
      queue.push(isBinary ? { event: AUDIO_EVENT, data } : routeText(data, handlersMap));
      if (!draining) {
        void drain();
      }
    });
  }

  private async dispatch(
    client: WebSocket,
    message: RoutedMessage,
    handlersMap: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Promise<void> {
    if (message.event === AUDIO_EVENT) {
      this.audio(client, message.data as Buffer);
      return;
    }
    const handler = handlersMap.get(message.event) ?? handlersMap.get(INVALID_MESSAGE_EVENT);
    if (handler === undefined) {
      return;
    }
    const result: unknown = await handler.callback(message.data, message.event);
    // Most handlers (stop, refusals) answer nothing: no need to wrap that in an observable.
    if (result === undefined || result === null) {
      return;
    }
    const response = isObservable(result) ? await lastValueFrom(transform(result), { defaultValue: undefined }) : result;
    if (response !== undefined && response !== null && client.readyState === client.OPEN) {
      client.send(JSON.stringify(response));
    }
  }

  /** Audio goes straight to the live sessions; a refused frame fails the session like any handler's error. */
  private audio(client: WebSocket, frame: Buffer): void {
    this.sessions ??= this.app.get(LiveSessionsService, { strict: false });
    try {
      this.sessions.acceptAudio(client, frame);
    } catch (error) {
      void this.sessions.failSocket(client, error);
    }
  }

  /** ws refuses a frame whose header declares more than this (1009) before buffering any of it. */
  private maxPayload(): number {
    return Math.max(this.config().ws.maxAudioFrameBytes, MAX_TEXT_MESSAGE_BYTES);
  }

  private config(): AppConfig {
    return this.app.get(AppConfig, { strict: false });
  }

  private pendingSockets(): PendingSockets {
    return (this.pending ??= this.app.get(PendingSockets, { strict: false }));
  }
}

function routeText(data: Buffer, handlers: Map<string, unknown>): RoutedMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return invalid('Message is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid('Message must be a JSON object');
  }
  const type = (parsed as { type?: unknown }).type;
  if (typeof type !== 'string') {
    return invalid('Message needs a string "type"');
  }
  if (type === AUDIO_EVENT || type === INVALID_MESSAGE_EVENT || !handlers.has(type)) {
    return invalid(`Unknown message type "${type.slice(0, 40)}"`);
  }
  return { event: type, data: parsed };
}

function invalid(reason: string): RoutedMessage {
  return { event: INVALID_MESSAGE_EVENT, data: { code: ErrorCode.ProtocolError, reason } };
}

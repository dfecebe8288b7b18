import type { IncomingMessage } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { AppConfig } from '../config/app-config.js';
import { closeSocket } from './close-socket.js';
import { AUDIO_EVENT, CloseCode, ErrorCode, INVALID_MESSAGE_EVENT, protocolError } from './live-dubbing.protocol.js';
import { LiveSessionsService } from './live-sessions.service.js';
import { PendingSockets } from './pending-sockets.js';

/** The largest text message a client may send: its messages are a few short fields (an auth token is at most 4 KiB). */
const MAX_TEXT_MESSAGE_BYTES = 16 * 1024;
/** Client messages are flat objects: text nested deeper than this is refused before it is parsed. */
const MAX_JSON_DEPTH = 8;
/** A live client's frames wait only while a ping, stop or flush is handled: about one socket read (64 KiB), which this covers. */
const QUEUE_LIMIT_IN_FRAMES = 4;
/** What a waiting frame costs besides its payload (its Buffer and queue entry), so that empty frames count too. */
const WAITING_FRAME_OVERHEAD_BYTES = 128;
/** Browsers send each message in one frame; a message cut into more pieces than this is refused (1008). */
const MAX_FRAGMENTS = 64;
/** Socket reads ws may hold for one unfinished frame: a 64 KiB frame is ~45 full TCP segments; a thousand are slivers. */
const MAX_BUFFERED_CHUNKS = 1024;

/** Keys class-transformer and class-validator treat specially: a message carrying one slips past the check for extra fields. */
const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype'];

interface WaitingFrame {
  data: Buffer;
  isBinary: boolean;
}

interface RoutedMessage {
  event: string;
  data: unknown;
}

/**
 * The stock adapter parses every frame as JSON. Here the frame's real kind decides: binary frames are audio,
 * handed untouched to LiveSessionsService.acceptAudio; text frames are JSON routed by `type` to the gateway's
 * handlers, and anything malformed goes to one handler that rejects it. A client's messages are handled one
 * at a time, in order: a frame that arrives while a message is being handled waits its turn.
 *
 * What an unauthenticated client can make the server hold is bounded: ws refuses a frame over the larger limit
 * from its header (1009), the adapter refuses a text frame over 16 KiB or an audio frame over
 * WS_MAX_AUDIO_FRAME_BYTES (1009), only the auth message may wait before the session is live, and PendingSockets
 * caps the unauthenticated sockets of one address (1008).
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
        closeSocket(socket, CloseCode.PolicyViolation, 'Too many unauthenticated connections from this address');
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
    const pending = this.pendingSockets();
    const { maxAudioFrameBytes } = this.config().ws;
    const maxWaitingBytes = QUEUE_LIMIT_IN_FRAMES * this.maxPayload();
    const queue: WaitingFrame[] = [];
    let waitingBytes = 0;
    let draining = false;
    // Once the server has refused the client, what else it sent (often in the same socket read) is dropped.
    let refused = false;
    const refuse = (error: unknown) => {
      refused = true;
      queue.length = 0;
      waitingBytes = 0;
      void this.fail(client, error);
    };
    const drain = async () => {
      draining = true;
      for (let frame = queue.shift(); frame !== undefined; frame = queue.shift()) {
        waitingBytes -= waitingCost(frame.data);
        await this.dispatch(client, frame, handlersMap, transform).catch((error: unknown) => this.logger.error(error));
      }
      draining = false;
    };
    const sessions = this.liveSessions();
    client.on('message', (data: Buffer, isBinary: boolean) => {
      sessions.heard(client);
      if (refused || client.readyState !== client.OPEN) {
        return;
      }
      if (data.length > (isBinary ? maxAudioFrameBytes : MAX_TEXT_MESSAGE_BYTES)) {
        refused = true;
        void this.liveSessions().refuseFrames(client, {
          code: CloseCode.MessageTooBig,
          reason: isBinary ? 'Audio frame too big' : 'Text message too big',
        });
        return;
      }
      if (isBinary && !draining) {
        // Nothing waits before it: the frame is handled now, with no queueing and no promise.
        refused = !this.audio(client, data);
        return;
      }
      if (draining && pending.isPending(client)) {
        // Until the session is live only its first message may wait: the server holds nothing else for the client.
        refuse(protocolError('Only one message may be sent before "ready": the auth message'));
        return;
      }
      if (waitingBytes + waitingCost(data) > maxWaitingBytes) {
        refuse(protocolError('Too many messages waiting'));
        return;
      }
      queue.push({ data, isBinary });
      waitingBytes += waitingCost(data);
      if (!draining) {
        void drain();
      }
    });
  }

  /** A client's own bad frames (too big, not UTF-8, broken framing) end its socket with ws's close code; they are not server errors. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) =>
      socket.on('error', (error: Error & { code?: string }) => {
        if (error.code?.startsWith('WS_ERR_')) {
          this.logger.debug(`Refused a client frame: ${error.message}`);
          // ws closes the socket itself (1007, 1008, 1009); the session ends as the protocol violation it is.
          void this.liveSessions().refuseFrames(socket);
        } else {
          this.logger.error(error);
        }
      }),
    );
    server.on('error', (error: Error) => this.logger.error(error));
    return server;
  }

  private async dispatch(
    client: WebSocket,
    frame: WaitingFrame,
    handlersMap: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Promise<void> {
    if (frame.isBinary) {
      this.audio(client, frame.data);
      return;
    }
    const message = routeText(frame.data, handlersMap);
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

  /** Audio goes straight to the live sessions; a refused frame fails the session like any handler's error (false). */
  private audio(client: WebSocket, frame: Buffer): boolean {
    try {
      this.liveSessions().acceptAudio(client, frame);
      return true;
    } catch (error) {
      void this.fail(client, error);
      return false;
    }
  }

  private fail(client: WebSocket, error: unknown): Promise<void> {
    return this.liveSessions().failSocket(client, error);
  }

  /** ws refuses a frame whose header declares more than this (1009) before buffering any of it. */
  private maxPayload(): number {
    return Math.max(this.config().ws.maxAudioFrameBytes, MAX_TEXT_MESSAGE_BYTES);
  }

  private config(): AppConfig {
    return this.app.get(AppConfig, { strict: false });
  }

  private liveSessions(): LiveSessionsService {
    return (this.sessions ??= this.app.get(LiveSessionsService, { strict: false }));
  }

  private pendingSockets(): PendingSockets {
    return (this.pending ??= this.app.get(PendingSockets, { strict: false }));
  }
}

function waitingCost(data: Buffer): number {
  return data.length + WAITING_FRAME_OVERHEAD_BYTES;
}

function routeText(data: Buffer, handlers: Map<string, unknown>): RoutedMessage {
  const text = data.toString('utf8');
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    return invalid(`Message is nested more than ${MAX_JSON_DEPTH} levels deep`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return invalid('Message is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid('Message must be a JSON object');
  }
  const reserved = RESERVED_KEYS.find((key) => Object.hasOwn(parsed, key));
  if (reserved !== undefined) {
    return invalid(`Message may not have a "${reserved}" field`);
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

/**
 * Whether JSON text opens more than `maxDepth` arrays and objects inside one another, read in one pass without
 * parsing it (exact for valid JSON; invalid JSON fails to parse anyway). Deep values would make the recursive
 * walks that follow (validation, class-transformer) overflow the stack.
 */
export function nestedDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') {
        index++;
      } else if (char === '"') {
        inString = false;
      }
    } else if (char === '"') {
      inString = true;
    } else if (char === '{' || char === '[') {
      if (++depth > maxDepth) {
        return true;
      }
    } else if (char === '}' || char === ']') {
      depth--;
    }
  }
  return false;
}

function invalid(reason: string): RoutedMessage {
  return { event: INVALID_MESSAGE_EVENT, data: { code: ErrorCode.ProtocolError, reason } };
}

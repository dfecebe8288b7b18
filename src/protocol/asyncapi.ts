import type { TSchema } from '@sinclair/typebox';
import { AUDIO_FORMAT, LIVE_PATHS } from './audio.js';
import { CLOSE_CODES, type CloseCode } from './close-codes.js';
import {
  AuthOpenMessageSchema,
  AuthResumeMessageSchema,
  FlushMessageSchema,
  PingMessageSchema,
  SERVER_MESSAGE_SCHEMAS,
  StopMessageSchema,
} from './messages.js';

/** Where the running service serves this document, next to its OpenAPI document (`/docs`, `/docs-json`). */
export const ASYNCAPI_PATH = '/docs/asyncapi.json';

/** The keys of the two channels in the document. */
export const ASYNCAPI_CHANNELS = { [LIVE_PATHS.dubbing]: 'liveDubbing', [LIVE_PATHS.subtitles]: 'liveSubtitles' } as const;

type Json = Record<string, unknown>;

/** A plain JSON copy: TypeBox marks its schemas with symbols, which a published document has no use for. */
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;

const CLIENT_TEXT = {
  authOpen: AuthOpenMessageSchema,
  authResume: AuthResumeMessageSchema,
  stop: StopMessageSchema,
  ping: PingMessageSchema,
  flush: FlushMessageSchema,
} as const;

const SERVER_TEXT: Record<string, TSchema> = SERVER_MESSAGE_SCHEMAS;

const PCM = `PCM s16le (${AUDIO_FORMAT.encoding}), mono, ${AUDIO_FORMAT.sample_rate_hz / 1000} kHz`;

const BINARY = {
  audio: {
    name: 'audio',
    title: 'Audio',
    summary: 'Client audio: a binary frame',
    description:
      `${PCM}. A frame is of even length, 2 bytes to WS_MAX_AUDIO_FRAME_BYTES (65 536 by default); 100-ms frames ` +
      '(3 200 bytes) are typical. At most twice real time over the trailing 5 s. Sent only while the session is live.',
    contentType: 'application/octet-stream',
    payload: { type: 'string', format: 'binary', description: PCM },
  },
  dubbedAudio: {
    name: 'dubbedAudio',
    title: 'Dubbed audio',
    summary: "A segment's dubbed speech: a binary frame",
    description: `${PCM}, one frame per segment, after that segment's translation (/ws/live-dubbing only).`,
    contentType: 'application/octet-stream',
    payload: { type: 'string', format: 'binary', description: PCM },
  },
};

function closeCodeTable(): string {
  const rows = Object.entries(CLOSE_CODES).map(
    ([code, info]) => `| ${code} | ${info.errorCode ?? '—'} | ${info.action} | ${info.meaning} |`,
  );
  return ['| close | error.code | client action | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function closeCodeExtension(): Json[] {
  return Object.entries(CLOSE_CODES).map(([code, info]) => ({
    code: Number(code) as CloseCode,
    ...(info.errorCode === undefined ? {} : { error_code: info.errorCode }),
    meaning: info.meaning,
    action: info.action,
    advice: info.advice,
  }));
}

function channel(key: string, address: string, feature: string, dubbed: boolean): Json {
  const messages: Json = {};
  for (const name of [...Object.keys(CLIENT_TEXT), 'audio', ...Object.keys(SERVER_TEXT)]) {
    messages[name] = { $ref: `#/components/messages/${name}` };
  }
  if (dubbed) {
    messages.dubbedAudio = { $ref: '#/components/messages/dubbedAudio' };
  }
  return {
    address,
    title: key === 'liveDubbing' ? 'Live dubbing' : 'Live subtitles',
    description:
      `The ${feature} gateway (docs/protocol.md). The client sends one auth message first (to open or to resume a ` +
      'session); the server answers ready, or an error and a close. Text frames are JSON objects of at most 16 KiB; binary ' +
      `frames are audio. ${dubbed ? 'The server sends transcripts, translations and dubbed audio.' : 'The server sends transcripts and translations, no audio.'}` +
      '\n\nClose codes (also as `x-close-codes`):\n\n' +
      closeCodeTable(),
    messages,
    'x-close-codes': closeCodeExtension(),
  };
}

function operations(key: string, dubbed: boolean): Json {
  const ref = (names: string[]) => names.map((name) => ({ $ref: `#/channels/${key}/messages/${name}` }));
  const channelRef = { $ref: `#/channels/${key}` };
  const result: Json = {
    [`${key}ReceiveText`]: {
      action: 'receive',
      channel: channelRef,
      title: 'Client text messages',
      summary: 'auth (open or resume) first, once; then stop, ping and flush while the session is live',
      messages: ref(Object.keys(CLIENT_TEXT)),
    },
    [`${key}ReceiveAudio`]: {
      action: 'receive',
      channel: channelRef,
      title: 'Client audio',
      summary: 'Binary audio frames while the session is live',
      messages: ref(['audio']),
    },
    [`${key}SendText`]: {
      action: 'send',
      channel: channelRef,
      title: 'Server text messages',
      summary: 'ready, pong, transcripts, translations, credit signals, warnings, the end, reconnect and errors',
      messages: ref(Object.keys(SERVER_TEXT)),
    },
  };
  if (dubbed) {
    result[`${key}SendDubbedAudio`] = {
      action: 'send',
      channel: channelRef,
      title: 'Dubbed audio',
      summary: "Each segment's dubbed speech, after its translation",
      messages: ref(['dubbedAudio']),
    };
  }
  return result;
}

/**
 * The AsyncAPI 3.0.0 document of the live gateways, built from the protocol's schemas (so it cannot drift from what the
 * server sends and accepts). It describes the service: `send` is what the server sends, `receive` what it accepts.
 */
export function createAsyncApiDocument(options: { version?: string } = {}): Json {
  const schemas: Json = {};
  const messages: Json = {};
  const textMessage = (name: string, schema: TSchema, summary: string) => {
    const title = String(schema.title ?? name);
    schemas[title] = plain(schema);
    messages[name] = {
      name,
      title,
      summary,
      ...(schema.description === undefined ? {} : { description: schema.description }),
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${title}` },
    };
  };
  for (const [name, schema] of Object.entries(CLIENT_TEXT)) {
    textMessage(name, schema, `Client → server: ${String(schema.title)}`);
  }
  for (const [name, schema] of Object.entries(SERVER_TEXT)) {
    textMessage(name, schema, `Server → client: ${name}`);
  }
  Object.assign(messages, BINARY);

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Live dubbing service: live WebSocket protocol',
      version: options.version ?? '1',
      description:
        'The live gateways /ws/live-dubbing and /ws/live-subtitles speak one protocol (docs/protocol.md in the repository; ' +
        "the definition is src/protocol). Operations are from the service's side: `send` is what the server sends, " +
        '`receive` what it accepts. Every server message is exact: a field its schema does not list is never sent.',
    },
    defaultContentType: 'application/json',
    channels: {
      liveDubbing: channel('liveDubbing', LIVE_PATHS.dubbing, 'live dubbing', true),
      liveSubtitles: channel('liveSubtitles', LIVE_PATHS.subtitles, 'live subtitles', false),
    },
    operations: { ...operations('liveDubbing', true), ...operations('liveSubtitles', false) },
    components: { schemas, messages },
  };
}

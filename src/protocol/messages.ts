import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { AUDIO_FORMAT } from './audio.js';
import { LIVE_ERROR_CODES, type LiveErrorCode } from './error-codes.js';

/**
 * The text messages of the live protocol, both directions, as JSON Schemas (TypeBox) and the types they stand for
 * (docs/protocol.md, "Messages", "Opening a session", "The usage summary", "Error messages"). Both gateways,
 * `/ws/live-dubbing` and `/ws/live-subtitles`, speak them. The server's messages are exact: a field a schema does not
 * list is never sent (`additionalProperties: false`). The client's messages are exact too: the server refuses a field
 * a message does not have (`protocol_error`, 4000).
 *
 * This module depends on TypeBox alone, so that a browser client can bundle it.
 */

/** A language code such as `en` or `pt-BR`. */
export const LANGUAGE_PATTERN = '^[a-z]{2,3}(-[A-Z]{2})?$';
/** A channel id: letters, digits, `_`, `.` and `-`. */
export const CHANNEL_ID_PATTERN = '^[\\w.-]+$';

const closed = { additionalProperties: false } as const;
const Language = (description: string) => Type.String({ pattern: LANGUAGE_PATTERN, description });
const Count = (description: string) => Type.Integer({ minimum: 0, description });
const Credits = (description: string) => Type.Number({ description });

// ---------------------------------------------------------------- client → server

const Token = Type.String({ minLength: 1, maxLength: 4096, description: 'An access token of the service (JWT)' });
const ChannelId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: CHANNEL_ID_PATTERN,
  description: 'A channel of GET /api/v1/channels',
});
const ResumeToken = Type.String({ minLength: 1, maxLength: 256, description: 'The latest resume token the client was given' });

/** Opens a session: the first message on a new connection. */
export const AuthOpenMessageSchema = Type.Object(
  {
    type: Type.Literal('auth'),
    token: Token,
    channel_id: ChannelId,
    target_lang: Language('The language to translate and dub into, one the channel offers'),
    source_lang: Type.Optional(Language("The speech's language; the channel's source language by default")),
  },
  { ...closed, title: 'AuthOpen', description: 'Opens a new session (the first message; docs/protocol.md, "Opening a session")' },
);

/** Resumes a suspended (or still live) session: the session keeps its own channel and languages. */
export const AuthResumeMessageSchema = Type.Object(
  {
    type: Type.Literal('auth'),
    token: Token,
    resume_token: ResumeToken,
    channel_id: Type.Optional(ChannelId),
    target_lang: Type.Optional(Language('Not needed: the session keeps its own')),
    source_lang: Type.Optional(Language('Not needed: the session keeps its own')),
  },
  { ...closed, title: 'AuthResume', description: 'Resumes a session (the first message; docs/protocol.md, "Resuming a session")' },
);

export const StopMessageSchema = Type.Object(
  { type: Type.Literal('stop') },
  { ...closed, title: 'Stop', description: 'Ends the session: `session_ended` then close 1000' },
);
export const PingMessageSchema = Type.Object(
  { type: Type.Literal('ping') },
  { ...closed, title: 'Ping', description: 'Answered with `pong`' },
);
export const FlushMessageSchema = Type.Object(
  { type: Type.Literal('flush') },
  { ...closed, title: 'Flush', description: 'Ends the speech segment in progress now (push-to-talk released)' },
);

export const AuthMessageSchema = Type.Union([AuthOpenMessageSchema, AuthResumeMessageSchema], { title: 'Auth' });
export const ControlMessageSchema = Type.Union([StopMessageSchema, PingMessageSchema, FlushMessageSchema], { title: 'Control' });
export const ClientMessageSchema = Type.Union(
  [AuthOpenMessageSchema, AuthResumeMessageSchema, StopMessageSchema, PingMessageSchema, FlushMessageSchema],
  { title: 'ClientMessage' },
);

export type AuthOpenMessage = Static<typeof AuthOpenMessageSchema>;
export type AuthResumeMessage = Static<typeof AuthResumeMessageSchema>;
export type AuthMessage = Static<typeof AuthMessageSchema>;
export type StopMessage = Static<typeof StopMessageSchema>;
export type PingMessage = Static<typeof PingMessageSchema>;
export type FlushMessage = Static<typeof FlushMessageSchema>;
export type ControlMessage = Static<typeof ControlMessageSchema>;
export type ClientMessage = Static<typeof ClientMessageSchema>;

// ---------------------------------------------------------------- server → client

/** Whole minutes left in each UTC window of the gateway's feature, rounded down. */
export const QuotaMinutesSchema = Type.Object(
  { hour: Count('Minutes left this hour'), day: Count('Minutes left today'), month: Count('Minutes left this month') },
  { ...closed, title: 'QuotaMinutes' },
);
export type QuotaMinutes = Static<typeof QuotaMinutesSchema>;

export const AudioFormatSchema = Type.Object(
  {
    encoding: Type.Literal(AUDIO_FORMAT.encoding),
    sample_rate_hz: Type.Literal(AUDIO_FORMAT.sample_rate_hz),
    channels: Type.Literal(AUDIO_FORMAT.channels),
  },
  { ...closed, title: 'AudioFormat', description: 'PCM s16le, mono, 16 kHz, both directions' },
);

export const ReadyBetaSchema = Type.Object(
  {
    session_id: Type.String({ description: 'The beta session' }),
    remaining_credits: Credits('The balance: granted − debited, held credits included'),
    estimated_cost: Credits('The credits held for the session'),
    granted_credits: Credits("The account's granted credits that have not expired (what credit_warning thresholds are percentages of)"),
    credits_per_second: Credits("The session's rate"),
  },
  { ...closed, title: 'ReadyBeta' },
);

export const ReadyMessageSchema = Type.Object(
  {
    type: Type.Literal('ready'),
    resumed: Type.Optional(Type.Literal(true, { description: 'Present in the ready that answers a resume' })),
    session_id: Type.String({ description: 'The live session' }),
    resume_token: Type.String({ description: '43 URL-safe characters: keep the latest one, to resume the session with' }),
    beta: Type.Union([ReadyBetaSchema, Type.Null()], { description: 'null outside the Beta 500 programme' }),
    audio: AudioFormatSchema,
    quota: QuotaMinutesSchema,
  },
  { ...closed, title: 'Ready', description: 'The opening or the resume succeeded; the session is live' },
);

export const PongMessageSchema = Type.Object({ type: Type.Literal('pong') }, { ...closed, title: 'Pong', description: 'Answers `ping`' });

export const TranscriptMessageSchema = Type.Object(
  {
    type: Type.Literal('transcript'),
    segment_id: Type.Integer({ minimum: 1, description: 'The speech segment, from 1 on each connection' }),
    text: Type.String(),
    language: Type.Union([Type.String(), Type.Null()], { description: 'The detected language, or null' }),
    is_final: Type.Boolean(),
    loopback: Type.Boolean({ description: 'true with the development provider, which does not transcribe' }),
    start_ms: Count("Where the speech starts in the connection's audio"),
    end_ms: Count("Where the speech ends in the connection's audio"),
    latency_ms: Count('From the end of the speech to this transcript'),
  },
  { ...closed, title: 'Transcript', description: "A speech segment's transcript" },
);

export const TranslationMessageSchema = Type.Object(
  {
    type: Type.Literal('translation'),
    segment_id: Type.Integer({ minimum: 1 }),
    text: Type.String(),
    target_lang: Type.String(),
    loopback: Type.Boolean({ description: 'true with the development provider, which does not translate' }),
    latency_ms: Count('From the end of the speech to this translation'),
  },
  { ...closed, title: 'Translation', description: "A speech segment's translation; its dubbed audio follows on /ws/live-dubbing" },
);

export const CreditsMessageSchema = Type.Object(
  {
    type: Type.Literal('credits'),
    remaining_credits: Credits('The balance after the checkpoint'),
    session_charged: Credits('What this session has been charged so far, across all its connections'),
  },
  { ...closed, title: 'Credits', description: 'Beta sessions: after each checkpoint' },
);

export const CreditWarningMessageSchema = Type.Object(
  {
    type: Type.Literal('credit_warning'),
    remaining_credits: Credits('The running balance'),
    threshold_percent: Type.Number({ description: 'The threshold reached, in % of the granted credits' }),
  },
  { ...closed, title: 'CreditWarning', description: 'Beta sessions: once per threshold' },
);

export const IdleWarningMessageSchema = Type.Object(
  {
    type: Type.Literal('idle_warning'),
    seconds_left: Type.Integer({ minimum: 1, description: 'The session ends idle_timeout in this many seconds unless audio comes' }),
  },
  { ...closed, title: 'IdleWarning' },
);

/** What an ended session used (docs/protocol.md, "The usage summary"); absent when the database did not answer in time. */
const usageSummaryFields = {
  duration_ms: Count('The time the session was connected, over all its connections'),
  charged_credits: Credits('What the beta session was charged in all; 0 outside the programme'),
  remaining_credits: Type.Union([Type.Number(), Type.Null()], {
    description: "The account's balance after the final charge; null outside the programme",
  }),
  quota_used_seconds: Count("The quota session's used seconds"),
};
export const UsageSummarySchema = Type.Object(usageSummaryFields, { ...closed, title: 'UsageSummary' });
export type UsageSummary = Static<typeof UsageSummarySchema>;

const optionalUsageSummary = {
  duration_ms: Type.Optional(usageSummaryFields.duration_ms),
  charged_credits: Type.Optional(usageSummaryFields.charged_credits),
  remaining_credits: Type.Optional(usageSummaryFields.remaining_credits),
  quota_used_seconds: Type.Optional(usageSummaryFields.quota_used_seconds),
};

/** The usage summary comes whole or not at all: each of its fields needs the others. */
const WHOLE_SUMMARY = {
  duration_ms: ['charged_credits', 'remaining_credits', 'quota_used_seconds'],
  charged_credits: ['duration_ms', 'remaining_credits', 'quota_used_seconds'],
  quota_used_seconds: ['duration_ms', 'charged_credits', 'remaining_credits'],
};
const SUMMARY_FIELDS = Object.keys(usageSummaryFields);

export const SESSION_END_REASONS = ['user_stopped', 'idle_timeout'] as const;

export const SessionEndedMessageSchema = Type.Object(
  {
    type: Type.Literal('session_ended'),
    reason: Type.Union(SESSION_END_REASONS.map((reason) => Type.Literal(reason))),
    ...optionalUsageSummary,
    session_charged: Type.Optional(Credits('Beta sessions: the same as charged_credits, for older clients')),
  },
  {
    ...closed,
    title: 'SessionEnded',
    description:
      'The session ended normally: close 1000 (stop) or 4408 (idle) follows. With the usage summary when the end was written in time; ' +
      'session_charged comes with it for a beta session',
    dependencies: { ...WHOLE_SUMMARY, remaining_credits: ['duration_ms'], session_charged: ['duration_ms'] },
  },
);

export const ReconnectMessageSchema = Type.Object(
  {
    type: Type.Literal('reconnect'),
    resume_token: Type.String({ description: 'The token to resume the session with' }),
    resume_within_ms: Count('How long the session waits, from its suspension (WS_RESUME_WINDOW_MS)'),
  },
  { ...closed, title: 'Reconnect', description: 'The instance is shutting down: the session is suspended, resume it; close 1012 follows' },
);

/**
 * Which extra fields each error code carries (docs/protocol.md, "Error messages"): those it always has, and those it
 * may have. An error that ends a live session may carry the usage summary.
 */
const ERROR_FIELDS: Record<LiveErrorCode, { required?: string[]; optional?: string[] }> = {
  protocol_error: { optional: SUMMARY_FIELDS },
  auth_timeout: {},
  unauthorized: { optional: ['session_ended', ...SUMMARY_FIELDS] },
  rate_limited: {},
  upgrade_required: { required: ['upgrade_required'], optional: ['session_ended', ...SUMMARY_FIELDS] },
  too_many_sessions: { required: ['max_sessions'] },
  channel_unavailable: { required: ['channel_id'] },
  insufficient_credits: { required: ['upgrade_required', 'remaining_credits'] },
  quota_exceeded: { required: ['upgrade_required'], optional: ['quota', 'session_ended', ...SUMMARY_FIELDS] },
  credits_exhausted: { required: ['upgrade_required', 'session_ended'], optional: SUMMARY_FIELDS },
  beta_revoked: { required: ['upgrade_required', 'session_ended'], optional: SUMMARY_FIELDS },
  session_moved: {},
  resume_failed: {},
  speech_service_unavailable: { required: ['session_ended'], optional: SUMMARY_FIELDS },
  service_unavailable: { optional: ['resume_token', 'resume_within_ms'] },
  internal_error: { optional: SUMMARY_FIELDS },
};

const errorFieldRules = Object.entries(ERROR_FIELDS).map(([code, fields]) => ({
  if: { type: 'object', properties: { code: { const: code } } },
  then: {
    type: 'object',
    ...(fields.required === undefined
      ? {}
      : { properties: Object.fromEntries(fields.required.map((field) => [field, {}])), required: fields.required }),
    propertyNames: { enum: ['type', 'code', 'message', ...(fields.required ?? []), ...(fields.optional ?? [])] },
  },
}));

export const ErrorMessageSchema = Type.Object(
  {
    type: Type.Literal('error'),
    code: Type.Union(
      LIVE_ERROR_CODES.map((code) => Type.Literal(code)),
      { description: 'Stable; see the close codes' },
    ),
    message: Type.String({ description: 'For people; never internal detail' }),
    upgrade_required: Type.Optional(Type.Literal(true)),
    session_ended: Type.Optional(Type.Literal(true, { description: 'The error ended a live session' })),
    channel_id: Type.Optional(Type.String({ description: 'channel_unavailable: the channel asked for' })),
    quota: Type.Optional(QuotaMinutesSchema),
    max_sessions: Type.Optional(Type.Integer({ minimum: 1, description: 'too_many_sessions: the cap' })),
    resume_token: Type.Optional(Type.String({ description: 'service_unavailable: the session was suspended; resume with it' })),
    resume_within_ms: Type.Optional(Count('service_unavailable with resume_token: the resume window')),
    ...optionalUsageSummary,
  },
  {
    ...closed,
    title: 'Error',
    description:
      'A refusal or a failure; the socket closes right after it. `remaining_credits` is the balance of insufficient_credits, ' +
      'or part of the usage summary of an error that ended a live session. Which fields each code carries: see allOf',
    dependencies: { ...WHOLE_SUMMARY, resume_token: ['resume_within_ms'], resume_within_ms: ['resume_token'] },
    allOf: errorFieldRules,
  },
);

export type ReadyMessage = Static<typeof ReadyMessageSchema>;
export type PongMessage = Static<typeof PongMessageSchema>;
export type TranscriptMessage = Static<typeof TranscriptMessageSchema>;
export type TranslationMessage = Static<typeof TranslationMessageSchema>;
export type CreditsMessage = Static<typeof CreditsMessageSchema>;
export type CreditWarningMessage = Static<typeof CreditWarningMessageSchema>;
export type IdleWarningMessage = Static<typeof IdleWarningMessageSchema>;
export type SessionEndedMessage = Static<typeof SessionEndedMessageSchema>;
export type ReconnectMessage = Static<typeof ReconnectMessageSchema>;
export type ErrorMessage = Static<typeof ErrorMessageSchema>;

/** Every server → client text message, by its `type`. */
export const SERVER_MESSAGE_SCHEMAS = {
  ready: ReadyMessageSchema,
  pong: PongMessageSchema,
  transcript: TranscriptMessageSchema,
  translation: TranslationMessageSchema,
  credits: CreditsMessageSchema,
  credit_warning: CreditWarningMessageSchema,
  idle_warning: IdleWarningMessageSchema,
  session_ended: SessionEndedMessageSchema,
  reconnect: ReconnectMessageSchema,
  error: ErrorMessageSchema,
} as const satisfies Record<string, TSchema>;
export type ServerMessageType = keyof typeof SERVER_MESSAGE_SCHEMAS;

export const ServerMessageSchema = Type.Union(Object.values(SERVER_MESSAGE_SCHEMAS), { title: 'ServerMessage' });
export type ServerMessage = { [K in ServerMessageType]: Static<(typeof SERVER_MESSAGE_SCHEMAS)[K]> }[ServerMessageType];

/** Every client → server text message, by its `type` (`auth` opens or resumes). */
export const CLIENT_MESSAGE_SCHEMAS = {
  auth: AuthMessageSchema,
  stop: StopMessageSchema,
  ping: PingMessageSchema,
  flush: FlushMessageSchema,
} as const satisfies Record<string, TSchema>;
export type ClientMessageType = keyof typeof CLIENT_MESSAGE_SCHEMAS;

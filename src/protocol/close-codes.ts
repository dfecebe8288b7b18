import { ErrorCode } from './error-codes.js';

/** WebSocket close codes of the live protocol (docs/protocol.md, "Close codes"): one meaning and one client action each. */
export const CloseCode = {
  Normal: 1000,
  /** Never sent: the code a socket reports when its connection ended without a close frame. */
  Abnormal: 1006,
  InvalidFramePayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  ProtocolError: 4000,
  Unauthorized: 4001,
  InsufficientCredits: 4003,
  ChannelUnavailable: 4004,
  AuthTimeout: 4008,
  /** No audio frame for WS_IDLE_TIMEOUT_MS: the session ended `idle_timeout`. */
  IdleTimeout: 4408,
  RateLimited: 4029,
  UpgradeRequired: 4030,
  QuotaExceeded: 4031,
  /** The user already holds as many sessions as the tier allows: end one, or wait for one to end. */
  TooManySessions: 4032,
  BetaRevoked: 4033,
  CreditsExhausted: 4402,
  SessionMoved: 4409,
  ResumeFailed: 4410,
  /** The database is unreachable and the session's hold is used up: suspended, resume with backoff. */
  SuspendedUnavailable: 4503,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * What a client does after a close (docs/protocol.md, "Close codes" and "When to resume"):
 * - `ended`: the session ended or was never opened; do not resume (fix the client, offer an upgrade, or open a new
 *   session later, as `meaning` says);
 * - `resume`: resume with the latest `resume_token`, at once then with backoff, until `resume_within_ms` has passed or
 *   4410 comes;
 * - `retry`: try the same `auth` again with backoff (a resume: with the newest token held);
 * - `stop`: this connection lost its session to another one; do not resume with its token;
 * - `open_new`: the session cannot be resumed; open a new one.
 */
export type CloseAction = 'ended' | 'resume' | 'retry' | 'stop' | 'open_new';

export interface CloseCodeInfo {
  /** The `error.code` sent before the close, if any. */
  errorCode?: ErrorCode;
  meaning: string;
  action: CloseAction;
  /** What the action means for this code in particular. */
  advice: string;
}

/** The close-code table of docs/protocol.md, "Close codes". */
export const CLOSE_CODES: Readonly<Record<CloseCode, CloseCodeInfo>> = {
  [CloseCode.Normal]: {
    meaning: 'The client sent `stop`; the session ended (`session_ended` `user_stopped`) and was charged',
    action: 'ended',
    advice: 'none',
  },
  [CloseCode.Abnormal]: {
    meaning: 'Never sent: the connection was lost without a close frame; the server suspends the session once it notices',
    action: 'resume',
    advice: 'resume with the latest resume_token at once, then with backoff, until 4410',
  },
  [CloseCode.InvalidFramePayload]: {
    meaning: 'A text frame was not valid UTF-8; a live session ended `protocol_error`',
    action: 'ended',
    advice: 'fix the client: send text as UTF-8',
  },
  [CloseCode.PolicyViolation]: {
    meaning:
      'On connect: too many sockets of this address are not live yet (`Too many unauthenticated connections from this address`); ' +
      'otherwise a message in more than 64 fragments or a frame in more than 1 024 socket reads; a live session ended',
    action: 'ended',
    advice:
      'on connect: authenticate or close the sockets already open, then connect again after a backoff; otherwise send each message in one frame',
  },
  [CloseCode.MessageTooBig]: {
    meaning: 'A text frame over 16 KiB or a binary frame over WS_MAX_AUDIO_FRAME_BYTES; a live session ended `protocol_error`',
    action: 'ended',
    advice: 'fix the client: smaller frames (100-ms audio frames are 3 200 bytes)',
  },
  [CloseCode.InternalError]: {
    errorCode: ErrorCode.InternalError,
    meaning: 'The session ended on a failure (`internal_error` or `speech_service_unavailable`)',
    action: 'ended',
    advice: 'open a new session later, with backoff',
  },
  [CloseCode.ServiceRestart]: {
    meaning:
      'The instance is shutting down. After `reconnect`: the session was charged up to that instant and suspended. ' +
      'Without it: no session was live on this socket',
    action: 'resume',
    advice:
      'after `reconnect`: resume with its resume_token (any instance), with backoff, within resume_within_ms; without: connect again and send the same auth',
  },
  [CloseCode.TryAgainLater]: {
    errorCode: ErrorCode.ServiceUnavailable,
    meaning:
      'The opening or the resume was refused: the instance cannot reach its database (or too many concurrent writers on one account); nothing changed',
    action: 'retry',
    advice: 'try again with backoff; resume with the newest token held (an error carrying resume_token replaces the old one)',
  },
  [CloseCode.ProtocolError]: {
    errorCode: ErrorCode.ProtocolError,
    meaning: 'The client broke the protocol: a malformed or unexpected message, a frame between auth and ready, bad or too-fast audio',
    action: 'ended',
    advice: 'fix the client; do not resend the same thing',
  },
  [CloseCode.Unauthorized]: {
    errorCode: ErrorCode.Unauthorized,
    meaning: 'Bad or expired token, a token without exp, unknown or inactive user; mid-session: the user was deactivated',
    action: 'ended',
    advice: 'get a new token, then open again (or resume: a refused resume changes nothing)',
  },
  [CloseCode.InsufficientCredits]: {
    errorCode: ErrorCode.InsufficientCredits,
    meaning: 'The balance does not cover the estimate',
    action: 'ended',
    advice: 'offer the upgrade; open again once credits are added',
  },
  [CloseCode.ChannelUnavailable]: {
    errorCode: ErrorCode.ChannelUnavailable,
    meaning: 'Channel unknown, not live, no dubbing, or language not offered',
    action: 'ended',
    advice: 'choose another channel or language',
  },
  [CloseCode.AuthTimeout]: {
    errorCode: ErrorCode.AuthTimeout,
    meaning: 'No auth within WS_AUTH_TIMEOUT_MS',
    action: 'ended',
    advice: 'connect again and send auth at once',
  },
  [CloseCode.IdleTimeout]: {
    meaning: 'No audio frame for WS_IDLE_TIMEOUT_MS (`session_ended` `idle_timeout`); the session ended and was charged up to then',
    action: 'ended',
    advice: 'open a new session when there is audio to send; send silence to keep a session open',
  },
  [CloseCode.RateLimited]: {
    errorCode: ErrorCode.RateLimited,
    meaning: 'Too many opens in the last minute (a resume is never refused this way)',
    action: 'ended',
    advice: 'wait, then open again',
  },
  [CloseCode.UpgradeRequired]: {
    errorCode: ErrorCode.UpgradeRequired,
    meaning: 'Not an active Premium/Family subscription; mid-session: it lapsed',
    action: 'ended',
    advice: 'offer the upgrade',
  },
  [CloseCode.QuotaExceeded]: {
    errorCode: ErrorCode.QuotaExceeded,
    meaning: 'A quota window has no time left; a session that was live has ended',
    action: 'ended',
    advice: 'wait for the window to reset (`quota` says which)',
  },
  [CloseCode.TooManySessions]: {
    errorCode: ErrorCode.TooManySessions,
    meaning: 'The user already holds `max_sessions` sessions and none of them is suspended; nothing was opened',
    action: 'ended',
    advice: 'end one of the other sessions (stop), or wait for one to end, then open again',
  },
  [CloseCode.BetaRevoked]: {
    errorCode: ErrorCode.BetaRevoked,
    meaning: 'The user left the Beta 500 programme; the session ended',
    action: 'ended',
    advice: 'a new session runs outside the programme',
  },
  [CloseCode.CreditsExhausted]: {
    errorCode: ErrorCode.CreditsExhausted,
    meaning: 'The credits ran out; the session ended',
    action: 'ended',
    advice: 'offer the upgrade; open again once credits are added',
  },
  [CloseCode.SessionMoved]: {
    errorCode: ErrorCode.SessionMoved,
    meaning: 'This connection no longer holds the session: it was resumed on another connection, or the lost-session sweep ended it',
    action: 'stop',
    advice: 'stop using this connection and do not resume with its token; if you did not resume it yourself, open a new session if wanted',
  },
  [CloseCode.ResumeFailed]: {
    errorCode: ErrorCode.ResumeFailed,
    meaning: "The resume token is unknown, used, past its window, another user's or the other gateway's, or its session ended",
    action: 'open_new',
    advice: 'open a new session (an auth with channel_id and target_lang)',
  },
  [CloseCode.SuspendedUnavailable]: {
    errorCode: ErrorCode.ServiceUnavailable,
    meaning: 'The instance cannot reach its database and the session can no longer go on without it; charged up to now and suspended',
    action: 'resume',
    advice:
      "resume with the error's resume_token, with backoff; resumes are refused 1013 until the database is back, the window starts then",
  },
};

/** The client action for a close code; an unknown code is an ended session. */
export function closeActionOf(code: number): CloseAction {
  return (CLOSE_CODES as Partial<Record<number, CloseCodeInfo>>)[code]?.action ?? 'ended';
}

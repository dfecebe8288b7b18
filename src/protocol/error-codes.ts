/**
 * Every stable error code of the product, whichever transport reports it (docs/protocol.md, "One error model"). REST and
 * the live WebSocket share this one list; `LIVE_ERROR_CODES` are those a live gateway sends in an `error` message
 * (docs/protocol.md, "Error messages").
 */
export const ErrorCode = {
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  Conflict: 'conflict',
  InvalidInput: 'invalid_input',
  InsufficientCredits: 'insufficient_credits',
  InvitationInvalid: 'invitation_invalid',
  ServiceUnavailable: 'service_unavailable',
  ProtocolError: 'protocol_error',
  AuthTimeout: 'auth_timeout',
  RateLimited: 'rate_limited',
  UpgradeRequired: 'upgrade_required',
  ChannelUnavailable: 'channel_unavailable',
  QuotaExceeded: 'quota_exceeded',
  TooManySessions: 'too_many_sessions',
  CreditsExhausted: 'credits_exhausted',
  BetaRevoked: 'beta_revoked',
  SessionMoved: 'session_moved',
  ResumeFailed: 'resume_failed',
  SpeechServiceUnavailable: 'speech_service_unavailable',
  InternalError: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The codes of a live gateway's `error` message (docs/protocol.md, "Error messages"). */
export const LIVE_ERROR_CODES = [
  ErrorCode.ProtocolError,
  ErrorCode.AuthTimeout,
  ErrorCode.Unauthorized,
  ErrorCode.RateLimited,
  ErrorCode.UpgradeRequired,
  ErrorCode.TooManySessions,
  ErrorCode.ChannelUnavailable,
  ErrorCode.InsufficientCredits,
  ErrorCode.QuotaExceeded,
  ErrorCode.CreditsExhausted,
  ErrorCode.BetaRevoked,
  ErrorCode.SessionMoved,
  ErrorCode.ResumeFailed,
  ErrorCode.SpeechServiceUnavailable,
  ErrorCode.ServiceUnavailable,
  ErrorCode.InternalError,
] as const;
export type LiveErrorCode = (typeof LIVE_ERROR_CODES)[number];

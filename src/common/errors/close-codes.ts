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

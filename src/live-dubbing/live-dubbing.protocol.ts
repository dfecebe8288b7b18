/**
 * The live WebSocket protocol (SPEC §3; the subtitles gateway speaks it too): message types, error codes, close codes and how each
 * way a session ends maps onto them. The gateway, its exception filter and the tests all import this.
 */
import type { BetaEndReason } from '../beta/sessions/beta-session.schema.js';

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** Sent by the WebSocket layer itself: a text frame that is not UTF-8. */
  InvalidFramePayload: 1007,
  PolicyViolation: 1008,
  /** A frame over WS_MAX_AUDIO_FRAME_BYTES (binary) or over 16 KiB (text). */
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  ProtocolError: 4000,
  Unauthorized: 4001,
  InsufficientCredits: 4003,
  ChannelUnavailable: 4004,
  AuthTimeout: 4008,
  RateLimited: 4029,
  UpgradeRequired: 4030,
  QuotaExceeded: 4031,
  BetaRevoked: 4033,
  CreditsExhausted: 4402,
  SessionMoved: 4409,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const ErrorCode = {
  ProtocolError: 'protocol_error',
  AuthTimeout: 'auth_timeout',
  Unauthorized: 'unauthorized',
  RateLimited: 'rate_limited',
  UpgradeRequired: 'upgrade_required',
  ChannelUnavailable: 'channel_unavailable',
  InsufficientCredits: 'insufficient_credits',
  QuotaExceeded: 'quota_exceeded',
  CreditsExhausted: 'credits_exhausted',
  BetaRevoked: 'beta_revoked',
  SessionMoved: 'session_moved',
  ShuttingDown: 'shutting_down',
  SpeechServiceUnavailable: 'speech_service_unavailable',
  InternalError: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Client → server text message types; binary frames are audio. */
export const ClientMessageType = { Auth: 'auth', Stop: 'stop', Ping: 'ping' } as const;
/** Internal events the adapter routes frames to. */
export const AUDIO_EVENT = 'audio';
export const INVALID_MESSAGE_EVENT = 'invalid_message';

export const AUDIO_FORMAT = { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 } as const;

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  [extra: string]: unknown;
}

/** A refusal or a failure that ends the connection with its error message and close code. */
export class LiveDubbingError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly closeCode: CloseCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    closeReason = message,
  ) {
    super(message);
    this.name = 'LiveDubbingError';
    this.closeReason = fitCloseReason(closeReason);
  }

  readonly closeReason: string;

  toMessage(): ErrorMessage {
    return { type: 'error', code: this.code, message: this.message, ...this.extra };
  }
}

/** A close frame's reason is at most 123 bytes of UTF-8; longer ones are cut at a character boundary. */
export function fitCloseReason(reason: string): string {
  const MAX_BYTES = 123;
  if (Buffer.byteLength(reason) <= MAX_BYTES) {
    return reason;
  }
  let cut = reason;
  while (Buffer.byteLength(cut + '…') > MAX_BYTES) {
    cut = cut.slice(0, -1);
  }
  return cut + '…';
}

export const protocolError = (message: string) => new LiveDubbingError(ErrorCode.ProtocolError, CloseCode.ProtocolError, message);

export function insufficientCredits(remainingCredits: number): LiveDubbingError {
  return new LiveDubbingError(
    ErrorCode.InsufficientCredits,
    CloseCode.InsufficientCredits,
    'Insufficient beta credits for live dubbing',
    { upgrade_required: true, remaining_credits: remainingCredits },
    'Insufficient beta credits',
  );
}

export function quotaExceeded(remaining: unknown): LiveDubbingError {
  return new LiveDubbingError(ErrorCode.QuotaExceeded, CloseCode.QuotaExceeded, 'Live dubbing quota exceeded', {
    upgrade_required: true,
    quota: remaining,
  });
}

export function creditsExhausted(): LiveDubbingError {
  return new LiveDubbingError(ErrorCode.CreditsExhausted, CloseCode.CreditsExhausted, 'Beta credits exhausted', {
    upgrade_required: true,
    session_ended: true,
  });
}

/** A speech provider kept failing: an internal error (1011, SPEC §3.3) the client can act on, without internals. */
export function speechServiceUnavailable(): LiveDubbingError {
  return new LiveDubbingError(
    ErrorCode.SpeechServiceUnavailable,
    CloseCode.InternalError,
    'The speech service is unavailable; please try again later',
    { session_ended: true },
    'Speech service unavailable',
  );
}

export function betaRevoked(): LiveDubbingError {
  return new LiveDubbingError(ErrorCode.BetaRevoked, CloseCode.BetaRevoked, 'Beta access revoked', {
    upgrade_required: true,
    session_ended: true,
  });
}

/** This connection no longer holds its session: another instance ended it (or took it over) meanwhile. */
export function sessionMoved(): LiveDubbingError {
  return new LiveDubbingError(ErrorCode.SessionMoved, CloseCode.SessionMoved, 'This connection no longer holds the session');
}

/** The user lost what live dubbing needs (deactivated, or no longer an active Premium/Family subscriber). */
export function accessRevoked(deactivated: boolean): LiveDubbingError {
  return deactivated
    ? new LiveDubbingError(ErrorCode.Unauthorized, CloseCode.Unauthorized, 'The account is no longer active', { session_ended: true })
    : new LiveDubbingError(
        ErrorCode.UpgradeRequired,
        CloseCode.UpgradeRequired,
        'Live dubbing needs an active Premium or Family subscription',
        { upgrade_required: true, session_ended: true },
      );
}

export function internalError(): LiveDubbingError {
  return new LiveDubbingError(ErrorCode.InternalError, CloseCode.InternalError, 'Internal error');
}

export type QuotaEndStatus = 'completed' | 'error';

/** SPEC §3.3: how each cause ends the beta session and the quota session. */
export type EndCause =
  | 'user_stopped'
  | 'disconnected'
  | 'credits_exhausted'
  | 'quota_exceeded'
  | 'quota_failed'
  | 'beta_revoked'
  | 'protocol_error'
  | 'speech_service_failed'
  | 'internal_error'
  | 'server_shutdown'
  | 'access_revoked'
  | 'instance_lost';

export const END_OUTCOMES: Record<EndCause, { beta: BetaEndReason; quota: QuotaEndStatus }> = {
  user_stopped: { beta: 'user_stopped', quota: 'completed' },
  disconnected: { beta: 'user_stopped', quota: 'completed' },
  credits_exhausted: { beta: 'credits_exhausted', quota: 'completed' },
  quota_exceeded: { beta: 'quota_exceeded', quota: 'completed' },
  quota_failed: { beta: 'quota_failed', quota: 'completed' },
  beta_revoked: { beta: 'beta_revoked', quota: 'completed' },
  protocol_error: { beta: 'error', quota: 'error' },
  speech_service_failed: { beta: 'error', quota: 'error' },
  internal_error: { beta: 'error', quota: 'error' },
  server_shutdown: { beta: 'server_shutdown', quota: 'completed' },
  access_revoked: { beta: 'access_revoked', quota: 'completed' },
  instance_lost: { beta: 'instance_lost', quota: 'error' },
};

export function endCauseOf(error: LiveDubbingError): EndCause {
  switch (error.code) {
    case ErrorCode.CreditsExhausted:
      return 'credits_exhausted';
    case ErrorCode.QuotaExceeded:
      return 'quota_exceeded';
    case ErrorCode.BetaRevoked:
      return 'beta_revoked';
    case ErrorCode.SpeechServiceUnavailable:
      return 'speech_service_failed';
    case ErrorCode.InternalError:
      return 'internal_error';
    case ErrorCode.Unauthorized:
    case ErrorCode.UpgradeRequired:
      return 'access_revoked';
    default:
      return 'protocol_error';
  }
}

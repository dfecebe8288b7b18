/**
 * The live WebSocket protocol (docs/protocol.md; both gateways speak it): message types, error codes, close codes and
 * how each way a session ends maps onto them. The gateways, the owner of live sessions and the tests all import this.
 */
import type { BetaEndReason } from '../beta/sessions/beta-session.schema.js';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';

import { AUDIO_FORMAT, type QuotaMinutes } from '../protocol/index.js';

export { CloseCode } from '../common/errors/close-codes.js';
export { ErrorCode, type ErrorMessage } from '../common/errors/domain-error.js';
export { AUDIO_FORMAT };

/** Client → server text message types (src/protocol has their schemas); binary frames are audio. */
export const ClientMessageType = { Auth: 'auth', Stop: 'stop', Ping: 'ping', Flush: 'flush' } as const;
/** Internal events the adapter routes frames to. */
export const AUDIO_EVENT = 'audio';
export const INVALID_MESSAGE_EVENT = 'invalid_message';

export const protocolError = (message: string) => new DomainError(ErrorCode.ProtocolError, message);

export function insufficientCredits(remainingCredits: number): DomainError {
  return new DomainError(
    ErrorCode.InsufficientCredits,
    'Insufficient beta credits for live dubbing',
    { upgrade_required: true, remaining_credits: remainingCredits },
    'Insufficient beta credits',
  );
}

export function quotaExceeded(remaining: QuotaMinutes | undefined): DomainError {
  return new DomainError(ErrorCode.QuotaExceeded, 'Live dubbing quota exceeded', {
    upgrade_required: true,
    quota: remaining,
  });
}

export function creditsExhausted(): DomainError {
  return new DomainError(ErrorCode.CreditsExhausted, 'Beta credits exhausted', {
    upgrade_required: true,
    session_ended: true,
  });
}

/** A speech provider kept failing: an internal error (1011) the client can act on, without internals. */
export function speechServiceUnavailable(): DomainError {
  return new DomainError(
    ErrorCode.SpeechServiceUnavailable,
    'The speech service is unavailable; please try again later',
    { session_ended: true },
    'Speech service unavailable',
  );
}

export function betaRevoked(): DomainError {
  return new DomainError(ErrorCode.BetaRevoked, 'Beta access revoked', {
    upgrade_required: true,
    session_ended: true,
  });
}

/** This connection no longer holds its session: another instance ended it (or took it over) meanwhile. */
export function sessionMoved(): DomainError {
  return new DomainError(ErrorCode.SessionMoved, 'This connection no longer holds the session');
}

/** The user lost what live dubbing needs (deactivated, or no longer an active Premium/Family subscriber). */
export function accessRevoked(deactivated: boolean): DomainError {
  return deactivated
    ? new DomainError(ErrorCode.Unauthorized, 'The account is no longer active', { session_ended: true })
    : new DomainError(ErrorCode.UpgradeRequired, 'Live dubbing needs an active Premium or Family subscription', {
        upgrade_required: true,
        session_ended: true,
      });
}

/** A resume token that is not valid now: unknown, used, expired, another user's, or its session has ended. */
export function resumeFailed(): DomainError {
  return new DomainError(ErrorCode.ResumeFailed, 'This session cannot be resumed; open a new session');
}

/** The database is unreachable: an opening or a resume is refused (1013, try again later); a live session is suspended (4503). */
export function serviceUnavailable(): DomainError {
  return new DomainError(
    ErrorCode.ServiceUnavailable,
    'The service cannot reach its database; try again shortly',
    {},
    'Service unavailable',
  );
}

export function internalError(): DomainError {
  return new DomainError(ErrorCode.InternalError, 'Internal error');
}

export type QuotaEndStatus = 'completed' | 'error';

/** How each cause ends the beta session and the quota session (docs/protocol.md, "How a session ends"). */
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
  | 'instance_lost'
  | 'service_unavailable'
  | 'insufficient_credits'
  | 'idle_timeout';

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
  // Suspended while the database was unreachable, and not resumed in time.
  service_unavailable: { beta: 'error', quota: 'error' },
  // Refused at the hold: no beta session was created, and no quota session either.
  insufficient_credits: { beta: 'error', quota: 'completed' },
  // No audio for WS_IDLE_TIMEOUT_MS: the client went quiet, an ordinary end.
  idle_timeout: { beta: 'idle_timeout', quota: 'completed' },
};

export function endCauseOf(error: DomainError): EndCause {
  switch (error.code) {
    case ErrorCode.CreditsExhausted:
      return 'credits_exhausted';
    case ErrorCode.QuotaExceeded:
      return 'quota_exceeded';
    case ErrorCode.BetaRevoked:
      return 'beta_revoked';
    case ErrorCode.InsufficientCredits:
      return 'insufficient_credits';
    case ErrorCode.SpeechServiceUnavailable:
      return 'speech_service_failed';
    case ErrorCode.InternalError:
      return 'internal_error';
    case ErrorCode.ServiceUnavailable:
      return 'service_unavailable';
    case ErrorCode.Unauthorized:
    case ErrorCode.UpgradeRequired:
      return 'access_revoked';
    default:
      return 'protocol_error';
  }
}

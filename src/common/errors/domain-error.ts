import { HttpStatus } from '@nestjs/common';
import { ErrorCode, type LiveErrorCode } from '../../protocol/error-codes.js';
import type { ErrorMessage } from '../../protocol/messages.js';
import { CloseCode } from './close-codes.js';

/** The error codes are part of the live protocol's one definition (src/protocol, docs/protocol.md "One error model"). */
export { ErrorCode };
export type { ErrorMessage };

/** The one table from an error code to what each transport answers: an HTTP status, and a WebSocket close code. */
export const ERROR_RESPONSES: Record<ErrorCode, { status: HttpStatus; close: CloseCode }> = {
  [ErrorCode.Unauthorized]: { status: HttpStatus.UNAUTHORIZED, close: CloseCode.Unauthorized },
  [ErrorCode.Forbidden]: { status: HttpStatus.FORBIDDEN, close: CloseCode.PolicyViolation },
  [ErrorCode.NotFound]: { status: HttpStatus.NOT_FOUND, close: CloseCode.ChannelUnavailable },
  [ErrorCode.Conflict]: { status: HttpStatus.CONFLICT, close: CloseCode.ProtocolError },
  [ErrorCode.InvalidInput]: { status: HttpStatus.BAD_REQUEST, close: CloseCode.ProtocolError },
  [ErrorCode.InsufficientCredits]: { status: HttpStatus.CONFLICT, close: CloseCode.InsufficientCredits },
  [ErrorCode.InvitationInvalid]: { status: HttpStatus.NOT_FOUND, close: CloseCode.ProtocolError },
  [ErrorCode.ServiceUnavailable]: { status: HttpStatus.SERVICE_UNAVAILABLE, close: CloseCode.TryAgainLater },
  [ErrorCode.ProtocolError]: { status: HttpStatus.BAD_REQUEST, close: CloseCode.ProtocolError },
  [ErrorCode.AuthTimeout]: { status: HttpStatus.REQUEST_TIMEOUT, close: CloseCode.AuthTimeout },
  [ErrorCode.RateLimited]: { status: HttpStatus.TOO_MANY_REQUESTS, close: CloseCode.RateLimited },
  [ErrorCode.UpgradeRequired]: { status: HttpStatus.FORBIDDEN, close: CloseCode.UpgradeRequired },
  [ErrorCode.ChannelUnavailable]: { status: HttpStatus.NOT_FOUND, close: CloseCode.ChannelUnavailable },
  [ErrorCode.QuotaExceeded]: { status: HttpStatus.TOO_MANY_REQUESTS, close: CloseCode.QuotaExceeded },
  [ErrorCode.TooManySessions]: { status: HttpStatus.CONFLICT, close: CloseCode.TooManySessions },
  [ErrorCode.CreditsExhausted]: { status: HttpStatus.PAYMENT_REQUIRED, close: CloseCode.CreditsExhausted },
  [ErrorCode.BetaRevoked]: { status: HttpStatus.FORBIDDEN, close: CloseCode.BetaRevoked },
  [ErrorCode.SessionMoved]: { status: HttpStatus.CONFLICT, close: CloseCode.SessionMoved },
  [ErrorCode.ResumeFailed]: { status: HttpStatus.GONE, close: CloseCode.ResumeFailed },
  [ErrorCode.SpeechServiceUnavailable]: { status: HttpStatus.SERVICE_UNAVAILABLE, close: CloseCode.InternalError },
  [ErrorCode.InternalError]: { status: HttpStatus.INTERNAL_SERVER_ERROR, close: CloseCode.InternalError },
};

/**
 * What travels with an error besides its code and message: the extra fields of the live `error` message (typed by the
 * protocol's schema), plus `available_credits`, which only the REST answer of a credit removal carries.
 */
export type ErrorDetails = Omit<ErrorMessage, 'type' | 'code' | 'message'> & { available_credits?: number };

/**
 * An expected failure with a stable code; `details` travel with it to the client. One filter per transport turns it
 * into its answer through ERROR_RESPONSES; anything else that is thrown is an internal error there.
 */
export class DomainError extends Error {
  readonly closeReason: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    closeReason = message,
  ) {
    super(message);
    this.name = 'DomainError';
    this.closeReason = fitCloseReason(closeReason);
  }

  get status(): HttpStatus {
    return ERROR_RESPONSES[this.code].status;
  }

  get closeCode(): CloseCode {
    return ERROR_RESPONSES[this.code].close;
  }

  /** The WebSocket error message. */
  toMessage(): ErrorMessage {
    // A live gateway sends only the codes of LIVE_ERROR_CODES; the e2e tests check every message against the schema.
    return { type: 'error', code: this.code as LiveErrorCode, message: this.message, ...this.details };
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

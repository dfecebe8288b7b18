/** Stable error codes of the domain; each transport's filter maps them to its own status or close code. */
export enum ErrorCode {
  Unauthenticated = 'unauthenticated',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  InvalidInput = 'invalid_input',
  InsufficientCredits = 'insufficient_credits',
  InvitationInvalid = 'invitation_invalid',
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

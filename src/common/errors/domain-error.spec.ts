import { HttpStatus } from '@nestjs/common';
import { DomainError, ERROR_RESPONSES, ErrorCode, fitCloseReason } from './domain-error.js';

describe(DomainError.name, () => {
  it('answers each code with the HTTP status and the close code of the one table', () => {
    for (const code of Object.values(ErrorCode)) {
      const error = new DomainError(code, 'x');
      expect({ code, status: error.status, close: error.closeCode }).toEqual({ code, ...ERROR_RESPONSES[code] });
    }
  });

  it.each([
    [ErrorCode.Unauthorized, HttpStatus.UNAUTHORIZED, 4001],
    [ErrorCode.InsufficientCredits, HttpStatus.CONFLICT, 4003],
    [ErrorCode.BetaRevoked, HttpStatus.FORBIDDEN, 4033],
    [ErrorCode.SessionMoved, HttpStatus.CONFLICT, 4409],
    [ErrorCode.ServiceUnavailable, HttpStatus.SERVICE_UNAVAILABLE, 1013],
    [ErrorCode.InternalError, HttpStatus.INTERNAL_SERVER_ERROR, 1011],
  ])('maps %s to HTTP %i and close %i', (code, status, close) => {
    expect([new DomainError(code, 'x').status, new DomainError(code, 'x').closeCode]).toEqual([status, close]);
  });

  it('carries its details into the WebSocket error message', () => {
    expect(new DomainError(ErrorCode.QuotaExceeded, 'Out of minutes', { quota: { hour: 0, day: 5, month: 50 } }).toMessage()).toEqual({
      type: 'error',
      code: 'quota_exceeded',
      message: 'Out of minutes',
      quota: { hour: 0, day: 5, month: 50 },
    });
  });
});

describe(fitCloseReason.name, () => {
  it('keeps a short reason as it is', () => {
    expect(fitCloseReason('Session ended')).toBe('Session ended');
  });

  it('cuts a long reason to at most 123 bytes at a character boundary', () => {
    const cut = fitCloseReason('é'.repeat(200));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.includes('\uFFFD')).toBe(false);
  });
});

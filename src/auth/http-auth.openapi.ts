import { ErrorCode } from '../common/errors/domain-error.js';
import { type DocumentedError, failsWith } from '../common/openapi/error-responses.js';

/** What every operation behind HttpAuthGuard may answer, whatever it does. */
export const USER_ERRORS: DocumentedError[] = [
  failsWith(ErrorCode.Unauthorized, 'No bearer token, or one that is invalid, expired or names an unknown or deactivated user'),
];

/** What every operation behind HttpAuthGuard and AdminGuard may answer, whatever it does. */
export const ADMIN_ERRORS: DocumentedError[] = [...USER_ERRORS, failsWith(ErrorCode.Forbidden, 'The caller is not an admin')];

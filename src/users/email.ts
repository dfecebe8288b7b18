/** The form every email is stored and compared in: users, beta accounts, enrolments and invitations. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const ATOM = "[A-Za-z0-9!#$&'*+/=?^_`{|}~-]+";
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?';

/**
 * What the API accepts as an email: an RFC 5322 dot-atom local part, `@`, and a domain of at least two labels of
 * letters, digits and inner hyphens. The OpenAPI document publishes this pattern and EMAIL_MAX_LENGTH as they are.
 * The local part leaves out `%`: in an `{email}` path segment, client tools take `%41` for an escape, not for text.
 */
export const EMAIL_PATTERN = `^${ATOM}(\\.${ATOM})*@${LABEL}(\\.${LABEL})+$`;
export const EMAIL_MAX_LENGTH = 254;
const EMAIL = new RegExp(EMAIL_PATTERN);

export function isEmailAddress(value: unknown): value is string {
  return typeof value === 'string' && value.length <= EMAIL_MAX_LENGTH && EMAIL.test(value);
}

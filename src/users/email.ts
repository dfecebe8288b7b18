/** The form every email is stored and compared in: users, beta accounts, enrolments and invitations. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

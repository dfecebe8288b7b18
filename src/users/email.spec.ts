import { EMAIL_MAX_LENGTH, isEmailAddress, normalizeEmail } from './email.js';

describe(isEmailAddress.name, () => {
  it.each([
    'viewer@example.com',
    'Viewer.Name+tag@sub.example.co',
    "o'brien!#$&*/=?^_`{|}~-@example-mail.io",
    'a@b.c',
    `${'a'.repeat(EMAIL_MAX_LENGTH - 6)}@b.com`,
  ])('accepts %j', (email) => {
    expect(isEmailAddress(email)).toBe(true);
  });

  it.each([
    'not-an-email',
    'a@localhost',
    'a@-b.com',
    'a@b-.com',
    '.a@b.com',
    'a..b@b.com',
    'a b@b.com',
    ' a@b.com',
    'a@b.com\n',
    'a%41@b.com',
    'a@b..com',
    `${'a'.repeat(EMAIL_MAX_LENGTH - 5)}@b.com`,
    42,
    null,
  ])('refuses %j', (email) => {
    expect(isEmailAddress(email)).toBe(false);
  });
});

describe(normalizeEmail.name, () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail(' Viewer@Example.COM ')).toBe('viewer@example.com');
  });
});

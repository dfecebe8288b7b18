import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { startTestApp, type TestApp } from '../harness/app.js';
import { createUserWithToken, uniqueEmail } from '../harness/factories.js';
import { http, type HttpResult } from '../harness/http.js';
import { ManualClock } from '../harness/manual-clock.js';

const DAY_MS = 86_400_000;

describe('Beta REST: credit grants', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let adminToken: string;
  let documented: (method: string, path: string, response: HttpResult) => void;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    adminToken = (await createUserWithToken(t.app, { admin: true })).token;
    documented = await responseChecker(t.baseUrl);
  });

  afterAll(async () => {
    await t.close();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    http(t.baseUrl, method, `/api/v1/admin/beta${path}`, { token: adminToken, body });
  const grant = (email: string, body: Record<string, unknown>) => admin('POST', `/users/${email}/grants`, body);
  const grantsOf = async (email: string) => {
    const response = await admin('GET', `/users/${email}/grants`);
    expect(response.status).toBe(200);
    documented('get', '/api/v1/admin/beta/users/{email}/grants', response);
    return response.body.grants as { id: string; remaining: number; status: string }[];
  };
  const entriesOf = (email: string) => t.connection.collection('beta_credit_transactions').find({ email }).sort({ _id: 1 }).toArray();
  const inDays = (days: number) => new Date(clock.now() + days * DAY_MS).toISOString();

  async function enrolled(credits = 100): Promise<{ email: string; token: string }> {
    const { user, token } = await createUserWithToken(t.app);
    expect((await admin('POST', '/enrollments', { email: user.email, credits })).status).toBe(201);
    return { email: user.email, token };
  }

  it('grants credits with 201 and the grant, and lists every grant with its remainder, newest first', async () => {
    const { email } = await enrolled(100);
    const enrolledAt = new Date(clock.now()).toISOString();
    // Grants made in one millisecond have no order of their own: the listing's newest first needs them apart.
    await clock.advance(1000);
    const expiresAt = inDays(30);
    const response = await grant(email.toUpperCase(), {
      amount: 50,
      reason: 'launch bonus',
      priority: 0,
      expires_at: expiresAt,
      idempotency_key: 'launch-0001',
    });
    expect(response.status).toBe(201);
    documented('post', '/api/v1/admin/beta/users/{email}/grants', response);
    const created = {
      id: `grant:${email}:launch-0001`,
      amount: 50,
      remaining: 50,
      priority: 0,
      expires_at: expiresAt,
      created_at: new Date(clock.now()).toISOString(),
      reason: 'launch bonus',
      status: 'active',
    };
    expect(response.body).toEqual(created);
    const enrolment = {
      id: `enrollment:${email}`,
      amount: 100,
      remaining: 100,
      priority: 10,
      created_at: enrolledAt,
      reason: 'enrolment (admin)',
      status: 'active',
    };
    expect(await grantsOf(email)).toEqual([created, enrolment]);
    const user = await admin('GET', `/users/${email}`);
    documented('get', '/api/v1/admin/beta/users/{email}', user);
    expect(user.body).toMatchObject({ remaining_credits: 150, grants: [created, enrolment] });
  });

  it('answers a retry with the same key and body with the same grant, granting once, also when retries race', async () => {
    const { email } = await enrolled(100);
    const body = { amount: 25, reason: 'support ticket 42', idempotency_key: 'ticket-42-grant' };
    const first = await grant(email, body);
    expect(first.status).toBe(201);
    const retries = await Promise.all([grant(email, body), grant(email, body), grant(email, body)]);
    expect(retries.map((retry) => [retry.status, retry.body])).toEqual(retries.map(() => [201, first.body]));
    expect((await entriesOf(email)).filter((entry) => entry.amount === 25)).toHaveLength(1);
    expect((await admin('GET', `/users/${email}`)).body.remaining_credits).toBe(125);
  });

  it('refuses a key reused for another grant with 409 and changes nothing', async () => {
    const { email } = await enrolled(100);
    const body = { amount: 25, reason: 'goodwill', priority: 5, expires_at: inDays(7), idempotency_key: 'reused-grant-01' };
    expect((await grant(email, body)).status).toBe(201);
    const before = await entriesOf(email);
    for (const change of [
      { amount: 26 },
      { reason: 'other reason' },
      { priority: 6 },
      { expires_at: inDays(8) },
      { expires_at: undefined },
    ]) {
      const reused = await grant(email, { ...body, ...change });
      expect(reused.status).toBe(409);
      documented('post', '/api/v1/admin/beta/users/{email}/grants', reused);
      expect(reused.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'conflict',
        message: expect.stringContaining('reused-grant-01'),
      });
    }
    expect(await entriesOf(email)).toEqual(before);
    expect((await admin('GET', `/users/${email}`)).body.remaining_credits).toBe(125);
  });

  it.each([
    ['amount 0', { amount: 0 }, /^amount must be at least 1: .*credits adjustment endpoint/],
    ['a negative amount', { amount: -5 }, /^amount must be at least 1: .*credits adjustment endpoint .*negative amount/],
    ['a fractional amount', { amount: 2.5 }, /^amount must be an integer/],
    ['an amount as text', { amount: '5' }, /^amount must be an integer/],
    ['no reason', { reason: undefined }, /^reason must be a string of 3 to 200 characters/],
    ['a blank reason', { reason: ' \t  ' }, /^reason must be a string of 3 to 200 characters, not all blank$/],
    ['no idempotency_key', { idempotency_key: undefined }, /^idempotency_key must be a string of 8 to 100 characters/],
    ['a short idempotency_key', { idempotency_key: 'short' }, /^idempotency_key must be a string of 8 to 100 characters/],
    ['an unparseable expires_at', { expires_at: 'next week' }, /^expires_at must be an RFC 3339 date-time/],
    ['an expires_at on no day', { expires_at: '2099-02-30T00:00:00Z' }, /^expires_at must be an RFC 3339 date-time/],
    ['an expires_at of null', { expires_at: null }, /^expires_at must be an RFC 3339 date-time/],
    ['priority 101', { priority: 101 }, /^priority must not be greater than 100$/],
    ['priority -1', { priority: -1 }, /^priority must not be less than 0$/],
    ['a fractional priority', { priority: 0.5 }, /^priority must be an integer/],
  ])('refuses %s with 400 and a field message, and grants nothing', async (_, change, message) => {
    const { email } = await enrolled(100);
    const before = await entriesOf(email);
    const response = await grant(email, { amount: 10, reason: 'valid reason', idempotency_key: 'bad-input-01', ...change });
    expect(response.status).toBe(400);
    documented('post', '/api/v1/admin/beta/users/{email}/grants', response);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(response.body.message).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
    expect(await entriesOf(email)).toEqual(before);
  });

  it.each([
    ['now', 0],
    ['a minute ago', -60_000],
  ])('refuses an expires_at of %s with 400 invalid_input, and grants nothing', async (_, offset) => {
    const { email } = await enrolled(100);
    const before = await entriesOf(email);
    const body = {
      amount: 10,
      reason: 'too late',
      expires_at: new Date(clock.now() + offset).toISOString(),
      idempotency_key: 'past-expiry',
    };
    const response = await grant(email, body);
    expect(response.status).toBe(400);
    documented('post', '/api/v1/admin/beta/users/{email}/grants', response);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'invalid_input',
      message: 'expires_at must be in the future',
    });
    expect(await entriesOf(email)).toEqual(before);
  });

  it('answers 404 for an email that is not enrolled: never, or no longer; a revoked account still lists its grants', async () => {
    const stranger = uniqueEmail();
    const body = { amount: 10, reason: 'for nobody', idempotency_key: 'nobody-0001' };
    const unknown = await grant(stranger, body);
    expect(unknown.status).toBe(404);
    documented('post', '/api/v1/admin/beta/users/{email}/grants', unknown);
    expect(unknown.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'not_found', message: `${stranger} is not enrolled` });
    const listed = await admin('GET', `/users/${stranger}/grants`);
    expect(listed.status).toBe(404);
    documented('get', '/api/v1/admin/beta/users/{email}/grants', listed);
    expect(await entriesOf(stranger)).toEqual([]);

    const { email } = await enrolled(100);
    expect((await admin('DELETE', `/enrollments/${email}`)).status).toBe(200);
    expect((await grant(email, body)).status).toBe(404);
    expect(await grantsOf(email)).toEqual([expect.objectContaining({ id: `enrollment:${email}`, remaining: 100 })]);
  });

  it('answers 400 to a path that is not an email', async () => {
    expect((await grant('not-an-email', { amount: 10, reason: 'valid reason', idempotency_key: 'bad-path-01' })).status).toBe(400);
    expect((await admin('GET', '/users/not-an-email/grants')).status).toBe(400);
  });

  it('answers 401 without a token and 403 to non-admins', async () => {
    const { email, token } = await enrolled(100);
    const body = { amount: 10, reason: 'self service', idempotency_key: 'self-grant-01' };
    const path = `/api/v1/admin/beta/users/${email}/grants`;
    expect((await http(t.baseUrl, 'POST', path, { body })).status).toBe(401);
    expect((await http(t.baseUrl, 'GET', path)).status).toBe(401);
    const forbidden = await http(t.baseUrl, 'POST', path, { token, body });
    expect(forbidden.status).toBe(403);
    documented('post', '/api/v1/admin/beta/users/{email}/grants', forbidden);
    expect((await http(t.baseUrl, 'GET', path, { token })).status).toBe(403);
    expect((await admin('GET', `/users/${email}`)).body.remaining_credits).toBe(100);
  });

  it('shows the user their active grants in the order they are spent, and the next expiry, on GET /beta/credits', async () => {
    const { email, token } = await enrolled(100);
    const mine = async () => {
      const response = await http(t.baseUrl, 'GET', '/api/v1/beta/credits', { token });
      expect(response.status).toBe(200);
      documented('get', '/api/v1/beta/credits', response);
      return response.body;
    };
    const enrolment = { id: `enrollment:${email}`, remaining: 100, priority: 10 };
    expect(await mine()).toEqual({
      is_beta_user: true,
      total_credits: 100,
      granted_credits: 100,
      remaining_credits: 100,
      held_credits: 0,
      available_credits: 100,
      active_sessions: 0,
      grants: [enrolment],
      next_expiry: null,
    });
    const soon = inDays(1);
    const later = inDays(2);
    expect(
      (await grant(email, { amount: 20, reason: 'spent last', priority: 20, expires_at: soon, idempotency_key: 'soon-0001' })).status,
    ).toBe(201);
    expect(
      (await grant(email, { amount: 30, reason: 'spent first', priority: 5, expires_at: later, idempotency_key: 'later-001' })).status,
    ).toBe(201);
    expect(await mine()).toMatchObject({
      total_credits: 150,
      granted_credits: 150,
      remaining_credits: 150,
      grants: [
        { id: `grant:${email}:later-001`, remaining: 30, priority: 5, expires_at: later },
        enrolment,
        { id: `grant:${email}:soon-0001`, remaining: 20, priority: 20, expires_at: soon },
      ],
      next_expiry: soon,
    });

    // Past its expiry a grant is no longer active: it leaves the list, the next expiry moves on, and the credit bar's
    // length (granted_credits) no longer counts it; the credits ever granted still do.
    await clock.advance(DAY_MS);
    expect(await mine()).toMatchObject({
      total_credits: 150,
      granted_credits: 130,
      remaining_credits: 130,
      grants: [expect.objectContaining({ remaining: 30 }), enrolment],
      next_expiry: later,
    });
    expect((await grantsOf(email)).find((listed) => listed.id === `grant:${email}:soon-0001`)).toMatchObject({
      remaining: 0,
      status: 'expired',
    });
  });

  it('checks answers against the document: one off its schema fails', () => {
    const path = '/api/v1/admin/beta/users/{email}/grants';
    const answer = (body: unknown) => ({ status: 201, body }) as HttpResult;
    const valid = {
      id: 'grant:a@b.c:key-0001',
      amount: 1,
      remaining: 1,
      priority: 10,
      created_at: '2026-11-25T12:00:00.000Z',
      reason: null,
      status: 'active',
    };
    expect(() => documented('post', path, answer(valid))).not.toThrow();
    expect(() => documented('post', path, answer({ ...valid, expires_at: null }))).toThrow();
    expect(() => documented('post', path, answer({ ...valid, status: 'pending' }))).toThrow();
  });

  it('spends a priority-0 grant before the enrolment grant, then marks it spent', async () => {
    const { email } = await enrolled(100);
    expect((await grant(email, { amount: 30, reason: 'spend me first', priority: 0, idempotency_key: 'first-0001' })).status).toBe(201);
    const remove = (amount: number, key: string) =>
      admin('POST', `/users/${email}/credits`, { amount: -amount, reason: 'chargeback', idempotency_key: key });
    expect((await remove(20, 'remove-0001')).status).toBe(201);
    const remainders = async () =>
      Object.fromEntries((await grantsOf(email)).map((listed) => [listed.id, [listed.remaining, listed.status]]));
    expect(await remainders()).toEqual({ [`grant:${email}:first-0001`]: [10, 'active'], [`enrollment:${email}`]: [100, 'active'] });
    expect((await remove(15, 'remove-0002')).status).toBe(201);
    expect(await remainders()).toEqual({ [`grant:${email}:first-0001`]: [0, 'spent'], [`enrollment:${email}`]: [95, 'active'] });
  });
});

/**
 * Checks an answer against the response schema the OpenAPI document gives its operation and status, as the contract
 * test (scripts/contract/run.sh) does: the same document, every component it refers to.
 */
async function responseChecker(baseUrl: string): Promise<(method: string, path: string, response: HttpResult) => void> {
  const document = (await http(baseUrl, 'GET', '/docs-json')).body;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ components: document.components }, 'openapi');
  const compiled = new Map<string, ValidateFunction>();
  return (method, path, response) => {
    const operation = document.paths[path]?.[method];
    expect(operation).toBeDefined();
    const documentedResponse = operation.responses[String(response.status)];
    expect({ [`${method} ${path}`]: response.status, documented: documentedResponse !== undefined }).toEqual({
      [`${method} ${path}`]: response.status,
      documented: true,
    });
    const key = `${method} ${path} ${response.status}`;
    if (!compiled.has(key)) {
      const schema = JSON.parse(
        JSON.stringify(documentedResponse.content['application/json'].schema).replaceAll('"#/components', '"openapi#/components'),
      );
      compiled.set(key, ajv.compile(schema));
    }
    const validate = compiled.get(key)!;
    expect({ [key]: validate(response.body) ? 'valid' : validate.errors }).toEqual({ [key]: 'valid' });
  };
}

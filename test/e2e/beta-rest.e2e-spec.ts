import { jest } from '@jest/globals';
import { CreditLedgerRepository } from '../../src/beta/credits/credit-ledger.repository.js';
import { CreditReconcilerService } from '../../src/beta/credits/credit-reconciler.service.js';
import { BetaSessionsService } from '../../src/beta/sessions/beta-sessions.service.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { expectExactBooks } from '../harness/beta-books.js';
import { createUserWithToken, uniqueEmail } from '../harness/factories.js';
import { http } from '../harness/http.js';

describe('Beta REST', () => {
  let t: TestApp;
  let adminToken: string;

  beforeAll(async () => {
    t = await startTestApp();
    adminToken = (await createUserWithToken(t.app, { admin: true })).token;
  });

  afterAll(async () => {
    await t.close();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    http(t.baseUrl, method, `/api/v1/admin/beta${path}`, { token: adminToken, body });
  const entriesOf = (email: string) => t.connection.collection('beta_credit_transactions').find({ email }).sort({ _id: 1 }).toArray();
  const books = () => expectExactBooks({ connection: t.connection, reconciler: t.app.get(CreditReconcilerService) });

  it('enrols once: a second enrolment neither errors nor grants twice', async () => {
    const { user, token } = await createUserWithToken(t.app);
    const first = await admin('POST', '/enrollments', { email: user.email });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ email: user.email, newly_enrolled: true, total_credits: 500, remaining_credits: 500 });
    const second = await admin('POST', '/enrollments', { email: user.email.toUpperCase(), credits: 200 });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ newly_enrolled: false, total_credits: 500 });
    const mine = await http(t.baseUrl, 'GET', '/api/v1/beta/credits', { token });
    expect(mine.body).toEqual({
      is_beta_user: true,
      total_credits: 500,
      granted_credits: 500,
      remaining_credits: 500,
      held_credits: 0,
      available_credits: 500,
      active_sessions: 0,
      grants: [{ id: `enrollment:${user.email}`, remaining: 500, priority: 10 }],
      next_expiry: null,
    });
  });

  it('adjusts credits through the ledger, never below 0, and pages the ledger newest first', async () => {
    const { user, token } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email, credits: 100 });
    expect(
      (await admin('POST', `/users/${user.email}/credits`, { amount: 25, reason: 'goodwill', idempotency_key: 'goodwill-0001' })).body
        .remaining_credits,
    ).toBe(125);
    expect(
      (await admin('POST', `/users/${user.email}/credits`, { amount: 25, reason: 'goodwill', idempotency_key: 'goodwill-0001' })).body
        .remaining_credits,
    ).toBe(125);
    const tooMuch = await admin('POST', `/users/${user.email}/credits`, { amount: -126, reason: 'chargeback' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.message).toBe('Cannot remove 126 credits: only 125 available');
    const first = await http(t.baseUrl, 'GET', '/api/v1/beta/credits/transactions?limit=1', { token });
    expect(first.body.transactions).toEqual([expect.objectContaining({ type: 'adjustment', amount: 25, reason: 'goodwill' })]);
    const second = await http(t.baseUrl, 'GET', `/api/v1/beta/credits/transactions?limit=1&cursor=${first.body.next_cursor}`, { token });
    expect(second.body).toEqual({ transactions: [expect.objectContaining({ type: 'grant', amount: 100 })], next_cursor: null });
  });

  it('refuses an adjustment key reused with another amount or reason with 409 and changes nothing', async () => {
    const { user } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email, credits: 100 });
    const path = `/users/${user.email}/credits`;
    expect((await admin('POST', path, { amount: 25, reason: 'goodwill', idempotency_key: 'reused-0001' })).status).toBe(201);
    const before = await entriesOf(user.email);
    for (const body of [
      { amount: 30, reason: 'goodwill' },
      { amount: 25, reason: 'another reason' },
      { amount: -25, reason: 'goodwill' },
    ]) {
      const reused = await admin('POST', path, { ...body, idempotency_key: 'reused-0001' });
      expect(reused.status).toBe(409);
      expect(reused.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'conflict',
        message: expect.stringContaining('reused-0001'),
      });
    }
    expect(await entriesOf(user.email)).toEqual(before);
    expect((await admin('GET', `/users/${user.email}`)).body.remaining_credits).toBe(125);
    expect((await admin('POST', path, { amount: 25, reason: 'goodwill', idempotency_key: 'reused-0001' })).body.remaining_credits).toBe(
      125,
    );
  });

  it('applies concurrent requests with one key once; of different amounts under one key only one is applied', async () => {
    const { user } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email, credits: 100 });
    const path = `/users/${user.email}/credits`;
    const same = await Promise.all(
      Array.from({ length: 6 }, () => admin('POST', path, { amount: 10, reason: 'retry storm', idempotency_key: 'storm-0001' })),
    );
    expect(same.map((response) => response.status)).toEqual([201, 201, 201, 201, 201, 201]);
    expect((await entriesOf(user.email)).filter((entry) => entry.amount === 10)).toHaveLength(1);
    const mixed = await Promise.all(
      [11, 12, 13, 14].map((amount) => admin('POST', path, { amount, reason: 'race', idempotency_key: 'mixed-0001' })),
    );
    expect(mixed.map((response) => response.status).sort()).toEqual([201, 409, 409, 409]);
    const winner = 11 + mixed.findIndex((response) => response.status === 201);
    expect((await entriesOf(user.email)).map((entry) => entry.amount)).toEqual(expect.arrayContaining([100, 10, winner]));
    expect(await entriesOf(user.email)).toHaveLength(3);
    expect((await admin('GET', `/users/${user.email}`)).body.remaining_credits).toBe(110 + winner);
    await books();
  });

  it('answers 409 insufficient_credits to a removal that loses a race with a session hold, and nets it to zero in the ledger', async () => {
    const { user } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email, credits: 100 });
    const ledger = t.app.get(CreditLedgerRepository);
    const sessions = t.app.get(BetaSessionsService);
    const started: string[] = [];
    const insert = ledger.appendChange.bind(ledger);
    const race = jest.spyOn(ledger, 'appendChange').mockImplementationOnce(async (entry) => {
      // The removal was checked against 100 available; a session now holds 60 of them before it is applied.
      const start = await sessions.start(user);
      if (start.ok) started.push(start.sessionId);
      return insert(entry);
    });
    const body = { amount: -50, reason: 'chargeback', idempotency_key: 'lost-race-0001' };
    const removal = await admin('POST', `/users/${user.email}/credits`, body);
    race.mockRestore();
    expect(started).toHaveLength(1);
    const refusal = {
      statusCode: 409,
      error: 'Conflict',
      code: 'insufficient_credits',
      message: 'Cannot remove 50 credits: only 40 available',
      available_credits: 40,
    };
    expect(removal.body).toEqual(refusal);
    expect((await admin('POST', `/users/${user.email}/credits`, body)).body).toEqual(refusal);
    expect((await entriesOf(user.email)).map((entry) => entry.amount).sort((x, y) => x - y)).toEqual([-50, 50, 100]);
    expect((await admin('GET', `/users/${user.email}`)).body).toMatchObject({ remaining_credits: 100, held_credits: 60 });
    await sessions.end(started[0], 'user_stopped');
    await books();
  });

  it('refuses an enrolment with 0 credits with 400 and writes nothing', async () => {
    const email = uniqueEmail();
    const response = await admin('POST', '/enrollments', { email, credits: 0 });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message: ['credits must not be less than 1'] });
    expect(await t.connection.collection('beta_users').countDocuments({ _id: email as never })).toBe(0);
    expect(await t.connection.collection('beta_credits').countDocuments({ _id: email as never })).toBe(0);
    expect(await entriesOf(email)).toEqual([]);
  });

  it('pre-authorizes without holding', async () => {
    const { user, token } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email, credits: 90 });
    const check = await http(t.baseUrl, 'POST', '/api/v1/beta/preauthorize', {
      token,
      body: { feature: 'live_dubbing', estimated_seconds: 100 },
    });
    expect(check.status).toBe(200);
    expect(check.body).toEqual({ allowed: false, required_credits: 100, remaining_credits: 90 });
    expect((await http(t.baseUrl, 'POST', '/api/v1/beta/preauthorize', { token, body: { feature: 'live_dubbing' } })).body.allowed).toBe(
      true,
    );
  });

  it.each([null, 1.5, '60', 0, 86_401])('refuses a pre-authorization for %j seconds with 400, as the schema does', async (seconds) => {
    const { token } = await createUserWithToken(t.app);
    const response = await http(t.baseUrl, 'POST', '/api/v1/beta/preauthorize', {
      token,
      body: { feature: 'live_dubbing', estimated_seconds: seconds },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toEqual(expect.arrayContaining([expect.stringMatching(/^estimated_seconds /)]));
  });

  it.each(['1.0', '0x10', '%205', '05', '1e1', ''])('refuses the ledger page limit %j, which is not a decimal integer', async (limit) => {
    const { token } = await createUserWithToken(t.app);
    const response = await http(t.baseUrl, 'GET', `/api/v1/beta/credits/transactions?limit=${limit}`, { token });
    expect(response.status).toBe(400);
  });

  it('reads any cursor of the documented form as a position in the ledger, and refuses any other', async () => {
    const { user, token } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email, credits: 100 });
    const page = (cursor: string) => http(t.baseUrl, 'GET', `/api/v1/beta/credits/transactions?cursor=${cursor}`, { token });
    expect((await page('0.')).body).toEqual({ transactions: [], next_cursor: null });
    expect((await page(`${Date.now() + 60_000}.bm8ta2V5`)).body.transactions).toHaveLength(1);
    for (const cursor of ['x', '01.AA', '1.A=', '1', `${'9'.repeat(16)}.A`]) {
      expect((await page(cursor)).status).toBe(400);
    }
  });

  it('revokes, shows a user to admins, and answers 404 for unknown users', async () => {
    const { user } = await createUserWithToken(t.app);
    await admin('POST', '/enrollments', { email: user.email });
    expect((await admin('DELETE', `/enrollments/${user.email}`)).body).toEqual({ email: user.email, is_beta_user: false });
    expect((await admin('GET', `/users/${user.email}`)).body).toMatchObject({
      is_beta_user: false,
      remaining_credits: 500,
      recent_transactions: [expect.objectContaining({ type: 'grant' })],
    });
    expect((await admin('GET', `/users/${uniqueEmail()}`)).status).toBe(404);
    expect((await admin('DELETE', `/enrollments/${uniqueEmail()}`)).status).toBe(404);
  });

  it.each([
    ['POST', '/enrollments', { email: { $gt: '' } }],
    ['POST', '/enrollments', { email: 'a@example.com', credits: -5 }],
    ['POST', '/enrollments', { email: 'a@example.com', credits: '500' }],
    ['POST', '/enrollments', { email: 'a@example.com', credits: null }],
    ['POST', '/enrollments', { email: 'a@example.com', extra: true }],
    ['POST', '/users/a@example.com/credits', { amount: 5, reason: 'x y z', idempotency_key: null }],
    ['POST', '/users/a@example.com/credits', { amount: 1.5, reason: 'x y z' }],
    ['POST', '/users/a@example.com/credits', { amount: 0, reason: 'nothing' }],
    ['POST', '/users/a@example.com/credits', { amount: 5 }],
    ['GET', '/sessions?status=running', undefined],
    ['GET', '/users/not-an-email', undefined],
  ])('answers 400 with field messages to %s %s %j and changes nothing', async (method, path, body) => {
    const before = await t.connection.collection('beta_credit_transactions').countDocuments();
    const response = await admin(method, path, body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(await t.connection.collection('beta_credit_transactions').countDocuments()).toBe(before);
  });

  it('answers 401 without a token and 403 to non-admins', async () => {
    const { token } = await createUserWithToken(t.app);
    expect((await http(t.baseUrl, 'GET', '/api/v1/admin/beta/sessions')).status).toBe(401);
    expect((await http(t.baseUrl, 'GET', '/api/v1/admin/beta/sessions', { token })).status).toBe(403);
    expect((await http(t.baseUrl, 'GET', '/api/v1/beta/credits')).status).toBe(401);
    expect((await admin('GET', '/sessions?status=active')).status).toBe(200);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { BetaInvitationsService } from '../../src/beta/invitations/beta-invitations.service.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { createUserWithToken, uniqueEmail } from '../harness/factories.js';
import { http } from '../harness/http.js';
import { ManualClock } from '../harness/manual-clock.js';

const DAY_MS = 86_400_000;
const INVALID_INVITATION = {
  statusCode: 404,
  error: 'Not Found',
  message: 'Invalid or expired invitation code',
  code: 'invitation_invalid',
};

describe(BetaInvitationsService.name, () => {
  const clock = new ManualClock();
  let t: TestApp;
  let adminEmail: string;
  let adminToken: string;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    const admin = await createUserWithToken(t.app, { admin: true });
    adminEmail = admin.user.email;
    adminToken = admin.token;
  });

  afterAll(async () => {
    await t.close();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    http(t.baseUrl, method, `/api/v1/admin/beta${path}`, { token: adminToken, body });

  async function invite(email: string): Promise<{ id: string; code: string }> {
    const response = await admin('POST', '/invitations', { email });
    expect(response.status).toBe(201);
    return response.body;
  }

  const accept = (token: string, code: unknown) => http(t.baseUrl, 'POST', '/api/v1/beta/invitations/accept', { token, body: { code } });

  const grantsOf = (email: string) => t.connection.collection('beta_credit_transactions').find({ email, type: 'grant' }).toArray();

  async function listed(id: string, status?: string): Promise<any> {
    const response = await admin('GET', `/invitations${status === undefined ? '' : `?status=${status}`}`);
    expect(response.status).toBe(200);
    return response.body.invitations.find((invitation: { id: string }) => invitation.id === id);
  }

  it('issues a pending invitation with a URL-safe 128-bit code that expires after BETA_INVITATION_TTL_DAYS', async () => {
    const email = uniqueEmail();
    const response = await admin('POST', '/invitations', { email: email.toUpperCase() });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      email,
      code: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      status: 'pending',
      expires_at: new Date(clock.now() + 14 * DAY_MS).toISOString(),
    });
  });

  it('enrols the invitee who accepts the code, with 500 credits granted once', async () => {
    const { user, token } = await createUserWithToken(t.app);
    const { code } = await invite(user.email.toUpperCase());
    const accepted = await accept(token, code);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({
      email: user.email,
      newly_enrolled: true,
      is_beta_user: true,
      total_credits: 500,
      granted_credits: 500,
      remaining_credits: 500,
      held_credits: 0,
      available_credits: 500,
      active_sessions: 0,
    });
    expect((await http(t.baseUrl, 'GET', '/api/v1/beta/credits', { token })).body).toMatchObject({
      is_beta_user: true,
      remaining_credits: 500,
    });
    expect(await grantsOf(user.email)).toEqual([
      expect.objectContaining({ amount: 500, reason: 'enrolment (invitation)', actor: adminEmail }),
    ]);
    expect(await t.connection.collection('beta_users').findOne({ _id: user.email as never })).toMatchObject({ enrolled_via: 'invitation' });
  });

  it('stores only the SHA-256 of the code, never the code itself', async () => {
    const email = uniqueEmail();
    const { id, code } = await invite(email);
    const stored = await t.connection.collection('beta_invitations').findOne({ _id: id as never });
    expect(stored).toMatchObject({ email, status: 'pending', code_hash: createHash('sha256').update(code).digest('hex') });
    const everything = JSON.stringify(await t.connection.collection('beta_invitations').find().toArray());
    expect(everything).not.toContain(code);
  });

  it('refuses an unknown code', async () => {
    const { user, token } = await createUserWithToken(t.app);
    await invite(user.email);
    const response = await accept(token, randomBytes(16).toString('base64url'));
    expect(response).toMatchObject({ status: 404, body: INVALID_INVITATION });
    expect(await grantsOf(user.email)).toEqual([]);
  });

  it("refuses the code of another email's invitation with the same message, and leaves it usable by its invitee", async () => {
    const invitee = await createUserWithToken(t.app);
    const other = await createUserWithToken(t.app);
    const { id, code } = await invite(invitee.user.email);
    expect(await accept(other.token, code)).toMatchObject({ status: 404, body: INVALID_INVITATION });
    expect(await grantsOf(other.user.email)).toEqual([]);
    expect((await listed(id)).status).toBe('pending');
    expect((await accept(invitee.token, code)).status).toBe(200);
  });

  it('refuses a used code with the same message and grants nothing more', async () => {
    const { user, token } = await createUserWithToken(t.app);
    const { id, code } = await invite(user.email);
    expect((await accept(token, code)).status).toBe(200);
    expect(await accept(token, code)).toMatchObject({ status: 404, body: INVALID_INVITATION });
    expect(await grantsOf(user.email)).toHaveLength(1);
    expect(await listed(id, 'accepted')).toMatchObject({ status: 'accepted', accepted_at: new Date(clock.now()).toISOString() });
  });

  it('accepts a code until its last millisecond and refuses it from its expiry on', async () => {
    const early = await createUserWithToken(t.app);
    const late = await createUserWithToken(t.app);
    const forEarly = await invite(early.user.email);
    const forLate = await invite(late.user.email);
    await clock.advance(14 * DAY_MS - 1);
    expect((await accept(early.token, forEarly.code)).status).toBe(200);
    await clock.advance(2);
    expect(await accept(late.token, forLate.code)).toMatchObject({ status: 404, body: INVALID_INVITATION });
    expect(await grantsOf(late.user.email)).toEqual([]);
    expect((await listed(forLate.id, 'expired')).status).toBe('expired');
  });

  it('lets exactly one of 10 concurrent accepts of a code succeed and grants the credits once', async () => {
    const { user, token } = await createUserWithToken(t.app);
    const { id, code } = await invite(user.email);
    const responses = await Promise.all(Array.from({ length: 10 }, () => accept(token, code)));
    expect(responses.map((response) => response.status).sort()).toEqual([200, ...Array<number>(9).fill(404)]);
    expect(responses.filter((response) => response.status === 404).map((response) => response.body)).toEqual(
      Array(9).fill(INVALID_INVITATION),
    );
    expect(await grantsOf(user.email)).toEqual([expect.objectContaining({ amount: 500 })]);
    expect((await http(t.baseUrl, 'GET', '/api/v1/beta/credits', { token })).body).toMatchObject({
      total_credits: 500,
      remaining_credits: 500,
    });
    expect((await listed(id)).status).toBe('accepted');
  });

  it('revokes the pending invitation of an email when a new one is issued for it', async () => {
    const { user, token } = await createUserWithToken(t.app);
    const first = await invite(user.email);
    const second = await invite(user.email);
    expect(await accept(token, first.code)).toMatchObject({ status: 404, body: INVALID_INVITATION });
    expect(await listed(first.id, 'revoked')).toMatchObject({ status: 'revoked', revoked_at: new Date(clock.now()).toISOString() });
    expect((await accept(token, second.code)).status).toBe(200);
  });

  it('leaves exactly one pending invitation when 10 are issued for one email at once', async () => {
    const email = uniqueEmail();
    const responses = await Promise.all(Array.from({ length: 10 }, () => admin('POST', '/invitations', { email })));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(201));
    const stored = await t.connection.collection('beta_invitations').find({ email }).toArray();
    expect(stored.map((invitation) => invitation.status).sort()).toEqual(['pending', ...Array<string>(9).fill('revoked')]);
  });

  it('keeps an expired invitation expired when a new one replaces it', async () => {
    const email = uniqueEmail();
    const first = await invite(email);
    await clock.advance(15 * DAY_MS);
    const second = await invite(email);
    expect(await listed(first.id)).toMatchObject({ status: 'expired', revoked_at: null });
    expect((await listed(second.id)).status).toBe('pending');
  });

  it('lists invitations newest first by their status as of now, without codes', async () => {
    const stale = await invite(uniqueEmail());
    await clock.advance(14 * DAY_MS);
    const accepter = await createUserWithToken(t.app);
    const accepted = await invite(accepter.user.email);
    await accept(accepter.token, accepted.code);
    const replacedEmail = uniqueEmail();
    const revoked = await invite(replacedEmail);
    const pending = await invite(replacedEmail);
    const expectations: Record<string, string> = {
      [stale.id]: 'expired',
      [accepted.id]: 'accepted',
      [revoked.id]: 'revoked',
      [pending.id]: 'pending',
    };
    for (const [id, status] of Object.entries(expectations)) {
      const response = await admin('GET', `/invitations?status=${status}`);
      const statuses = new Set(response.body.invitations.map((invitation: { status: string }) => invitation.status));
      expect({ status, statuses: [...statuses] }).toEqual({ status, statuses: [status] });
      expect(response.body.invitations.map((invitation: { id: string }) => invitation.id)).toContain(id);
    }
    const all = (await admin('GET', '/invitations')).body.invitations;
    const createdAt = all.map((invitation: { created_at: string }) => invitation.created_at);
    expect(createdAt).toEqual([...createdAt].sort().reverse());
    expect(all.find((invitation: { id: string }) => invitation.id === pending.id)).toEqual({
      id: pending.id,
      email: replacedEmail,
      status: 'pending',
      created_at: new Date(clock.now()).toISOString(),
      expires_at: new Date(clock.now() + 14 * DAY_MS).toISOString(),
      accepted_at: null,
      revoked_at: null,
      created_by: adminEmail,
    });
  });

  it.each([
    ['POST', '/api/v1/beta/invitations/accept', { code: { $ne: '' } }],
    ['POST', '/api/v1/beta/invitations/accept', {}],
    ['POST', '/api/v1/beta/invitations/accept', { code: '' }],
    ['POST', '/api/v1/beta/invitations/accept', { code: 'abc', email: 'someone@example.com' }],
    ['POST', '/api/v1/admin/beta/invitations', {}],
    ['POST', '/api/v1/admin/beta/invitations', { email: 'not-an-email' }],
    ['POST', '/api/v1/admin/beta/invitations', { email: { $gt: '' } }],
    ['POST', '/api/v1/admin/beta/invitations', { email: 'a@example.com', code: 'chosen-code' }],
    ['GET', '/api/v1/admin/beta/invitations?status=used', undefined],
  ])('answers 400 with field messages to %s %s %j and changes nothing', async (method, path, body) => {
    const count = () => t.connection.collection('beta_invitations').countDocuments();
    const before = await count();
    const response = await http(t.baseUrl, method, path, { token: adminToken, body });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.arrayContaining([expect.any(String)]) });
    expect(await count()).toBe(before);
  });

  it('answers 401 without a token and 403 to non-admins on the admin endpoints', async () => {
    const { token } = await createUserWithToken(t.app);
    const email = uniqueEmail();
    expect((await http(t.baseUrl, 'POST', '/api/v1/admin/beta/invitations', { body: { email } })).status).toBe(401);
    expect((await http(t.baseUrl, 'POST', '/api/v1/admin/beta/invitations', { token, body: { email } })).status).toBe(403);
    expect((await http(t.baseUrl, 'GET', '/api/v1/admin/beta/invitations')).status).toBe(401);
    expect((await http(t.baseUrl, 'GET', '/api/v1/admin/beta/invitations', { token })).status).toBe(403);
    expect(await t.connection.collection('beta_invitations').countDocuments({ email })).toBe(0);
  });

  it('answers 401 to an accept without a token', async () => {
    const { code } = await invite(uniqueEmail());
    expect((await http(t.baseUrl, 'POST', '/api/v1/beta/invitations/accept', { body: { code } })).status).toBe(401);
  });
});

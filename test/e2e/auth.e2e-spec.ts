import { createHmac } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { Types } from 'mongoose';
import { createUser, createUserWithToken, uniqueEmail } from '../harness/factories.js';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../harness/app.js';
import { http } from '../harness/http.js';
import { authMessage, viewer } from '../harness/live.js';
import { TestWsClient } from '../harness/ws-client.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function base64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function handMadeToken(header: object, claims: object, sign: (input: string) => string): string {
  const input = `${base64url(header)}.${base64url(claims)}`;
  return `${input}.${sign(input)}`;
}

describe('authentication', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const me = (token?: string) => http(t.baseUrl, 'GET', '/api/v1/users/me', { token });

  it('accepts a valid token and returns the user loaded from the database', async () => {
    const { user, token } = await createUserWithToken(t.app, { tier: 'family' });
    const response = await me(token);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: user.id, email: user.email, subscription: { tier: 'family', status: 'active' } });
  });

  it('rejects a request without a token with 401', async () => {
    const response = await me();
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing bearer token', code: 'unauthorized' });
  });

  it('rejects an expired token with 401', async () => {
    const { user } = await createUserWithToken(t.app);
    const expired = await new JwtService({ secret: TEST_JWT_SECRET }).signAsync({ sub: user.id, email: user.email }, { expiresIn: -10 });
    const response = await me(expired);
    expect(response.status).toBe(401);
    expect(response.body.message).toBe('Token expired');
  });

  it('rejects a token signed with another secret with 401', async () => {
    const { user } = await createUserWithToken(t.app);
    const forged = await new JwtService({ secret: 'another-secret-of-sufficient-length-0000000' }).signAsync(
      { sub: user.id },
      { expiresIn: 600 },
    );
    expect((await me(forged)).status).toBe(401);
  });

  it('rejects an unsigned alg:none token with 401', async () => {
    const { user } = await createUserWithToken(t.app);
    const unsigned = handMadeToken({ alg: 'none', typ: 'JWT' }, { sub: user.id, exp: Math.floor(Date.now() / 1000) + 600 }, () => '');
    expect((await me(unsigned)).status).toBe(401);
  });

  it('rejects a token signed with the right secret but another algorithm (HS512) with 401', async () => {
    const { user } = await createUserWithToken(t.app);
    const hs512 = handMadeToken({ alg: 'HS512', typ: 'JWT' }, { sub: user.id, exp: Math.floor(Date.now() / 1000) + 600 }, (input) =>
      createHmac('sha512', TEST_JWT_SECRET).update(input).digest('base64url'),
    );
    expect((await me(hs512)).status).toBe(401);
  });

  it('rejects a well-signed token for a user that does not exist with 401', async () => {
    const token = await new JwtService({ secret: TEST_JWT_SECRET }).signAsync(
      { sub: '65f000000000000000000000', email: uniqueEmail() },
      { expiresIn: 600 },
    );
    const response = await me(token);
    expect(response.status).toBe(401);
    expect(response.body.message).toBe('Unknown or inactive user');
  });

  describe('a well-signed token without exp', () => {
    const neverExpiring = (sub: string) => new JwtService({ secret: TEST_JWT_SECRET }).signAsync({ sub });

    it('is refused over REST with 401', async () => {
      const { user } = await createUserWithToken(t.app);
      const response = await me(await neverExpiring(user.id));
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ statusCode: 401, message: 'Token has no expiry', code: 'unauthorized' });
    });

    it('closes the live dubbing socket with 4001', async () => {
      const v = await viewer(t.app);
      const client = await TestWsClient.connect(t.baseUrl);
      try {
        client.send(authMessage(v, { token: await neverExpiring(v.user.id) }));
        expect(await client.waitClose()).toEqual({ code: 4001, reason: 'Token has no expiry' });
        expect(client.messages).toEqual([{ type: 'error', code: 'unauthorized', message: 'Token has no expiry' }]);
      } finally {
        client.close();
      }
    });
  });

  describe('user ids', () => {
    it('are random UUID v4s for new users', async () => {
      const ids = [(await createUser(t.app)).id, (await createUser(t.app)).id];
      expect(ids).toEqual([expect.stringMatching(UUID_V4), expect.stringMatching(UUID_V4)]);
      expect(ids[0]).not.toBe(ids[1]);
      expect(await t.connection.collection('users').countDocuments({ _id: ids[0] as never })).toBe(1);
    });

    it('keep working for a user stored with an ObjectId', async () => {
      const _id = new Types.ObjectId();
      const email = uniqueEmail('stored');
      await t.connection.collection('users').insertOne({
        _id,
        email,
        display_name: 'Stored',
        subscription: { tier: 'premium', status: 'active' },
        roles: ['user'],
        is_active: true,
      });
      const token = await new JwtService({ secret: TEST_JWT_SECRET }).signAsync({ sub: _id.toHexString() }, { expiresIn: 600 });
      const response = await me(token);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: _id.toHexString(), email });
    });
  });

  it('rejects a token whose user was deactivated after it was issued', async () => {
    const { user, token } = await createUserWithToken(t.app);
    await t.connection.collection('users').updateOne({ email: user.email }, { $set: { is_active: false } });
    expect((await me(token)).status).toBe(401);
  });

  describe('admin guard', () => {
    const adminGet = (token: string | undefined, email: string) =>
      http(t.baseUrl, 'GET', `/api/v1/admin/users/${encodeURIComponent(email)}`, { token });

    it('answers 401 without a token', async () => {
      expect((await adminGet(undefined, 'a@example.com')).status).toBe(401);
    });

    it('answers 403 to a signed-in user without the admin role', async () => {
      const { token } = await createUserWithToken(t.app);
      const response = await adminGet(token, 'a@example.com');
      expect(response.status).toBe(403);
      expect(response.body).toMatchObject({ statusCode: 403, error: 'Forbidden', message: 'Admin role required' });
    });

    it('answers 200 to an admin', async () => {
      const { token } = await createUserWithToken(t.app, { admin: true });
      const { user } = await createUserWithToken(t.app, { tier: 'basic' });
      const response = await adminGet(token, user.email);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ email: user.email, subscription: { tier: 'basic' } });
    });

    it('reads the role from the database, so a revoked admin is refused at once', async () => {
      const { user, token } = await createUserWithToken(t.app, { admin: true });
      await t.connection.collection('users').updateOne({ email: user.email }, { $set: { roles: ['user'] } });
      expect((await adminGet(token, user.email)).status).toBe(403);
    });
  });

  describe('admin user creation', () => {
    let adminToken: string;

    beforeAll(async () => {
      adminToken = (await createUserWithToken(t.app, { admin: true })).token;
    });

    const createUser = (body: unknown) => http(t.baseUrl, 'POST', '/api/v1/admin/users', { token: adminToken, body });

    it('creates a user with a lower-cased email', async () => {
      const email = uniqueEmail('Mixed.Case').toUpperCase();
      const response = await createUser({ email, tier: 'premium' });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ email: email.toLowerCase(), roles: ['user'], is_active: true });
    });

    it('answers 409 for a duplicate email, whatever its case, from the unique index', async () => {
      const email = uniqueEmail();
      expect((await createUser({ email, tier: 'premium' })).status).toBe(201);
      const duplicate = await createUser({ email: email.toUpperCase(), tier: 'free' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
    });

    it('lets exactly one of 10 concurrent creates of the same email succeed', async () => {
      const email = uniqueEmail();
      const statuses = (await Promise.all(Array.from({ length: 10 }, () => createUser({ email, tier: 'premium' })))).map((r) => r.status);
      expect(statuses.filter((status) => status === 201)).toHaveLength(1);
      expect(statuses.filter((status) => status === 409)).toHaveLength(9);
    });

    it('answers 400 with field messages for bad input', async () => {
      const response = await createUser({ email: 'not-an-email', tier: 'gold', extra: 1 });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('Bad Request');
      expect(response.body.message).toEqual(
        expect.arrayContaining([
          'property extra should not exist',
          'email must be an email',
          expect.stringMatching(/^tier must be one of/),
        ]),
      );
    });

    it('answers 400 to a NoSQL operator in place of a string and stores nothing', async () => {
      const before = await t.connection.collection('users').countDocuments();
      const response = await createUser({ email: { $gt: '' }, tier: 'premium' });
      expect(response.status).toBe(400);
      expect(await t.connection.collection('users').countDocuments()).toBe(before);
    });
  });
});

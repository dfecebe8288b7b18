import { createHash } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import mongoose from 'mongoose';
import { TEST_JWT_SECRET } from '../harness/app.js';
import { runCli } from '../harness/cli.js';
import { testDatabaseUri } from '../harness/database.js';
import { uniqueEmail } from '../harness/factories.js';

describe('operator CLI', () => {
  const env = { NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, MONGODB_URI: testDatabaseUri('cli') };
  let db: mongoose.Connection;

  beforeAll(async () => {
    db = await mongoose.createConnection(env.MONGODB_URI).asPromise();
  });

  afterAll(async () => {
    await db.dropDatabase();
    await db.close();
  });

  describe('help', () => {
    it('answers without configuration or database: no JWT_SECRET, and a database that does not answer', async () => {
      const unconfigured = { MONGODB_URI: 'mongodb://127.0.0.1:9/nothing-listens-here' };
      const root = await runCli(['--help'], unconfigured);
      expect(root).toMatchObject({ code: 0, stderr: '' });
      expect(root.stdout).toMatch(/^Usage: cli \[options\] \[command\]/);
      for (const command of ['users', 'channels', 'auth', 'db', 'beta']) {
        expect(root.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
      }
      const reconcile = await runCli(['beta', 'reconcile', '--help'], unconfigured);
      expect(reconcile).toMatchObject({ code: 0 });
      expect(reconcile.stdout).toContain('--full');
      // A command that runs still needs its configuration.
      expect(await runCli(['beta', 'reconcile'], unconfigured)).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(/^error: .*JWT_SECRET/),
      });
    });
  });

  describe('users create', () => {
    it('creates a user and prints it', async () => {
      const email = uniqueEmail();
      const result = await runCli(['users', 'create', email, '--tier', 'premium', '--admin'], env);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(
        new RegExp(
          `^created user ${email} \\(id [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}, tier premium, roles user,admin\\)\\n$`,
        ),
      );
      expect(await db.collection('users').findOne({ email })).toMatchObject({
        subscription: { tier: 'premium', status: 'active' },
        roles: ['user', 'admin'],
      });
    });

    it('fails with one line and exit 1 for a duplicate email', async () => {
      const email = uniqueEmail();
      await runCli(['users', 'create', email, '--tier', 'free'], env);
      const result = await runCli(['users', 'create', email.toUpperCase(), '--tier', 'free'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: `error: A user with email ${email} already exists\n` });
    });

    it('fails with exit 1 for an unknown tier', async () => {
      const result = await runCli(['users', 'create', uniqueEmail(), '--tier', 'gold'], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('error: --tier must be one of free, basic, premium, family\n');
    });

    it('fails with a non-zero exit when the required --tier is missing', async () => {
      const result = await runCli(['users', 'create', uniqueEmail()], env);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/required option '-t, --tier <tier>' not specified/);
    });
  });

  describe('channels create', () => {
    it('creates a live dubbing channel, then updates it', async () => {
      const created = await runCli(['channels', 'create', 'kan-11', '--name', 'Kan 11', '--languages', 'en,es', '--source', 'he'], env);
      expect(created).toEqual({ code: 0, stdout: 'created channel kan-11 (live, source he, dubbing en,es)\n', stderr: '' });
      const updated = await runCli(['channels', 'create', 'kan-11', '--name', 'Kan 11', '--languages', 'fr', '--offline'], env);
      expect(updated.stdout).toBe('updated channel kan-11 (offline, source he, dubbing fr)\n');
      expect(await db.collection('channels').findOne({ _id: 'kan-11' as never })).toMatchObject({
        is_live: false,
        dubbing_languages: ['fr'],
      });
    });

    it('rejects an invalid language list', async () => {
      const result = await runCli(['channels', 'create', 'bad', '--name', 'Bad', '--languages', 'en,English'], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('error: --languages: invalid language code "English"\n');
    });
  });

  describe('auth token', () => {
    it('prints only a token that verifies for the user, with the requested lifetime', async () => {
      const email = uniqueEmail();
      await runCli(['users', 'create', email, '--tier', 'premium'], env);
      const result = await runCli(['auth', 'token', email, '--ttl', '15m'], env);
      expect(result.code).toBe(0);
      const token = result.stdout.trim();
      expect(result.stdout).toBe(token + '\n');
      const claims = await new JwtService({ secret: TEST_JWT_SECRET }).verifyAsync(token, { algorithms: ['HS256'] });
      expect(claims.email).toBe(email);
      expect(claims.exp - claims.iat).toBe(900);
    });

    it('fails for an unknown user', async () => {
      const result = await runCli(['auth', 'token', 'nobody@example.com'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: No user with email nobody@example.com\n' });
    });

    it('fails for an invalid --ttl', async () => {
      const result = await runCli(['auth', 'token', 'nobody@example.com', '--ttl', 'forever'], env);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/Invalid duration "forever"/);
    });
  });

  describe('auth link', () => {
    it("prints the web client's address with a token for the user in the fragment", async () => {
      const email = uniqueEmail();
      await runCli(['users', 'create', email, '--tier', 'premium'], env);
      const result = await runCli(['auth', 'link', email, '--ttl', '2h'], { ...env, PORT: '3999' });
      expect(result.code).toBe(0);
      const match = /^http:\/\/localhost:3999\/#token=([\w.-]+)\n$/.exec(result.stdout);
      expect(match).not.toBeNull();
      const claims = await new JwtService({ secret: TEST_JWT_SECRET }).verifyAsync(match![1], { algorithms: ['HS256'] });
      expect(claims.email).toBe(email);
      expect(claims.exp - claims.iat).toBe(7200);
    });

    it('takes the address the service is reached at', async () => {
      const email = uniqueEmail();
      await runCli(['users', 'create', email, '--tier', 'premium'], env);
      const result = await runCli(['auth', 'link', email, '--base-url', 'https://dub.example.com/'], env);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^https:\/\/dub\.example\.com\/#token=[\w.-]+\n$/);
    });

    it('fails for an unknown user', async () => {
      const result = await runCli(['auth', 'link', 'nobody@example.com'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: No user with email nobody@example.com\n' });
    });
  });

  describe('db seed', () => {
    it('inserts the demo users and channels once, however often it runs', async () => {
      const first = await runCli(['db', 'seed'], env);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^created user admin@demo.local \(premium, admin\)$/m);
      const second = await runCli(['db', 'seed'], env);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/^kept user admin@demo.local \(premium, admin\)$/m);
      expect(await db.collection('users').countDocuments({ email: /@demo\.local$/ })).toBe(4);
      expect(await db.collection('channels').countDocuments({ _id: { $in: ['news-il', 'sports-es'] } as never })).toBe(2);
    });
  });

  describe('beta', () => {
    it('invites an email, printing its code and expiry; only the hash of the code is stored', async () => {
      const email = uniqueEmail();
      const result = await runCli(['beta', 'invite', email.toUpperCase()], env);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const printed = /^invited (\S+): code ([A-Za-z0-9_-]{22}), expires (\S+)\n$/.exec(result.stdout);
      expect(printed).not.toBeNull();
      const [, invitee, code, expiresAt] = printed!;
      expect(invitee).toBe(email);
      const stored = await db.collection('beta_invitations').findOne({ email });
      expect(stored).toMatchObject({
        status: 'pending',
        code_hash: createHash('sha256').update(code).digest('hex'),
        created_by: 'cli',
        expires_at: new Date(expiresAt),
      });
      expect(stored!.expires_at.getTime() - stored!.created_at.getTime()).toBe(14 * 86_400_000);
    });

    it('refuses to invite something that is not an email', async () => {
      const result = await runCli(['beta', 'invite', 'not-an-email'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: "not-an-email" is not an email address\n' });
    });

    it('enrols once, adjusts, shows credits, lists sessions and reconciles', async () => {
      const email = uniqueEmail();
      expect((await runCli(['beta', 'enroll', email, '--credits', '300'], env)).stdout).toBe(`enrolled ${email}: 300 credits remaining\n`);
      expect((await runCli(['beta', 'enroll', email], env)).stdout).toBe(`already enrolled ${email}: 300 credits remaining\n`);
      expect((await runCli(['beta', 'adjust', email, '50', '--reason', 'support ticket 42'], env)).stdout).toBe(
        `${email}: 350 credits remaining\n`,
      );
      expect((await runCli(['beta', 'credits', email], env)).stdout).toBe(
        `${email}: total 350, remaining 350, held 0, available 350, active sessions 0\n`,
      );
      expect((await runCli(['beta', 'sessions', '--active'], env)).stdout).toBe('0 session(s)\n');
      expect((await runCli(['beta', 'reconcile', '--full'], env)).stdout).toMatch(
        /^\d+ account\(s\) checked \(full\), 0 drift\(s\), 0 repaired\n$/,
      );
      expect((await runCli(['beta', 'reconcile'], env)).stdout).toMatch(
        /^\d+ account\(s\) checked \(incremental\), 0 drift\(s\), 0 repaired\n$/,
      );
    });

    it('refuses to enrol with --credits 0 and writes nothing', async () => {
      const email = uniqueEmail();
      const result = await runCli(['beta', 'enroll', email, '--credits', '0'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: credits must be a whole number of at least 1\n' });
      expect(await db.collection('beta_users').countDocuments({ _id: email as never })).toBe(0);
      expect(await db.collection('beta_credits').countDocuments({ _id: email as never })).toBe(0);
      expect(await db.collection('beta_credit_transactions').countDocuments({ email })).toBe(0);
    });

    it('refuses to take a balance below 0', async () => {
      const email = uniqueEmail();
      await runCli(['beta', 'enroll', email, '--credits', '10'], env);
      const result = await runCli(['beta', 'adjust', email, '--reason', 'chargeback', '--', '-11'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: Cannot remove 11 credits: only 10 available\n' });
      expect((await runCli(['beta', 'adjust', email, '--reason', 'chargeback', '--', '-4'], env)).stdout).toBe(
        `${email}: 6 credits remaining\n`,
      );
    });

    it('grants with an expiry and a priority, printing the key it made up; the same --key grants once', async () => {
      const email = uniqueEmail();
      await runCli(['beta', 'enroll', email, '--credits', '100'], env);
      const before = Date.now();
      const result = await runCli(['beta', 'grant', email, '40', '--reason', 'launch bonus', '--expires', '30d', '--priority', '0'], env);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const printed = new RegExp(
        `^${email.replace(/\./g, '\\.')}: grant of 40 credits, priority 0, expires (\\S+), 40 remaining \\(active\\)\\n` +
          'key ([0-9a-f-]{36}): repeat with --key \\2 to retry without granting twice\\n$',
      ).exec(result.stdout);
      expect(printed).not.toBeNull();
      const [, expires, key] = printed!;
      const expected = before + 30 * 86_400_000;
      expect(new Date(expires).getTime()).toBeGreaterThanOrEqual(expected);
      expect(new Date(expires).getTime()).toBeLessThan(expected + 60_000);
      expect(await db.collection('beta_credit_transactions').findOne({ _id: `grant:${email}:${key}` as never })).toMatchObject({
        type: 'grant',
        amount: 40,
        priority: 0,
        reason: 'launch bonus',
        actor: 'cli',
        expires_at: new Date(expires),
      });

      const keyed = ['beta', 'grant', email, '25', '--reason', 'ticket 7', '--key', 'ticket-7-grant', '--expires', '2099-01-15T10:00:00Z'];
      const line = `${email}: grant of 25 credits, priority 10, expires 2099-01-15T10:00:00.000Z, 25 remaining (active)\n`;
      const keyLine = 'key ticket-7-grant: repeat with --key ticket-7-grant to retry without granting twice\n';
      expect(await runCli(keyed, env)).toEqual({ code: 0, stdout: line + keyLine, stderr: '' });
      expect(await runCli(keyed, env)).toEqual({ code: 0, stdout: line + keyLine, stderr: '' });
      const reused = await runCli(['beta', 'grant', email, '26', '--reason', 'ticket 7', '--key', 'ticket-7-grant'], env);
      expect(reused).toMatchObject({
        code: 1,
        stdout: '',
        stderr: expect.stringMatching(/^error: Idempotency key grant:\S+:ticket-7-grant was already used/),
      });
      expect((await runCli(['beta', 'credits', email], env)).stdout).toBe(
        `${email}: total 165, remaining 165, held 0, available 165, active sessions 0\n` + `next expiry ${expires}: 40 credits\n`,
      );

      const listed = await runCli(['beta', 'grants', email], env);
      expect(listed).toEqual({
        code: 0,
        stderr: '',
        stdout: [
          `grant:${email}:ticket-7-grant active 25/25 priority 10 expires 2099-01-15T10:00:00.000Z`,
          `grant:${email}:${key} active 40/40 priority 0 expires ${expires}`,
          `enrollment:${email} active 100/100 priority 10 expires never`,
          '3 grant(s)',
          '',
        ].join('\n'),
      });
      // Removals take the priority-0 grant first.
      await runCli(['beta', 'adjust', email, '--reason', 'chargeback', '--', '-30'], env);
      expect((await runCli(['beta', 'grants', email], env)).stdout).toContain(`grant:${email}:${key} active 10/40 priority 0`);
    });

    it.each([
      [['-5'], /^error: a grant only adds credits; to remove 5, use: beta adjust \S+ --reason R -- -5\n$/],
      [['--', '-5'], /^error: a grant only adds credits; to remove 5, use: beta adjust \S+ --reason R -- -5\n$/],
      [['0'], /^error: amount must be at least 1: a grant only adds credits \(to remove credits, use beta adjust\)\n$/],
      [['ten'], /^error: amount must be a whole number, got "ten"\n$/],
      [['10', '--expires', 'soon'], /^error: --expires must be a duration such as 30d, 12h or 90m, or a date-time/],
      [['10', '--expires', '2020-01-01T00:00:00Z'], /^error: expires_at must be in the future\n$/],
      [['10', '--priority', '101'], /^error: priority must be a whole number from 0 to 100\n$/],
      [['10', '--key', 'short'], /^error: --key must be 8 to 100 characters/],
      [['10', '--expire', '30d'], /^error: unexpected --expire 30d/],
    ])('refuses beta grant <email> %j with one line, exit 1, granting nothing', async (args, message) => {
      const email = uniqueEmail();
      await runCli(['beta', 'enroll', email, '--credits', '10'], env);
      const result = await runCli(['beta', 'grant', email, '--reason', 'refused', ...args], env);
      expect(result).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(message) });
      expect(await db.collection('beta_credit_transactions').countDocuments({ email })).toBe(1);
    });

    it('refuses to grant to an email that is not enrolled', async () => {
      const email = uniqueEmail();
      const result = await runCli(['beta', 'grant', email, '10', '--reason', 'nobody'], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: `error: ${email} is not enrolled (beta enroll ${email} first)\n` });
      expect(await db.collection('beta_credit_transactions').countDocuments({ email })).toBe(0);
    });
  });

  it('refuses to run without JWT_SECRET outside explicit development, with one line and exit 1', async () => {
    const result = await runCli(['users', 'create', uniqueEmail(), '--tier', 'premium'], {
      NODE_ENV: 'test',
      MONGODB_URI: env.MONGODB_URI,
    });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(/^error: Invalid configuration: JWT_SECRET: required [^\n]+\n$/);
  });

  it('exits 2 with a message for an unknown command', async () => {
    const result = await runCli(['launch', 'rockets'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'launch'/);
  });
});

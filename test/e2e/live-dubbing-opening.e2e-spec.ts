import { connect } from 'node:net';
import { CLOSE_HANDSHAKE_MS } from '../../src/live-dubbing/close-socket.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { authMessage, openSession, refusal, signedToken, viewer, waitUntil } from '../harness/live.js';
import { TestWsClient } from '../harness/ws-client.js';

describe('LiveDubbingGateway: opening a session', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { WS_AUTH_TIMEOUT_MS: '400' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const sessionsOf = (email: string) => t.connection.collection('beta_sessions').find({ email }).toArray();

  it('closes 4008 when no message arrives within WS_AUTH_TIMEOUT_MS', async () => {
    const client = await TestWsClient.connect(t.baseUrl);
    const startedAt = Date.now();
    expect(await client.waitClose()).toEqual({ code: 4008, reason: 'No auth message received in time' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(350);
    expect(client.messages).toEqual([{ type: 'error', code: 'auth_timeout', message: 'No auth message received in time' }]);
  });

  it('drops a connection whose client never answers the close frame CLOSE_HANDSHAKE_MS after sending it, not 30 s', async () => {
    // A raw WebSocket upgrade that reads what it is sent but never answers.
    const url = new URL(t.baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'GET /ws/live-dubbing HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    let received = '';
    let closeFrameAt: number | undefined;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // A close frame: FIN + opcode 8.
      if (closeFrameAt === undefined && chunk.includes(0x88)) closeFrameAt = Date.now();
    });
    const droppedAt = await new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    expect(received).toMatch(/^HTTP\/1\.1 101/);
    expect(closeFrameAt).toBeDefined();
    expect(droppedAt - closeFrameAt!).toBeGreaterThanOrEqual(CLOSE_HANDSHAKE_MS - 100);
    expect(droppedAt - closeFrameAt!).toBeLessThan(CLOSE_HANDSHAKE_MS + 2_000);
  }, 15_000);

  it('closes 4000 when the first message is audio', async () => {
    const { error, closed } = await refusal(t, Buffer.alloc(3200), true);
    expect(error).toEqual({ type: 'error', code: 'protocol_error', message: 'Audio before auth: the first message must be auth' });
    expect(closed.code).toBe(4000);
  });

  it('closes 4000 when the first message is another type', async () => {
    const { error, closed } = await refusal(t, { type: 'ping' });
    expect(error).toEqual({ type: 'error', code: 'protocol_error', message: 'The first message must be auth' });
    expect(closed.code).toBe(4000);
  });

  it('closes 4001 for an invalid token', async () => {
    const v = await viewer(t.app);
    const { error, closed } = await refusal(t, authMessage(v, { token: 'not-a-jwt' }));
    expect(error).toEqual({ type: 'error', code: 'unauthorized', message: 'Invalid token' });
    expect(closed).toEqual({ code: 4001, reason: 'Invalid token' });
  });

  it('closes 4001 for an expired token and for a token of an unknown user', async () => {
    const v = await viewer(t.app);
    const expired = await signedToken({ sub: v.user.id }, { expiresIn: -5 });
    expect((await refusal(t, authMessage(v, { token: expired }))).error.message).toBe('Token expired');
    const unknown = await signedToken({ sub: '65f000000000000000000000' });
    expect((await refusal(t, authMessage(v, { token: unknown }))).closed.code).toBe(4001);
  });

  it('closes 4029 on the 6th open within a minute, counted across connections', async () => {
    const v = await viewer(t.app, { tier: 'free' });
    for (let i = 0; i < 5; i++) {
      expect((await refusal(t, authMessage(v))).closed.code).toBe(4030);
    }
    const { error, closed } = await refusal(t, authMessage(v));
    expect(error).toEqual({ type: 'error', code: 'rate_limited', message: 'Too many live dubbing sessions opened in the last minute' });
    expect(closed.code).toBe(4029);
  });

  it.each(['free', 'basic'] as const)('closes 4030 with upgrade_required for a %s user', async (tier) => {
    const v = await viewer(t.app, { tier });
    const { error, closed } = await refusal(t, authMessage(v));
    expect(error).toEqual({
      type: 'error',
      code: 'upgrade_required',
      message: 'Live dubbing needs an active Premium or Family subscription',
      upgrade_required: true,
    });
    expect(closed.code).toBe(4030);
  });

  it('closes 4030 for a premium user whose subscription was canceled', async () => {
    const v = await viewer(t.app);
    await t.connection.collection('users').updateOne({ email: v.user.email }, { $set: { 'subscription.status': 'canceled' } });
    expect((await refusal(t, authMessage(v))).closed.code).toBe(4030);
  });

  it.each([
    ['an unknown channel', { channel_id: 'no-such-channel' }, 'Channel not found'],
    ['an unsupported language', { target_lang: 'de' }, 'Channel does not offer dubbing into "de"'],
  ])('closes 4004 for %s', async (_, overrides, message) => {
    const v = await viewer(t.app);
    const { error, closed } = await refusal(t, authMessage(v, overrides));
    expect(error).toMatchObject({ type: 'error', code: 'channel_unavailable', message });
    expect(closed.code).toBe(4004);
  });

  it('closes 4004 for a channel that is not live or does not support dubbing', async () => {
    const v = await viewer(t.app);
    await t.connection.collection('channels').updateOne({ _id: v.channel.id as never }, { $set: { is_live: false } });
    expect((await refusal(t, authMessage(v))).error.message).toBe('Channel is not live');
    await t.connection
      .collection('channels')
      .updateOne({ _id: v.channel.id as never }, { $set: { is_live: true, supports_dubbing: false } });
    expect((await refusal(t, authMessage(v))).error.message).toBe('Channel does not support live dubbing');
  });

  it('sends the seed insufficient-credits error word for word, closes 4003 and creates no beta session', async () => {
    const v = await viewer(t.app, { credits: 59 });
    const { error, closed } = await refusal(t, authMessage(v));
    expect(error).toEqual({
      type: 'error',
      code: 'insufficient_credits',
      message: 'Insufficient beta credits for live dubbing',
      upgrade_required: true,
      remaining_credits: 59,
    });
    expect(closed).toEqual({ code: 4003, reason: 'Insufficient beta credits' });
    expect(await sessionsOf(v.user.email)).toEqual([]);
  });

  it('sends ready with the beta session, audio format and quota for a beta user', async () => {
    const v = await viewer(t.app, { credits: 500 });
    const { client, ready } = await openSession(t, v);
    expect(ready).toEqual({
      type: 'ready',
      session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      resume_token: expect.stringMatching(/^[\w-]{43}$/),
      beta: {
        session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        remaining_credits: 500,
        estimated_cost: 60,
        granted_credits: 500,
        credits_per_second: 1,
      },
      audio: { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 },
      quota: { hour: 60, day: 240, month: 3000 },
    });
    expect(await sessionsOf(v.user.email)).toEqual([expect.objectContaining({ _id: ready.beta.session_id, status: 'active' })]);
    client.close();
    await waitUntil(async () => (await sessionsOf(v.user.email))[0].status === 'ended');
  });

  it('sends ready with beta null for a premium user outside the programme', async () => {
    const v = await viewer(t.app);
    const { client, ready } = await openSession(t, v);
    expect(ready.beta).toBeNull();
    client.close();
  });
});

describe('LiveDubbingGateway: opening with programme and quota limits', () => {
  it('gives a beta user no beta session when BETA_FEATURES_ENABLED=false', async () => {
    const t = await startTestApp({ env: { BETA_FEATURES_ENABLED: 'false' } });
    try {
      const v = await viewer(t.app, { credits: 10 });
      const { client, ready } = await openSession(t, v);
      expect(ready.beta).toBeNull();
      client.send({ type: 'stop' });
      expect((await client.waitClose()).code).toBe(1000);
      expect(await t.connection.collection('beta_sessions').countDocuments()).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('closes 4031 when no quota is left and ends the beta session quota_failed, charged nothing', async () => {
    const t = await startTestApp({ env: { QUOTA_FAMILY_MINUTES_PER_HOUR: '0' } });
    try {
      const v = await viewer(t.app, { tier: 'family', credits: 500 });
      const { error, closed } = await refusal(t, authMessage(v));
      expect(error).toMatchObject({
        type: 'error',
        code: 'quota_exceeded',
        message: 'Live dubbing quota exceeded',
        upgrade_required: true,
      });
      expect(closed.code).toBe(4031);
      // The refusal closes the socket first; the end's writes follow.
      const session = await waitUntil(async () => {
        const [found] = await t.connection.collection('beta_sessions').find({ email: v.user.email }).toArray();
        return found?.status === 'ended' ? found : undefined;
      });
      expect(session).toMatchObject({ status: 'ended', end_reason: 'quota_failed', charged_credits: 0 });
      expect((await t.connection.collection('beta_credits').findOne({ _id: v.user.email as never }))?.held).toBe(0);
    } finally {
      await t.close();
    }
  });
});

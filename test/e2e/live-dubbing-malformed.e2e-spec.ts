import { startTestApp, type TestApp } from '../harness/app.js';
import { tone } from '../harness/audio.js';
import { anyUsageSummary, authMessage, observeUntil, openSession, refusal, viewer, waitUntil, type Viewer } from '../harness/live.js';
import { TestWsClient } from '../harness/ws-client.js';

/** Bad input gets its specific error and close code, and never disturbs the other sessions. */
describe('LiveDubbingGateway: malformed input', () => {
  let t: TestApp;
  let v: Viewer;
  let bystander: TestWsClient;

  beforeAll(async () => {
    t = await startTestApp({ env: { WS_MAX_AUDIO_FRAME_BYTES: '8192', WS_CONNECTIONS_PER_MINUTE: '1000' } });
    v = await viewer(t.app, { credits: 5000 });
    bystander = (await openSession(t, await viewer(t.app, { credits: 500 }))).client;
  });

  afterAll(async () => {
    bystander.send({ type: 'ping' });
    expect(await bystander.next('pong')).toEqual({ type: 'pong' });
    bystander.send({ type: 'stop' });
    await bystander.waitClose();
    await waitUntil(async () => (await t.connection.collection('beta_sessions').countDocuments({ status: 'active' })) === 0);
    expect(await t.connection.collection('live_quota_sessions').countDocuments({ status: 'active' })).toBe(0);
    await t.close();
  });

  const longString = 'x'.repeat(5000);

  it.each<[string, unknown, RegExp]>([
    ['invalid JSON', '{"type":"auth",', /not valid JSON/],
    ['a JSON string', '"auth"', /JSON object/],
    ['a JSON array', '[{"type":"auth"}]', /JSON object/],
    ['JSON null', 'null', /JSON object/],
    ['a number', '42', /JSON object/],
    ['an object without type', { token: 'x' }, /string "type"/],
    ['a numeric type', { type: 7 }, /string "type"/],
    ['an unknown type', { type: 'subscribe' }, /Unknown message type "subscribe"/],
    ['the internal audio event name', { type: 'audio' }, /Unknown message type "audio"/],
    ['stop before auth', { type: 'stop' }, /first message must be auth/],
    ['auth without token', { type: 'auth', channel_id: 'c', target_lang: 'en' }, /token must be a string/],
    ['the token in the wrong field', { type: 'auth', jwt: 'abc', channel_id: 'c', target_lang: 'en' }, /property jwt should not exist/],
    ['a numeric token', { type: 'auth', token: 12345, channel_id: 'c', target_lang: 'en' }, /token must be a string/],
    [
      'a huge token',
      { type: 'auth', token: longString, channel_id: 'c', target_lang: 'en' },
      /token must be shorter than or equal to 4096 characters/,
    ],
    ['an object as channel id', { type: 'auth', token: 't', channel_id: { $ne: '' }, target_lang: 'en' }, /channel_id/],
    [
      'a huge channel id',
      { type: 'auth', token: 't', channel_id: longString, target_lang: 'en' },
      /channel_id must be shorter than or equal to 128/,
    ],
    ['a bad target language', { type: 'auth', token: 't', channel_id: 'c', target_lang: 'English' }, /target_lang must be a language code/],
    ['a missing target language', { type: 'auth', token: 't', channel_id: 'c' }, /target_lang/],
    ['a bad source language', { type: 'auth', token: 't', channel_id: 'c', target_lang: 'en', source_lang: 7 }, /source_lang/],
  ])('refuses %s as the first message with protocol_error and 4000', async (_, first, message) => {
    const { error, closed } = await refusal(t, first);
    expect(error).toEqual({ type: 'error', code: 'protocol_error', message: expect.stringMatching(message) });
    expect(closed.code).toBe(4000);
  });

  it('refuses binary audio before auth with 4000', async () => {
    const { error, closed } = await refusal(t, tone(100), true);
    expect(error.message).toBe('Audio before auth: the first message must be auth');
    expect(closed.code).toBe(4000);
  });

  it('refuses a second auth on a live session with 4000', async () => {
    const { client } = await openSession(t, v);
    client.send(authMessage(v));
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'protocol_error',
      message: 'Already authenticated: auth is sent once, first',
      ...anyUsageSummary(),
    });
    expect((await client.waitClose()).code).toBe(4000);
  });

  it.each<[string, Buffer, RegExp]>([
    ['an empty frame', Buffer.alloc(0), /empty/i],
    ['an odd-length frame', Buffer.alloc(3201), /even|odd/i],
  ])('refuses %s mid-session with 4000', async (_, frame, message) => {
    const { client } = await openSession(t, v);
    client.sendAudio(frame);
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'protocol_error',
      message: expect.stringMatching(message),
      ...anyUsageSummary(),
    });
    expect((await client.waitClose()).code).toBe(4000);
  });

  it('closes a session sent an audio frame over WS_MAX_AUDIO_FRAME_BYTES with 1009', async () => {
    const { client } = await openSession(t, v);
    client.sendAudio(Buffer.alloc(8194));
    expect(await client.waitClose()).toEqual({ code: 1009, reason: 'Audio frame too big' });
  });

  it('closes a client flooding audio faster than 2× real time with 4000, without buffering it', async () => {
    const { client } = await openSession(t, v);
    const frame = Buffer.alloc(8000);
    for (let i = 0; i < 60; i++) {
      client.sendAudio(frame);
    }
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'protocol_error',
      message: 'Audio is arriving more than 2× faster than real time',
      ...anyUsageSummary(),
    });
    expect((await client.waitClose()).code).toBe(4000);
  });

  it('refuses unknown and malformed messages mid-session with 4000', async () => {
    for (const bad of ['not json', { type: 'pause' }, { nope: true }]) {
      const { client } = await openSession(t, v);
      client.send(bad);
      expect((await client.next('error')).code).toBe('protocol_error');
      expect((await client.waitClose()).code).toBe(4000);
    }
  });
});

describe('LiveDubbingGateway: clients that leave while the session opens', () => {
  it('leaves no beta or quota session behind, whenever the client goes (one already live is suspended, its hold kept)', async () => {
    const t = await startTestApp({ env: { WS_CONNECTIONS_PER_MINUTE: '1000' } });
    try {
      const v = await viewer(t.app, { credits: 5000 });
      for (let delayMs = 0; delayMs <= 40; delayMs += 2) {
        const client = await TestWsClient.connect(t.baseUrl);
        client.send(authMessage(v));
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        client.socket.terminate();
      }
      // Every opening has run its course once no beta session is active and every record is ended or suspended (an
      // opening writes its record before its beta session, so no active beta session alone says little). A client
      // gone after `ready` lost a live session: it waits, suspended, for a resume, and keeps its hold.
      const books = async () => {
        const active = await t.connection.collection('beta_sessions').countDocuments({ status: 'active' });
        const unsettled = await t.connection.collection('live_sessions').countDocuments({ status: { $nin: ['ended', 'suspended'] } });
        const suspended = await t.connection.collection('beta_sessions').countDocuments({ status: 'suspended' });
        const credits = await t.connection.collection('beta_credits').findOne({ _id: v.user.email as never });
        return { active, unsettled, suspended, held: credits?.held, activeSessions: credits?.active_sessions };
      };
      const settled = await observeUntil(
        books,
        (b) => b.active === 0 && b.unsettled === 0 && b.held === 60 * b.suspended && b.activeSessions === b.suspended,
        5000,
      );
      expect(settled).toEqual({
        active: 0,
        unsettled: 0,
        suspended: settled.suspended,
        held: 60 * settled.suspended,
        activeSessions: settled.suspended,
      });
      const suspended = settled.suspended;
      expect(await t.connection.collection('live_sessions').countDocuments({ status: 'suspended' })).toBe(suspended);
    } finally {
      await t.close();
    }
  });
});

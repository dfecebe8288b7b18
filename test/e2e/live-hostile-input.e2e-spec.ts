import { CloseCode } from '../../src/live-dubbing/live-dubbing.protocol.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { authMessage, openSession, viewer, waitUntil, type Viewer } from '../harness/live.js';
import { Opcode, RawWsClient } from '../harness/raw-ws-client.js';
import { TestWsClient } from '../harness/ws-client.js';

const MiB = 1024 * 1024;
const TEXT_LIMIT = 16 * 1024;
const AUDIO_LIMIT = 65_536;
const SUBTITLES = '/ws/live-subtitles';

/** Text that parses to `{"type":"ping"}`, padded with whitespace (a ping has no other field) to exactly `bytes` long. */
function paddedPing(bytes: number): string {
  const start = '{"type":"ping"';
  return start + ' '.repeat(bytes - start.length - 1) + '}';
}

/** JSON `depth` arrays deep: 5 000 levels take 10 000 bytes, under the 16 KiB limit. */
function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/**
 * Whether the server took a socket in: an admitted socket answers a ping before auth with protocol_error and 4000,
 * a refused one was closed 1008 before any message could reach a gateway.
 */
async function probe(client: TestWsClient | RawWsClient): Promise<number> {
  if (client instanceof TestWsClient) {
    client.send({ type: 'ping' });
  } else {
    client.sendText('{"type":"ping"}');
  }
  const { code } = await client.waitClose();
  if (client instanceof RawWsClient) {
    client.destroy();
  }
  return code;
}

describe('Live gateways: hostile input', () => {
  let t: TestApp;
  let v: Viewer;

  beforeAll(async () => {
    // Unauthenticated sockets of these tests stay open until probed, however slow the machine.
    t = await startTestApp({ env: { WS_CONNECTIONS_PER_MINUTE: '1000', WS_AUTH_TIMEOUT_MS: '60000' } });
    v = await viewer(t.app, { credits: 5000 });
  });

  afterAll(async () => {
    await t.close();
  });

  it('closes a 24 MiB text frame with 1009 from its header, without the heap growing by anything near its size', async () => {
    // The audit's frame: `[{},{},…]`, 24 MiB of valid JSON, sent whole as an attacker would (the client holds 64 KiB of it).
    const objects = 8 * MiB - 2;
    const client = await RawWsClient.connect(t.baseUrl);
    const footprint = () => {
      const usage = process.memoryUsage();
      return usage.heapTotal + usage.arrayBuffers;
    };
    const before = footprint();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, footprint())), 5);
    try {
      client.write(Buffer.concat([RawWsClient.header(Opcode.Text, 3 * objects + 1), Buffer.from('[')]));
      await client.stream(3 * (objects - 1), Buffer.from('{},'.repeat(21_845)));
      client.write(Buffer.from('{}]'));
      expect(await client.waitClose()).toEqual({ code: 1009, reason: '' });
    } finally {
      clearInterval(sampler);
      client.destroy();
    }
    // Measured in this process (client and server): parsing that frame grows it by hundreds of MiB.
    expect(Math.max(peak, footprint()) - before).toBeLessThan(12 * MiB);
  });

  it('closes a text frame of 16 KiB + 1 with 1009, before auth and in a live session, and answers one of 16 KiB', async () => {
    const early = await TestWsClient.connect(t.baseUrl);
    early.send(paddedPing(TEXT_LIMIT + 1));
    expect(await early.waitClose()).toEqual({ code: 1009, reason: 'Text message too big' });

    const { client, ready } = await openSession(t, v);
    client.send(paddedPing(TEXT_LIMIT));
    expect(await client.next('pong')).toEqual({ type: 'pong' });
    client.send(paddedPing(TEXT_LIMIT + 1));
    expect(await client.waitClose()).toEqual({ code: 1009, reason: 'Text message too big' });
    expect(client.messages).toEqual([]);
    await expectEndedAsProtocolViolation(ready.session_id);
  });

  it('closes an audio frame of WS_MAX_AUDIO_FRAME_BYTES + 2 with 1009 and takes one of WS_MAX_AUDIO_FRAME_BYTES', async () => {
    const { client, ready } = await openSession(t, v);
    client.sendAudio(Buffer.alloc(AUDIO_LIMIT));
    client.send({ type: 'ping' });
    expect(await client.next('pong')).toEqual({ type: 'pong' });
    client.sendAudio(Buffer.alloc(AUDIO_LIMIT + 2));
    expect((await client.waitClose()).code).toBe(1009);
    await expectEndedAsProtocolViolation(ready.session_id);
  });

  /** A frame the WebSocket layer refuses ends a live session as a protocol violation, not as the user leaving. */
  async function expectEndedAsProtocolViolation(sessionId: string): Promise<void> {
    const record = await waitUntil(async () => {
      const found = await t.connection.collection('live_sessions').findOne({ _id: sessionId as never });
      return found?.status === 'ended' ? found : undefined;
    });
    const quota = await t.connection.collection('live_quota_sessions').findOne({ _id: record.quota_session_id });
    expect({ cause: record.end_cause, quota: quota?.status }).toEqual({ cause: 'protocol_error', quota: 'error' });
  }

  it('refuses a first message nested 5 000 levels deep with protocol_error and 4000', async () => {
    const client = await TestWsClient.connect(t.baseUrl);
    client.send(`{"type":"auth","token":${nested(5000)},"channel_id":"c","target_lang":"en"}`);
    expect(await client.waitClose()).toEqual({ code: 4000, reason: 'Message is nested more than 8 levels deep' });
    expect(client.messages).toEqual([{ type: 'error', code: 'protocol_error', message: 'Message is nested more than 8 levels deep' }]);
  });

  it('refuses a message nested 5 000 levels deep in a live session with protocol_error and 4000', async () => {
    const { client } = await openSession(t, v);
    client.send(`{"type":"ping","extra":${nested(5000)}}`);
    expect((await client.next('error')).code).toBe('protocol_error');
    expect((await client.waitClose()).code).toBe(4000);
  });

  it('refuses auth fields of the wrong type, objects and arrays included, with 4000', async () => {
    for (const token of [{ a: { b: { c: 'd' } } }, [['x']], null, true]) {
      const client = await TestWsClient.connect(t.baseUrl);
      client.send(authMessage(v, { token }));
      expect((await client.next('error')).code).toBe('protocol_error');
      expect((await client.waitClose()).code).toBe(4000);
    }
  });

  it.each(['constructor', '__proto__'])('refuses an otherwise valid auth message with a "%s" field with 4000', async (key) => {
    const client = await TestWsClient.connect(t.baseUrl);
    client.send(JSON.stringify(authMessage(v)).replace(/}$/, `,"${key}":{}}`));
    expect(await client.next('error')).toEqual({ type: 'error', code: 'protocol_error', message: `Message may not have a "${key}" field` });
    expect((await client.waitClose()).code).toBe(4000);
  });

  it('holds nothing but the auth message before the session is live: a frame sent after it closes 4000', async () => {
    const client = await RawWsClient.connect(t.baseUrl);
    client.write(
      Buffer.concat([
        RawWsClient.frame(Opcode.Text, Buffer.from(JSON.stringify(authMessage(v)))),
        RawWsClient.frame(Opcode.Binary, Buffer.alloc(3200)),
      ]),
    );
    expect(await client.waitClose()).toEqual({ code: 4000, reason: 'Only one message may be sent before "ready": the auth message' });
    expect(client.messages.map((message) => message.type)).toEqual(['error']);
    client.destroy();
  });

  it('closes a live client whose messages pile up faster than they are handled with 4000, without queueing them all', async () => {
    const client = await RawWsClient.connect(t.baseUrl);
    client.sendText(JSON.stringify(authMessage(v)));
    await client.next('ready');
    const ping = RawWsClient.frame(Opcode.Text, Buffer.from('{"type":"ping"}'));
    client.write(Buffer.concat(new Array(10_000).fill(ping)));
    expect(await client.waitClose()).toEqual({ code: 4000, reason: 'Too many messages waiting' });
    expect(client.messages.filter((message) => message.type === 'pong').length).toBeLessThan(10_000);
    client.destroy();
  });

  it('closes the 21st unauthenticated socket of one address with 1008, across both gateways, and keeps the first 20', async () => {
    const first20 = await Promise.all(
      Array.from({ length: 20 }, (_, index) => TestWsClient.connect(t.baseUrl, index % 2 === 0 ? '/ws/live-dubbing' : SUBTITLES)),
    );
    const extra = await TestWsClient.connect(t.baseUrl, SUBTITLES);
    expect(await extra.waitClose()).toEqual({ code: 1008, reason: 'Too many unauthenticated connections from this address' });
    expect(first20.map((client) => client.closed)).toEqual(first20.map(() => undefined));

    // A session going live frees its slot, and only its slot.
    first20[0].send(authMessage(v));
    await first20[0].next('ready');
    const afterAuth = await TestWsClient.connect(t.baseUrl);
    expect(await probe(await TestWsClient.connect(t.baseUrl, SUBTITLES))).toBe(1008);

    // A closed socket frees its slot (once the server has seen the close).
    first20[1].close();
    await first20[1].waitClose();
    await waitUntil(async () => (await probe(await TestWsClient.connect(t.baseUrl))) === 4000);

    expect(await Promise.all([afterAuth, ...first20.slice(2)].map(probe))).toEqual(new Array(19).fill(4000));
    first20[0].send({ type: 'stop' });
    expect((await first20[0].waitClose()).code).toBe(1000);
  });

  it('counts the peer address when no proxy is trusted, whatever X-Forwarded-For says', async () => {
    const spoofed = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        RawWsClient.connect(t.baseUrl, '/ws/live-dubbing', { 'X-Forwarded-For': `198.51.100.${index}` }),
      ),
    );
    const another = await RawWsClient.connect(t.baseUrl, '/ws/live-dubbing', { 'X-Forwarded-For': '198.51.100.99' });
    expect((await another.waitClose()).code).toBe(CloseCode.PolicyViolation);
    another.destroy();
    expect(await Promise.all(spoofed.map(probe))).toEqual(new Array(20).fill(4000));
  });
});

describe('Live gateways: unauthenticated sockets behind a trusted proxy', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '127.0.0.1', WS_MAX_PENDING_PER_ADDRESS: '3', WS_AUTH_TIMEOUT_MS: '60000' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const viaProxy = (forwardedFor: string) => RawWsClient.connect(t.baseUrl, '/ws/live-dubbing', { 'X-Forwarded-For': forwardedFor });

  it('counts each client by the X-Forwarded-For entry the proxy added, not by what the client wrote', async () => {
    const first = await Promise.all([viaProxy('198.51.100.1'), viaProxy('6.6.6.6, 198.51.100.1'), viaProxy('7.7.7.7, 198.51.100.1')]);
    const fourth = await viaProxy('8.8.8.8, 198.51.100.1');
    expect((await fourth.waitClose()).code).toBe(1008);
    fourth.destroy();
    const otherClient = await viaProxy('198.51.100.2');
    expect(await Promise.all([...first, otherClient].map(probe))).toEqual([4000, 4000, 4000, 4000]);
  });
});

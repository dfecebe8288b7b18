import { startTestApp, type TestApp } from '../harness/app.js';
import { frames, silence, tone } from '../harness/audio.js';
import { anyUsageSummary, openSession, refusal, sleep, viewer, type Viewer } from '../harness/live.js';
import { ManualClock } from '../harness/manual-clock.js';
import type { TestWsClient } from '../harness/ws-client.js';

/**
 * `flush` (docs/protocol.md, "Client → server") ends the speech segment in progress without the voice-activity pause,
 * and control messages are validated like `auth`. The clock never moves: whatever arrives did not wait on it.
 */
describe('LiveDubbingGateway: flush and control messages', () => {
  const clock = new ManualClock();
  let t: TestApp;
  let v: Viewer;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { WS_CONNECTIONS_PER_MINUTE: '1000' } });
    v = await viewer(t.app, { credits: 5000 });
  });

  afterAll(async () => {
    await t.close();
  });

  /** Every frame sent so far was handled: a ping sent after them is answered after them. */
  async function handled(client: TestWsClient): Promise<void> {
    client.send({ type: 'ping' });
    await client.next('pong');
  }

  it('dubs the speech in progress at once on flush, and the stream goes on after it', async () => {
    const { client } = await openSession(t, v);
    const startedAt = clock.now();
    // One second of speech and no pause after it: without a flush, the segment stays open.
    for (const frame of frames(tone(1_000))) {
      client.sendAudio(frame);
    }
    await handled(client);
    await sleep(300);
    expect(client.messages.filter((message) => message.type === 'transcript')).toEqual([]);
    client.send({ type: 'flush' });
    expect(await client.next('transcript')).toMatchObject({ segment_id: 1, start_ms: 0, end_ms: 1_000, loopback: true });
    expect(await client.next('translation')).toMatchObject({ segment_id: 1, loopback: true });
    await client.waitFor(() => (client.audio.length === 1 ? true : undefined), 5_000, 'the dubbed audio');
    expect(client.audio[0]).toHaveLength(32_000);
    // The next utterance is segmented as usual, placed after the first in the stream.
    for (const frame of frames(Buffer.concat([silence(200), tone(500), silence(500)]))) {
      client.sendAudio(frame);
    }
    expect(await client.next('transcript')).toMatchObject({ segment_id: 2, start_ms: 1_200, end_ms: 1_700 });
    // A flush with nothing in progress is a no-op.
    client.send({ type: 'flush' });
    await handled(client);
    await sleep(100);
    expect(client.messages.filter((message) => message.type === 'transcript')).toEqual([]);
    expect(clock.now()).toBe(startedAt);
    client.send({ type: 'stop' });
    expect((await client.waitClose()).code).toBe(1000);
  });

  it('refuses flush before the session is live with protocol_error and 4000', async () => {
    const { error, closed } = await refusal(t, { type: 'flush' });
    expect(error).toEqual({ type: 'error', code: 'protocol_error', message: 'The first message must be auth' });
    expect(closed.code).toBe(4000);
  });

  it.each<[string, object]>([
    ['a stop with a resume token', { type: 'stop', resume_token: 'x'.repeat(43) }],
    ['a ping with a field', { type: 'ping', at: 1 }],
    ['a flush with a field', { type: 'flush', segment_id: 1 }],
  ])('refuses %s mid-session with protocol_error and 4000', async (_, message) => {
    const { client } = await openSession(t, v);
    client.send(message);
    expect(await client.next('error')).toEqual({
      type: 'error',
      code: 'protocol_error',
      message: expect.stringMatching(/^Invalid (stop|ping|flush) message: property \w+ should not exist$/),
      ...anyUsageSummary(),
    });
    expect((await client.waitClose()).code).toBe(4000);
  });
});

import type { MongoClient } from 'mongodb';
import { startTestApp, type TestApp } from '../harness/app.js';
import { testDatabaseUri } from '../harness/database.js';
import { startLatencyProxy } from '../harness/latency-proxy.js';
import { authMessage, viewer, type Viewer } from '../harness/live.js';
import { ChannelsService } from '../../src/channels/channels.service.js';
import { TestWsClient } from '../harness/ws-client.js';

/**
 * One database command the application sent: what, on which collection, how many writes it carried (an `update`'s
 * statements), and when it was sent and answered.
 */
interface Command {
  name: string;
  collection: string;
  statements: number;
  startedAt: number;
  endedAt?: number;
}

/** What the database's network adds to every reply here. */
const REPLY_DELAY_MS = 50;

/** Commands of the connection's own upkeep, not of an opening. */
const UPKEEP = new Set(['ping', 'hello', 'isMaster', 'ismaster', 'endSessions', 'buildInfo']);

/**
 * The database commands one opening makes (docs/protocol.md, "Opening a session"), from the `auth` message to `ready`:
 * how many in all, and how many the client waits for one after another (the critical path). A command chains after
 * another when it was sent after that one was answered; commands in flight together count once.
 */
describe('Opening a session: database round trips', () => {
  let t: TestApp;
  let recording: Command[] | undefined;
  const inFlight = new Map<number, Command>();

  let proxy: Awaited<ReturnType<typeof startLatencyProxy>>;

  beforeAll(async () => {
    // Each reply held 50 ms: reads sent together are in flight together, whatever the machine's load.
    proxy = await startLatencyProxy(testDatabaseUri('round_trips'), REPLY_DELAY_MS);
    t = await startTestApp({
      env: {
        MONGODB_URI: `${proxy.uri}?monitorCommands=true`,
        // No periodic round (heartbeat, checkpoint, quota update, jobs lease) lands in an opening measured here.
        WS_HEARTBEAT_MS: '600000',
        BETA_CHECKPOINT_INTERVAL_MS: '600000',
        QUOTA_UPDATE_INTERVAL_MS: '600000',
      },
    });
    const client = t.connection.getClient() as unknown as MongoClient;
    client.on('commandStarted', (event) => {
      if (recording === undefined || UPKEEP.has(event.commandName)) {
        return;
      }
      const command: Command = {
        name: event.commandName,
        collection: String(event.command[event.commandName] ?? ''),
        statements: Array.isArray(event.command.updates) ? event.command.updates.length : 1,
        startedAt: performance.now(),
      };
      recording.push(command);
      inFlight.set(event.requestId, command);
    });
    const answered = (event: { requestId: number }) => {
      const command = inFlight.get(event.requestId);
      if (command !== undefined) {
        command.endedAt = performance.now();
        inFlight.delete(event.requestId);
      }
    };
    client.on('commandSucceeded', answered);
    client.on('commandFailed', answered);
  });

  afterAll(async () => {
    await t.close();
    await proxy.close();
  });

  /** Sends `v`'s auth, recording the commands sent until the server has closed the socket (a refusal). */
  async function recordRefusal(v: Viewer): Promise<{ commands: Command[]; closeCode: number }> {
    const client = await TestWsClient.connect(t.baseUrl);
    const commands: Command[] = [];
    recording = commands;
    client.send(authMessage(v));
    const closed = await client.waitClose();
    recording = undefined;
    return { commands, closeCode: closed.code };
  }

  /** Opens a session for `v`, recording the commands sent until `ready`; then stops it. */
  async function recordOpening(v: Viewer): Promise<{ commands: Command[]; criticalPath: number }> {
    // A channel others watch was read by an opening moments ago (on a loaded machine, the last one may be over
    // CHANNEL_CACHE_MS old).
    await t.app.get(ChannelsService).findForOpening(v.channel.id);
    const client = await TestWsClient.connect(t.baseUrl);
    const commands: Command[] = [];
    recording = commands;
    client.send(authMessage(v));
    const ready = await client.next('ready');
    recording = undefined;
    expect(ready.type).toBe('ready');
    client.send({ type: 'stop' });
    await client.waitClose();
    return { commands, criticalPath: criticalPath(commands) };
  }

  /** The longest chain of commands each sent after the one before it was answered. */
  function criticalPath(commands: Command[]): number {
    const sorted = [...commands].sort((a, b) => a.startedAt - b.startedAt);
    const depth: number[] = [];
    sorted.forEach((command, i) => {
      depth[i] = 1 + Math.max(0, ...sorted.slice(0, i).map((before, j) => (before.endedAt! <= command.startedAt ? depth[j] : 0)));
    });
    return Math.max(0, ...depth);
  }

  const describeCommands = (commands: Command[]) => commands.map((command) => `${command.name} ${command.collection}`);

  /** The channel of the first opening: the openings measured go on it, as most viewers open a channel others watch. */
  let channel: Viewer['channel'];

  it('warms up: the first opening of the app (indexes, pool, the channel) is not measured', async () => {
    const first = await viewer(t.app, { credits: 500 });
    channel = first.channel;
    await recordOpening(first);
  });

  it('a non-beta premium user: 9 commands, 6 one after another (10 and 10 before)', async () => {
    const { commands, criticalPath } = await recordOpening({ ...(await viewer(t.app)), channel });
    expect(describeCommands(commands)).toHaveLength(9);
    expect(criticalPath).toBeLessThanOrEqual(6);
  });

  it('a beta user: 12 commands, 8 one after another (14 and 14 before)', async () => {
    const { commands, criticalPath } = await recordOpening({ ...(await viewer(t.app, { credits: 500 })), channel });
    expect(describeCommands(commands)).toHaveLength(12);
    expect(criticalPath).toBeLessThanOrEqual(8);
  });

  it('openings sent in the same instant share their commands: 8 beta users send far fewer than 8 × 12', async () => {
    const OPENINGS = 8;
    const viewers = await Promise.all(
      Array.from({ length: OPENINGS }, async () => ({ ...(await viewer(t.app, { credits: 500 })), channel })),
    );
    await t.app.get(ChannelsService).findForOpening(channel.id);
    const clients = await Promise.all(viewers.map(() => TestWsClient.connect(t.baseUrl)));
    const commands: Command[] = [];
    recording = commands;
    clients.forEach((client, i) => client.send(authMessage(viewers[i])));
    await Promise.all(clients.map((client) => client.next('ready')));
    recording = undefined;
    // One opening alone sends 12 (the test above); each reply here is held 50 ms, so the openings stay in step and
    // each kind of read, insert or compare-and-set goes out for several of them at once (these users open for the
    // first time: their rate-limit records and slots are inserts).
    expect(commands.length).toBeLessThanOrEqual((OPENINGS * 12) / 4);
    // Alone, each opening reads six times (here, 6 finds in all when every reply comes back in one turn).
    expect(commands.filter((command) => command.name === 'find').length).toBeLessThanOrEqual((OPENINGS * 6) / 2);
    // Each opening holds its credits with a compare-and-set of its own, sent with the others'.
    const holds = commands.filter((command) => command.name === 'update' && command.collection === 'beta_credits');
    expect(holds.length).toBeLessThanOrEqual(OPENINGS / 2);
    expect(holds.reduce((sum, command) => sum + command.statements, 0)).toBe(OPENINGS);
    await Promise.all(
      clients.map(async (client) => {
        client.send({ type: 'stop' });
        await client.waitClose();
      }),
    );
  });

  it('a user refused at the tier step reads nothing for the steps after it', async () => {
    const { commands, closeCode } = await recordRefusal({ ...(await viewer(t.app, { tier: 'free' })), channel });
    expect(closeCode).toBe(4030);
    const sent = describeCommands(commands);
    expect(sent.slice(0, 3)).toEqual(['find users', 'find ws_connection_opens', 'insert ws_connection_opens']);
    // Then at most the refusal's end, which frees the slot the opening never took (a read of the slots finds none).
    expect(sent.slice(3).filter((command) => command !== 'find live_user_slots')).toEqual([]);
  });
});

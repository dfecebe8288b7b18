import { startCluster } from '../harness/cluster.js';
import type { DatabaseContext } from '../harness/database-context.js';
import { authMessage, viewer } from '../harness/live.js';
import { FAULT_ENV, stopAllProcesses, withInstanceLogs } from '../harness/processes.js';
import { TestWsClient } from '../harness/ws-client.js';

const OPENS = 8;
const ROUNDS = 4;

/**
 * The session cap (docs/protocol.md, "Opening a session", step 5b) under racing openings: one Premium user opens 8
 * sessions at once, split over two real instances on one database; exactly 2 are admitted, whoever wins.
 */
describe('Concurrent sessions per user, opened at once on two instances', () => {
  let ctx: DatabaseContext | undefined;

  afterAll(async () => {
    await stopAllProcesses();
    await ctx?.close();
  });

  it(
    'admits exactly LIVE_MAX_SESSIONS_PREMIUM of 8 parallel openings, round after round',
    () =>
      withInstanceLogs(async () => {
        const cluster = await startCluster(['a', 'b'], { ...FAULT_ENV, WS_CONNECTIONS_PER_MINUTE: '100' }, 'session-cap');
        ctx = cluster.ctx;
        for (let round = 0; round < ROUNDS; round++) {
          const v = await viewer(ctx.app);
          const clients = await Promise.all(
            Array.from({ length: OPENS }, (_, i) => TestWsClient.connect(cluster.instances[i % 2].baseUrl)),
          );
          clients.forEach((client) => client.send(authMessage(v)));
          const replies = await Promise.all(clients.map((client) => client.next()));
          const admitted = clients.filter((_, i) => replies[i].type === 'ready');
          const refused = clients.filter((_, i) => replies[i].type === 'error');
          expect(replies.filter((reply) => reply.type === 'ready')).toHaveLength(2);
          expect(replies.filter((reply) => reply.type === 'error')).toEqual(
            Array.from({ length: OPENS - 2 }, () => expect.objectContaining({ code: 'too_many_sessions', max_sessions: 2 })),
          );
          expect((await Promise.all(refused.map((client) => client.waitClose()))).map((closed) => closed.code)).toEqual(
            Array.from({ length: OPENS - 2 }, () => 4032),
          );
          for (const client of admitted) {
            client.send({ type: 'stop' });
            await client.waitClose();
          }
        }
      }),
    120_000,
  );
});

import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a database that holds every reply for `delayMs`, as a database across a network would:
 * commands sent together overlap however busy the test process is, so which ones a client waits for one after
 * another shows. Replies keep their order (timers of one delay fire in the order they were set).
 */
export async function startLatencyProxy(databaseUri: string, delayMs: number): Promise<{ uri: string; close(): Promise<void> }> {
  const target = new URL(databaseUri);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const proxied = new URL(databaseUri);
  proxied.host = `127.0.0.1:${port}`;
  return {
    uri: proxied.toString(),
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/**
 * The gateway benchmark's baseline, in a process of its own like the gateway: a bare `ws` server that answers an
 * auth message with `ready`, echoes every binary frame and closes on `stop`. Tells its parent its port over IPC.
 */
const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/echo' });
server.on('connection', (socket) => {
  socket.on('message', (data: Buffer, isBinary) => {
    if (isBinary) {
      socket.send(data, { binary: true });
      return;
    }
    const message = JSON.parse(data.toString()) as { type: string };
    if (message.type === 'auth') {
      socket.send(JSON.stringify({ type: 'ready' }));
    } else if (message.type === 'stop') {
      socket.close(1000, 'Session ended');
    }
  });
});
server.once('listening', () => process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

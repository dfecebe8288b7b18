import type { WebSocket } from 'ws';

/**
 * A socket the server closes is dropped if its client has not answered the close frame within this: ws would wait
 * 30 s, and a socket left open holds up the HTTP server's close at shutdown, so a rolling restart would wait for it.
 */
export const CLOSE_HANDSHAKE_MS = 3_000;

/** Sends the close frame; drops the connection if the client has not answered it within CLOSE_HANDSHAKE_MS. */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  const drop = setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
  socket.once('close', () => clearTimeout(drop));
}

import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { loadAppConfig } from '../config/app-config.js';
import { PendingSockets } from './pending-sockets.js';

/** Only what PendingSockets uses of a socket: its close event. */
function socket(): WebSocket & EventEmitter {
  return new EventEmitter() as WebSocket & EventEmitter;
}

function pendingSockets(env: Record<string, string> = {}): PendingSockets {
  return new PendingSockets(
    loadAppConfig({ JWT_SECRET: 'a-test-secret-that-is-long-enough-0123456789', WS_MAX_PENDING_PER_ADDRESS: '2', ...env }),
  );
}

describe(PendingSockets.name, () => {
  it('admits up to the limit per address and refuses the next', () => {
    const pending = pendingSockets();
    expect([pending.admit(socket(), '198.51.100.1'), pending.admit(socket(), '198.51.100.1')]).toEqual([true, true]);
    expect(pending.admit(socket(), '198.51.100.1')).toBe(false);
  });

  it('counts each address on its own', () => {
    const pending = pendingSockets();
    pending.admit(socket(), '198.51.100.1');
    pending.admit(socket(), '198.51.100.1');
    expect(pending.admit(socket(), '198.51.100.2')).toBe(true);
  });

  it('frees a slot when a socket goes live, once', () => {
    const pending = pendingSockets();
    const first = socket();
    pending.admit(first, '198.51.100.1');
    pending.admit(socket(), '198.51.100.1');
    pending.authenticated(first);
    pending.authenticated(first);
    first.emit('close');
    expect(pending.isPending(first)).toBe(false);
    expect(pending.admit(socket(), '198.51.100.1')).toBe(true);
    expect(pending.admit(socket(), '198.51.100.1')).toBe(false);
  });

  it('frees a slot when a socket closes', () => {
    const pending = pendingSockets();
    const first = socket();
    pending.admit(first, '198.51.100.1');
    pending.admit(socket(), '198.51.100.1');
    first.emit('close');
    expect(pending.admit(socket(), '198.51.100.1')).toBe(true);
  });

  it('does not count a refused socket, even when it closes', () => {
    const pending = pendingSockets();
    pending.admit(socket(), '198.51.100.1');
    pending.admit(socket(), '198.51.100.1');
    const refused = socket();
    expect(pending.admit(refused, '198.51.100.1')).toBe(false);
    refused.emit('close');
    expect(pending.isPending(refused)).toBe(false);
    expect(pending.admit(socket(), '198.51.100.1')).toBe(false);
  });

  it('reads the client address behind a trusted proxy', () => {
    const pending = pendingSockets({ TRUST_PROXY: '10.0.0.7' });
    const viaProxy = {
      socket: { remoteAddress: '10.0.0.7' },
      headers: { 'x-forwarded-for': '198.51.100.1' },
    } as unknown as IncomingMessage;
    expect(pending.addressOf(viaProxy)).toBe('198.51.100.1');
  });
});

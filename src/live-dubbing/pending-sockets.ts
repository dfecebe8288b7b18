import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { clientAddress, TrustedProxies } from '../common/client-address.js';
import { AppConfig } from '../config/app-config.js';

/**
 * The sockets of this instance (both live gateways) whose session is not live yet, counted per client address:
 * at most WS_MAX_PENDING_PER_ADDRESS at once, so one address cannot hold the instance's sockets without a token.
 * A socket stops counting when its session goes live or when it closes.
 */
@Injectable()
export class PendingSockets {
  private readonly trustedProxies: TrustedProxies;
  private readonly addresses = new Map<WebSocket, string>();
  private readonly counts = new Map<string, number>();

  constructor(private readonly config: AppConfig) {
    this.trustedProxies = new TrustedProxies(config.ws.trustedProxies);
  }

  /** The client's address (TRUST_PROXY says whose X-Forwarded-For to believe). */
  addressOf(request: IncomingMessage): string {
    return clientAddress(request, this.trustedProxies);
  }

  /** Counts `socket` against `address` and returns true; returns false, counting nothing, if the address is at its limit. */
  admit(socket: WebSocket, address: string): boolean {
    const count = this.counts.get(address) ?? 0;
    if (count >= this.config.ws.maxPendingPerAddress) {
      return false;
    }
    this.counts.set(address, count + 1);
    this.addresses.set(socket, address);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /** The socket's session went live: it no longer counts against its address. */
  authenticated(socket: WebSocket): void {
    this.release(socket);
  }

  isPending(socket: WebSocket): boolean {
    return this.addresses.has(socket);
  }

  private release(socket: WebSocket): void {
    const address = this.addresses.get(socket);
    if (address === undefined) {
      return;
    }
    this.addresses.delete(socket);
    const count = this.counts.get(address)! - 1;
    if (count === 0) {
      this.counts.delete(address);
    } else {
      this.counts.set(address, count);
    }
  }
}

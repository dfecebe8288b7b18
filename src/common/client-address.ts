import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

const IPV4_MAPPED = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i;

/** One entry of TRUST_PROXY: an IP address ("10.0.0.7") or a CIDR block ("10.0.0.0/8", "fd00::/8"). */
export function isAddressOrBlock(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) {
    return false;
  }
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/** The entries of a comma-separated list (TRUST_PROXY, X-Forwarded-For), trimmed, blanks dropped. */
export function splitList(list: string): string[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** An IPv4 client reached over an IPv6 socket ("::ffff:1.2.3.4") is the same client as "1.2.3.4". */
export function normalizeAddress(address: string): string {
  return IPV4_MAPPED.exec(address)?.[1] ?? address;
}

/** The proxies (addresses and CIDR blocks of TRUST_PROXY) whose X-Forwarded-For header is believed. */
export class TrustedProxies {
  private readonly blocks = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/');
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) {
        this.blocks.addAddress(address, type);
      } else {
        this.blocks.addSubnet(address, Number(prefix), type);
      }
    }
    this.empty = entries.length === 0;
  }

  includes(address: string): boolean {
    const family = isIP(address);
    return !this.empty && family !== 0 && this.blocks.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The address of the client behind `request`. The direct peer, unless it is a trusted proxy: then the right-most
 * X-Forwarded-For entry that is not a trusted proxy (entries to its left were written by the client and prove nothing).
 */
export function clientAddress(request: IncomingMessage, trusted: TrustedProxies): string {
  const peer = normalizeAddress(request.socket.remoteAddress ?? '');
  const header = request.headers['x-forwarded-for'];
  if (!trusted.includes(peer) || header === undefined) {
    return peer;
  }
  const forwarded = splitList(Array.isArray(header) ? header.join(',') : header).map(normalizeAddress);
  for (let index = forwarded.length - 1; index >= 0; index--) {
    if (!trusted.includes(forwarded[index])) {
      return forwarded[index];
    }
  }
  // Every hop is a trusted proxy: the left-most one is where the request entered.
  return forwarded[0] ?? peer;
}

import type { IncomingMessage } from 'node:http';
import { clientAddress, isAddressOrBlock, normalizeAddress, TrustedProxies } from './client-address.js';

function request(peer: string, forwardedFor?: string | string[]): IncomingMessage {
  const headers = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

describe(clientAddress.name, () => {
  const proxies = new TrustedProxies(['10.0.0.7', '192.168.0.0/16', 'fd00::/8']);

  it('is the direct peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress(request('203.0.113.9', '198.51.100.1'), new TrustedProxies([]))).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientAddress(request('203.0.113.9', '198.51.100.1'), proxies)).toBe('203.0.113.9');
  });

  it('believes X-Forwarded-For from a trusted proxy', () => {
    expect(clientAddress(request('10.0.0.7', '198.51.100.1'), proxies)).toBe('198.51.100.1');
  });

  it('takes the right-most entry that is not a trusted proxy, not what the client wrote on the left', () => {
    expect(clientAddress(request('10.0.0.7', '6.6.6.6, 198.51.100.1, 192.168.4.2'), proxies)).toBe('198.51.100.1');
  });

  it('reads repeated X-Forwarded-For headers as one list', () => {
    expect(clientAddress(request('10.0.0.7', ['6.6.6.6', '198.51.100.1']), proxies)).toBe('198.51.100.1');
  });

  it('matches trusted CIDR blocks, IPv6 included', () => {
    expect(clientAddress(request('192.168.200.1', '198.51.100.1'), proxies)).toBe('198.51.100.1');
    expect(clientAddress(request('fd12::1', '2001:db8::5'), proxies)).toBe('2001:db8::5');
    expect(clientAddress(request('2001:db8::7', '198.51.100.1'), proxies)).toBe('2001:db8::7');
  });

  it('knows an IPv4 peer seen through an IPv6 socket', () => {
    expect(clientAddress(request('::ffff:10.0.0.7', '::ffff:198.51.100.1'), proxies)).toBe('198.51.100.1');
    expect(clientAddress(request('::ffff:203.0.113.9'), proxies)).toBe('203.0.113.9');
  });

  it('is the trusted peer itself when it sends no or an empty X-Forwarded-For', () => {
    expect(clientAddress(request('10.0.0.7'), proxies)).toBe('10.0.0.7');
    expect(clientAddress(request('10.0.0.7', ' , '), proxies)).toBe('10.0.0.7');
  });

  it('is the left-most hop when every hop is a trusted proxy', () => {
    expect(clientAddress(request('10.0.0.7', '192.168.1.1, 192.168.1.2'), proxies)).toBe('192.168.1.1');
  });
});

describe(isAddressOrBlock.name, () => {
  it.each(['10.0.0.1', '10.0.0.0/8', '0.0.0.0/0', '::1', 'fd00::/8', '2001:db8::/128'])('accepts %s', (entry) => {
    expect(isAddressOrBlock(entry)).toBe(true);
  });

  it.each(['proxy.internal', '10.0.0.256', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', 'fd00::/129', '10.0.0.0/-1', ''])(
    'refuses %s',
    (entry) => {
      expect(isAddressOrBlock(entry)).toBe(false);
    },
  );
});

describe(normalizeAddress.name, () => {
  it('writes an IPv4-mapped IPv6 address as IPv4 and leaves others alone', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('127.0.0.1')).toBe('127.0.0.1');
  });
});

// IPv6 socket address text `[addr]:port`, split and checked; the address part goes through
// parseIpv6, so it is refused for the same reasons.
import { isIPv4 } from 'node:net';
import { parseIpv6 } from './address';
import { Ipv6Error } from './errors';

export interface Ipv6SocketAddress {
  /** Address text as given (without brackets). */
  address: string;
  port: number;
}

/**
 * Parses `[addr]:port` (port 0..65535; 0 = any free port). `a.b.c.d[:port]` fails with
 * IPV4_ENDPOINT, other shapes with NOT_ENDPOINT, the port with BAD_PORT (input: the port text),
 * the address with parseIpv6's codes (input: the address text).
 */
export function parseIpv6Endpoint(text: string): Ipv6SocketAddress {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  if (m === null) {
    const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d*)?$/.exec(text);
    if (v4 !== null && isIPv4(v4[1]!)) {
      throw new Ipv6Error('IPV4_ENDPOINT', `${text} is an IPv4 endpoint; only IPv6 is accepted (write [addr]:port)`, text);
    }
    throw new Ipv6Error('NOT_ENDPOINT', `${JSON.stringify(text)} is not an IPv6 endpoint of the form [addr]:port`, text);
  }
  const address = m[1]!;
  parseIpv6(address);
  const portText = m[2]!;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port > 65535) {
    throw new Ipv6Error('BAD_PORT', `port ${JSON.stringify(portText)} in ${text} is not an integer in 0..65535`, portText);
  }
  return { address, port };
}

// IPv6 address text <-> 16 bytes, and the IPv6-only policy: IPv4 and IPv4-mapped
// (::ffff:0:0/96) addresses are refused with IPV4_REFUSED everywhere STOQ takes an address.

import { isIPv4, isIPv6 } from 'node:net';
import { StoqError } from '../errors';

export const IPV6_LENGTH = 16;

/** True for ::ffff:a.b.c.d — an IPv4 address in IPv6 clothing. */
export function isIpv4Mapped(address: Uint8Array): boolean {
  if (address.length !== IPV6_LENGTH) return false;
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return false;
  return address[10] === 0xff && address[11] === 0xff;
}

/** Parses textual IPv6 (RFC 4291 §2.2) to 16 bytes. Refuses IPv4, IPv4-mapped and zone ids. */
export function parseIpv6(text: string): Uint8Array {
  if (isIPv4(text)) {
    throw new StoqError('IPV4_REFUSED', `${text} is an IPv4 address; STOQ is IPv6-only`, { details: { address: text } });
  }
  if (text.includes('%')) {
    throw new StoqError('INVALID_ADDRESS', `${text}: zone ids are not supported in STOQ addresses`, { details: { address: text } });
  }
  if (!isIPv6(text)) {
    throw new StoqError('INVALID_ADDRESS', `${JSON.stringify(text)} is not an IPv6 address`, { details: { address: text } });
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const split = text.indexOf('::');
  let words: number[];
  if (split < 0) {
    words = groups(text);
  } else {
    const left = groups(text.slice(0, split));
    const right = groups(text.slice(split + 2));
    words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  const bytes = new Uint8Array(IPV6_LENGTH);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  if (isIpv4Mapped(bytes)) {
    throw new StoqError('IPV4_REFUSED', `${text} is an IPv4-mapped address; STOQ is IPv6-only`, { details: { address: text } });
  }
  return bytes;
}

/** RFC 5952 text form of a 16-byte address (lowercase, longest zero run compressed). */
export function formatIpv6(address: Uint8Array): string {
  if (address.length !== IPV6_LENGTH) return `<${address.length}-byte address>`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((address[2 * i]! << 8) | address[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // only runs of 2+ zero words are compressed
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/**
 * Checks that `address` is a 16-byte, non-IPv4-mapped address; `what` names it in the error.
 * Throws INVALID_ADDRESS (wrong length) or IPV4_REFUSED.
 */
export function checkIpv6Bytes(address: Uint8Array, what: string): void {
  if (address.length !== IPV6_LENGTH) {
    throw new StoqError('INVALID_ADDRESS', `${what} must be a 16-byte IPv6 address, got ${address.length} bytes`, {
      details: { field: what, length: address.length },
    });
  }
  if (isIpv4Mapped(address)) {
    throw new StoqError('IPV4_REFUSED', `${what} ${formatIpv6(address)} is an IPv4-mapped address; STOQ is IPv6-only`, {
      details: { field: what },
    });
  }
}

/** An IPv6 socket address `[addr]:port`, split. */
export interface Ipv6SocketAddress {
  /** Address text as given (without brackets). */
  address: string;
  port: number;
}

/**
 * Parses `[addr]:port` (port 0..65535; 0 = any free port). IPv4 (`1.2.3.4:5`) and IPv4-mapped
 * addresses fail with IPV4_REFUSED; anything else malformed with INVALID_ADDRESS.
 */
export function parseIpv6Endpoint(text: string): Ipv6SocketAddress {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  if (m === null) {
    const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d*)?$/.exec(text);
    if (v4 !== null && isIPv4(v4[1]!)) {
      throw new StoqError('IPV4_REFUSED', `${text} is an IPv4 endpoint; STOQ is IPv6-only (write [addr]:port)`, {
        details: { endpoint: text },
      });
    }
    throw new StoqError('INVALID_ADDRESS', `${JSON.stringify(text)} is not an IPv6 endpoint of the form [addr]:port`, {
      details: { endpoint: text },
    });
  }
  const address = m[1]!;
  parseIpv6(address);
  const portText = m[2]!;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port > 65535) {
    throw new StoqError('INVALID_ADDRESS', `port ${JSON.stringify(portText)} in ${text} is not an integer in 0..65535`, {
      details: { endpoint: text, port: portText },
    });
  }
  return { address, port };
}

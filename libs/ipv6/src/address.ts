// IPv6 address text <-> 16 bytes. IPv4, IPv4-mapped (::ffff:0:0/96) and scoped addresses are
// refused: everything here is IPv6-only by design.
import { isIPv4, isIPv6 } from 'node:net';
import { Ipv6Error } from './errors';

export const IPV6_LENGTH = 16;

/** True for ::ffff:a.b.c.d — an IPv4 address in IPv6 clothing. */
export function isIpv4Mapped(address: Uint8Array): boolean {
  if (address.length !== IPV6_LENGTH) return false;
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return false;
  return address[10] === 0xff && address[11] === 0xff;
}

/**
 * Parses textual IPv6 (RFC 4291 §2.2, including a dotted-quad tail) to 16 bytes. Refuses IPv4
 * (IPV4), zone ids (ZONE_ID), IPv4-mapped addresses (IPV4_MAPPED) and anything else (NOT_IPV6).
 */
export function parseIpv6(text: string): Uint8Array {
  if (typeof text !== 'string') throw new Ipv6Error('NOT_IPV6', `${String(text)} is not an IPv6 address`, String(text));
  if (isIPv4(text)) throw new Ipv6Error('IPV4', `${text} is an IPv4 address; only IPv6 is accepted`, text);
  if (text.includes('%')) throw new Ipv6Error('ZONE_ID', `${text}: zone ids are not accepted`, text);
  // node:net's validator decides what is IPv6 text; the code below only has to convert it.
  if (!isIPv6(text)) throw new Ipv6Error('NOT_IPV6', `${JSON.stringify(text)} is not an IPv6 address`, text);
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
  if (isIpv4Mapped(bytes)) throw new Ipv6Error('IPV4_MAPPED', `${text} is an IPv4-mapped address; only IPv6 is accepted`, text);
  return bytes;
}

/** 16-bit words of a colon-separated run; a dotted-quad group (the tail) gives two words. */
function groups(part: string): number[] {
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
}

/** RFC 5952 text form of a 16-byte address (lowercase, longest zero run of 2+ words compressed). */
export function formatIpv6(address: Uint8Array): string {
  if (address.length !== IPV6_LENGTH) return `<${address.length}-byte address>`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((address[2 * i]! << 8) | address[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // only runs of 2+ zero words are compressed; the first longest run wins
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

/** Refuses bytes that are not 16 long (WRONG_LENGTH) or are IPv4-mapped (IPV4_MAPPED). */
export function checkIpv6Bytes(address: Uint8Array): void {
  if (address.length !== IPV6_LENGTH) {
    throw new Ipv6Error('WRONG_LENGTH', `an IPv6 address is 16 bytes, got ${address.length}`, `<${address.length}-byte address>`);
  }
  if (isIpv4Mapped(address)) {
    const text = formatIpv6(address);
    throw new Ipv6Error('IPV4_MAPPED', `${text} is an IPv4-mapped address; only IPv6 is accepted`, text);
  }
}

import { isIPv6 } from 'node:net';
import { fail } from './errors';

/**
 * IPv6 address handling for the PoSpace location claim: textual <-> 16-byte form, rejecting
 * IPv4-mapped (::ffff:0:0/96) and the unspecified address, which do not name an IPv6 location.
 */

export function parseIpv6(text: string, field = 'ipv6Address'): Uint8Array {
  if (typeof text !== 'string' || !isIPv6(text) || text.includes('%')) {
    fail('INVALID_ARGUMENT', field, `not an IPv6 address (zone ids not allowed): ${JSON.stringify(text)}`);
  }
  let hexText = text;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    // Embedded dotted-quad tail (e.g. ::ffff:192.0.2.1): rewrite as two hex groups.
    const [a, b, c, d] = text.slice(lastColon + 1).split('.').map((s) => Number(s)) as [number, number, number, number];
    hexText = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parseGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  const gap = hexText.indexOf('::');
  if (gap === -1) {
    groups = parseGroups(hexText);
  } else {
    const l = parseGroups(hexText.slice(0, gap));
    const r = parseGroups(hexText.slice(gap + 2));
    groups = [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  checkIpv6Bytes(out, field, 'INVALID_ARGUMENT');
  return out;
}

/** Rejects anything but 16 bytes naming a usable IPv6 location. */
export function checkIpv6Bytes(bytes: Uint8Array, field: string, code: 'INVALID_ARGUMENT' | 'POSPACE_INVALID'): void {
  if (bytes.length !== 16) fail(code, field, `IPv6 address must be 16 bytes, got ${bytes.length}`);
  let zeroPrefix = true;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) zeroPrefix = false;
  if (zeroPrefix && bytes[10] === 0xff && bytes[11] === 0xff) {
    fail(code, field, 'IPv4-mapped address (::ffff:a.b.c.d) is not an IPv6 location');
  }
  if (bytes.every((b) => b === 0)) fail(code, field, 'unspecified address (::) is not a location');
}

/** RFC 5952-style text (lower case, longest zero run compressed). */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

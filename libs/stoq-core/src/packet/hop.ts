// Multi-hop route record: the IPv6 addresses a packet has passed through, with a hop limit
// and loop detection. Pure functions over an immutable value.

import { StoqError } from '../errors';
import { checkIpv6Bytes, formatIpv6, parseIpv6 } from './ipv6';

export const MAX_HOP_LIMIT = 255;
export const DEFAULT_HOP_LIMIT = 16;

/** The `stoq.v1.HopInfo` message. */
export interface HopInfo {
  /** 16-byte IPv6 addresses, oldest first. */
  readonly hops: readonly Uint8Array[];
  /** Largest number of hops allowed, 1..255. */
  readonly hopLimit: number;
}

function checkHopLimit(hopLimit: number): void {
  if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > MAX_HOP_LIMIT) {
    throw new StoqError('INVALID_ARGUMENT', `hop_limit must be an integer in 1..${MAX_HOP_LIMIT}, got ${hopLimit}`);
  }
}

/** An empty route with the given hop limit. */
export function createHopInfo(hopLimit: number = DEFAULT_HOP_LIMIT): HopInfo {
  checkHopLimit(hopLimit);
  return { hops: [], hopLimit };
}

function toAddress(address: string | Uint8Array): Uint8Array {
  if (typeof address === 'string') return parseIpv6(address);
  checkIpv6Bytes(address, 'hop address');
  return address;
}

function indexOfAddress(hops: readonly Uint8Array[], address: Uint8Array): number {
  return hops.findIndex((h) => h.length === address.length && h.every((b, i) => b === address[i]));
}

/** True when `address` already appears in the route. */
export function hasVisited(info: HopInfo, address: string | Uint8Array): boolean {
  return indexOfAddress(info.hops, toAddress(address)) >= 0;
}

/**
 * The route with `address` appended (the input is not modified). Throws IPV4_REFUSED or
 * INVALID_ADDRESS for a bad address, HOP_LOOP if it is already in the route, HOP_LIMIT if the
 * route already holds hop_limit addresses.
 */
export function appendHop(info: HopInfo, address: string | Uint8Array): HopInfo {
  checkHopLimit(info.hopLimit);
  const addr = toAddress(address);
  const seenAt = indexOfAddress(info.hops, addr);
  if (seenAt >= 0) {
    throw new StoqError('HOP_LOOP', `routing loop: ${formatIpv6(addr)} is already hop ${seenAt + 1} of ${info.hops.length}`, {
      details: { address: formatIpv6(addr), hop: seenAt },
    });
  }
  if (info.hops.length >= info.hopLimit) {
    throw new StoqError('HOP_LIMIT', `hop limit ${info.hopLimit} reached; cannot add ${formatIpv6(addr)}`, {
      details: { hopLimit: info.hopLimit },
    });
  }
  return { hops: [...info.hops, Uint8Array.from(addr)], hopLimit: info.hopLimit };
}

/**
 * Checks a received route: hop_limit in range, every address a 16-byte non-mapped IPv6 address,
 * no more than hop_limit hops (HOP_LIMIT), no address twice (HOP_LOOP).
 */
export function validateHopInfo(info: HopInfo): void {
  checkHopLimit(info.hopLimit);
  if (info.hops.length > info.hopLimit) {
    throw new StoqError('HOP_LIMIT', `route has ${info.hops.length} hops, more than its hop_limit ${info.hopLimit}`, {
      details: { hopLimit: info.hopLimit, hops: info.hops.length },
    });
  }
  const seen = new Set<string>();
  info.hops.forEach((hop, i) => {
    checkIpv6Bytes(hop, `hop_info.hops[${i}]`);
    const text = formatIpv6(hop);
    if (seen.has(text)) {
      throw new StoqError('HOP_LOOP', `routing loop: ${text} appears twice in the route`, { details: { address: text, hop: i } });
    }
    seen.add(text);
  });
}

// How STOQ names a node in its certificate, and the IPv6 address codec for iPAddress SANs.
//
// A leaf for instance `caesar-1` of service `caesar` carries:
//   subject CN = caesar-1, O = STOQ
//   dNSName SANs: caesar-1.caesar.hypermesh, caesar.hypermesh, caesar (plus any extra names)
// so a peer derives {service, instance} from the certificate alone: the service is the one dNSName
// of exactly two labels ending in `.hypermesh`, the instance is the CN.

import { isIPv6 } from 'node:net';
import { StoqError } from '../errors';

export const STOQ_ORGANIZATION = 'STOQ';
export const MESH_ZONE = 'hypermesh';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Throw unless `name` is a lowercase DNS label (what service and instance names must be). */
export function assertLabel(kind: 'service' | 'instance', name: string): void {
  if (!LABEL.test(name)) {
    throw new StoqError(
      'TLS_CONFIG',
      `invalid ${kind} name ${JSON.stringify(name)}: use 1-63 lowercase letters, digits or '-', not starting or ending with '-'`,
    );
  }
}

/** The dNSName SANs every STOQ leaf for `instance` of `service` carries, most specific first. */
export function standardDnsNames(service: string, instance: string): string[] {
  assertLabel('service', service);
  assertLabel('instance', instance);
  return [`${instance}.${service}.${MESH_ZONE}`, `${service}.${MESH_ZONE}`, service];
}

/** Encode an IPv6 address as the 16 octets of an iPAddress SAN. IPv4 (and IPv4-mapped) is refused. */
export function ipv6ToBytes(address: string): Uint8Array {
  if (!isIPv6(address) || address.includes('.') || address.includes('%')) {
    throw new StoqError('TLS_CONFIG', `invalid IPv6 address ${JSON.stringify(address)} (STOQ is IPv6-only; no zone ids or dotted IPv4)`);
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...new Array<string>(zeros).fill('0'), ...tailGroups];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (isIPv4Mapped(out)) throw new StoqError('TLS_CONFIG', `IPv4-mapped address ${address} refused: STOQ is IPv6-only`);
  return out;
}

function isIPv4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Format 16 octets as an RFC 5952 IPv6 string (lowercase, longest zero run compressed). */
export function bytesToIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new StoqError('PEER_REJECTED', `iPAddress SAN of ${bytes.length} bytes is not an IPv6 address`);
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
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

// How STOQ names a node in its certificate, and the IPv6 address codec for iPAddress SANs.
//
// A leaf for instance `caesar-1` of service `caesar` carries:
//   subject CN = caesar-1, O = STOQ
//   dNSName SANs: caesar-1.caesar.hypermesh, caesar.hypermesh, caesar (plus any extra names)
// so a peer derives {service, instance} from the certificate alone: the service is the one dNSName
// of exactly two labels ending in `.hypermesh`, the instance is the CN.

import { StoqError } from '../errors';
import { formatIpv6, parseIpv6 } from '../packet/ipv6';

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
  try {
    return parseIpv6(address);
  } catch (err) {
    // Our own configuration is wrong: report it as such, keeping the address parser's reason.
    throw new StoqError('TLS_CONFIG', `invalid IPv6 SAN: ${(err as Error).message}`, { cause: err });
  }
}

/** Format 16 octets as an RFC 5952 IPv6 string (lowercase, longest zero run compressed). */
export function bytesToIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new StoqError('PEER_REJECTED', `iPAddress SAN of ${bytes.length} bytes is not an IPv6 address`);
  return formatIpv6(bytes);
}

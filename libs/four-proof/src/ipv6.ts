import * as ipv6 from '@stoq/ipv6';
import { fail } from './errors';

/**
 * IPv6 address handling for the PoSpace location claim: @stoq/ipv6 converts text <-> 16 bytes;
 * this boundary adds the location rule (the unspecified address names no location) and reports
 * every refusal as a FourProofError naming the field.
 */

export { formatIpv6 } from '@stoq/ipv6';

export function parseIpv6(text: string, field = 'ipv6Address'): Uint8Array {
  let out: Uint8Array;
  try {
    out = ipv6.parseIpv6(text);
  } catch (err) {
    if (ipv6.isIpv6Error(err, 'IPV4_MAPPED')) fail('INVALID_ARGUMENT', field, MAPPED);
    if (ipv6.isIpv6Error(err)) fail('INVALID_ARGUMENT', field, `not an IPv6 address (zone ids not allowed): ${JSON.stringify(text)}`);
    throw err;
  }
  checkIpv6Bytes(out, field, 'INVALID_ARGUMENT');
  return out;
}

const MAPPED = 'IPv4-mapped address (::ffff:a.b.c.d) is not an IPv6 location';

/** Rejects anything but 16 bytes naming a usable IPv6 location. */
export function checkIpv6Bytes(bytes: Uint8Array, field: string, code: 'INVALID_ARGUMENT' | 'POSPACE_INVALID'): void {
  try {
    ipv6.checkIpv6Bytes(bytes);
  } catch (err) {
    if (ipv6.isIpv6Error(err, 'WRONG_LENGTH')) fail(code, field, `IPv6 address must be 16 bytes, got ${bytes.length}`);
    if (ipv6.isIpv6Error(err, 'IPV4_MAPPED')) fail(code, field, MAPPED);
    throw err;
  }
  if (bytes.every((b) => b === 0)) fail(code, field, 'unspecified address (::) is not a location');
}

// The IPv6-only policy where STOQ takes an address: @stoq/ipv6 parses and formats, and this
// boundary turns its Ipv6Error into STOQ's own StoqError (IPV4_REFUSED for IPv4 and
// IPv4-mapped addresses, INVALID_ADDRESS for the rest), worded for STOQ as before.
import * as ipv6 from '@stoq/ipv6';
import { StoqError } from '../errors';

export { IPV6_LENGTH, formatIpv6, isIpv4Mapped, type Ipv6SocketAddress } from '@stoq/ipv6';

/** Parses textual IPv6 (RFC 4291 §2.2) to 16 bytes. Refuses IPv4, IPv4-mapped and zone ids. */
export function parseIpv6(text: string): Uint8Array {
  try {
    return ipv6.parseIpv6(text);
  } catch (err) {
    throw addressError(err);
  }
}

/**
 * Checks that `address` is a 16-byte, non-IPv4-mapped address; `what` names it in the error.
 * Throws INVALID_ADDRESS (wrong length) or IPV4_REFUSED.
 */
export function checkIpv6Bytes(address: Uint8Array, what: string): void {
  try {
    ipv6.checkIpv6Bytes(address);
  } catch (err) {
    if (!ipv6.isIpv6Error(err)) throw err;
    if (err.code === 'WRONG_LENGTH') {
      throw new StoqError('INVALID_ADDRESS', `${what} must be a 16-byte IPv6 address, got ${address.length} bytes`, {
        cause: err,
        details: { field: what, length: address.length },
      });
    }
    throw new StoqError('IPV4_REFUSED', `${what} ${err.input} is an IPv4-mapped address; STOQ is IPv6-only`, { cause: err, details: { field: what } });
  }
}

/**
 * Parses `[addr]:port` (port 0..65535; 0 = any free port). IPv4 (`1.2.3.4:5`) and IPv4-mapped
 * addresses fail with IPV4_REFUSED; anything else malformed with INVALID_ADDRESS.
 */
export function parseIpv6Endpoint(text: string): ipv6.Ipv6SocketAddress {
  try {
    return ipv6.parseIpv6Endpoint(text);
  } catch (err) {
    if (!ipv6.isIpv6Error(err)) throw err;
    switch (err.code) {
      case 'IPV4_ENDPOINT':
        return refuse('IPV4_REFUSED', `${text} is an IPv4 endpoint; STOQ is IPv6-only (write [addr]:port)`, err, { endpoint: text });
      case 'NOT_ENDPOINT':
        return refuse('INVALID_ADDRESS', `${JSON.stringify(text)} is not an IPv6 endpoint of the form [addr]:port`, err, { endpoint: text });
      case 'BAD_PORT':
        return refuse('INVALID_ADDRESS', `port ${JSON.stringify(err.input)} in ${text} is not an integer in 0..65535`, err, { endpoint: text, port: err.input });
      default:
        throw addressError(err);
    }
  }
}

/** StoqError for a failure of parseIpv6 on address text (`err.input`). */
function addressError(err: unknown): unknown {
  if (!ipv6.isIpv6Error(err)) return err;
  const address = err.input;
  const details = { address };
  switch (err.code) {
    case 'IPV4':
      return new StoqError('IPV4_REFUSED', `${address} is an IPv4 address; STOQ is IPv6-only`, { cause: err, details });
    case 'IPV4_MAPPED':
      return new StoqError('IPV4_REFUSED', `${address} is an IPv4-mapped address; STOQ is IPv6-only`, { cause: err, details });
    case 'ZONE_ID':
      return new StoqError('INVALID_ADDRESS', `${address}: zone ids are not supported in STOQ addresses`, { cause: err, details });
    default:
      return new StoqError('INVALID_ADDRESS', `${JSON.stringify(address)} is not an IPv6 address`, { cause: err, details });
  }
}

function refuse(code: 'IPV4_REFUSED' | 'INVALID_ADDRESS', message: string, cause: ipv6.Ipv6Error, details: Record<string, unknown>): never {
  throw new StoqError(code, message, { cause, details });
}

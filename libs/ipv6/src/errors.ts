// The one error this package throws. `code` says what was wrong; `input` is the offending piece
// of the input (the address text, the port text, the whole endpoint, or a description of bytes),
// so a caller can map the error to its own type and words without parsing the message.

export type Ipv6ErrorCode =
  /** Dotted-quad IPv4 text where an IPv6 address was expected. */
  | 'IPV4'
  /** An IPv4-mapped address (::ffff:0:0/96): IPv4 in IPv6 clothing. */
  | 'IPV4_MAPPED'
  /** A scoped address (`fe80::1%eth0`): zone ids are not accepted. */
  | 'ZONE_ID'
  /** Text that is no IPv6 address at all. */
  | 'NOT_IPV6'
  /** Bytes that are not 16 long. */
  | 'WRONG_LENGTH'
  /** `a.b.c.d:port`: an IPv4 endpoint where `[addr]:port` was expected. */
  | 'IPV4_ENDPOINT'
  /** Not of the form `[addr]:port`. */
  | 'NOT_ENDPOINT'
  /** The port of `[addr]:port` is not an integer in 0..65535. */
  | 'BAD_PORT';

export class Ipv6Error extends Error {
  override readonly name = 'Ipv6Error';

  constructor(
    readonly code: Ipv6ErrorCode,
    message: string,
    /** The offending piece of input (see the file comment). */
    readonly input: string,
  ) {
    super(message);
  }
}

export function isIpv6Error(err: unknown, code?: Ipv6ErrorCode): err is Ipv6Error {
  return err instanceof Ipv6Error && (code === undefined || err.code === code);
}

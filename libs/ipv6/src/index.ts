// @stoq/ipv6: IPv6 address and endpoint text <-> bytes, IPv6-only. See README.md.
export { IPV6_LENGTH, isIpv4Mapped, parseIpv6, formatIpv6, checkIpv6Bytes } from './address';
export { parseIpv6Endpoint, type Ipv6SocketAddress } from './endpoint';
export { Ipv6Error, isIpv6Error, type Ipv6ErrorCode } from './errors';

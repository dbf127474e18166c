// TrustChain's authoritative DNS for the `hypermesh.` zone (service discovery). See docs/dns.md.
export { ZoneError, isZoneError, type ZoneErrorCode } from './errors';
export {
  Zone,
  DEFAULT_ORIGIN,
  DEFAULT_ZONE_LIMITS,
  SRV_PREFIX,
  type AaaaRecord,
  type InstanceEndpoint,
  type LookupRcode,
  type NsRecord,
  type RecordInput,
  type RegisteredRecord,
  type Registration,
  type RegistrationOwner,
  type SoaRecord,
  type SrvRecord,
  type TxtRecord,
  type ZoneAnswer,
  type ZoneLimits,
  type ZoneOptions,
  type ZoneRecord,
  type ZoneRecordType,
} from './zone';
export {
  DnsResponder,
  CLASSIC_UDP_PAYLOAD,
  DNS_HEADER_BYTES,
  MAX_TCP_MESSAGE,
  type DnsRcode,
  type DnsReply,
  type DnsTransport,
  type ResponderOptions,
} from './responder';
export { DnsServer, DEFAULT_TCP_LIMITS, type DnsServerCounters, type DnsServerOptions, type TcpLimits } from './server';

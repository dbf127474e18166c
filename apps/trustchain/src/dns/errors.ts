// The error a registration with the `hypermesh.` zone is refused with. `code` is stable and names
// what was wrong (the service layer maps it to an RPC status: PERMISSION_DENIED for names the
// caller does not own, INVALID_ARGUMENT for the rest, RESOURCE_EXHAUSTED for the limits);
// `input` is the offending piece (a name, a value), so a caller need not parse the message.

export type ZoneErrorCode =
  /** The owner's service or instance name is not a lowercase DNS label, or is reserved. */
  | 'OWNER_INVALID'
  /** A record name is not a valid domain name (empty label, label > 63, name > 253, bad characters). */
  | 'NAME_INVALID'
  /** A record name is not under the zone (`hypermesh.`). */
  | 'NAME_OUTSIDE_ZONE'
  /** A record name belongs to another service (`caesar` claiming `_stoq._udp.trustchain.hypermesh.`). */
  | 'NAME_OF_OTHER_SERVICE'
  /** A host name of another instance of the caller's own service. */
  | 'NAME_OF_OTHER_INSTANCE'
  /** Under the caller's service, but not one of the two names a registration may use. */
  | 'NAME_NOT_ALLOWED'
  /** A type the name may not carry (SRV only at `_stoq._udp.<service>`, AAAA only at `<instance>.<service>`, TXT at both). */
  | 'TYPE_NOT_ALLOWED'
  /** An SRV record whose target is not the registering instance's own host name. */
  | 'SRV_TARGET_NOT_OWNED'
  /** Record data out of range: port, priority, weight, TTL, IPv6 address, TXT length. */
  | 'RECORD_INVALID'
  /** A registration without records (use deregister to withdraw). */
  | 'NO_RECORDS'
  /** More records in one registration than the zone allows. */
  | 'TOO_MANY_RECORDS'
  /** More instances of one service than the zone allows. */
  | 'TOO_MANY_INSTANCES'
  /** More registrations in the zone than it allows. */
  | 'ZONE_FULL'
  /** A lease length that is not an integer number of ms within the zone's bounds. */
  | 'LEASE_INVALID';

export class ZoneError extends Error {
  override readonly name = 'ZoneError';

  constructor(
    readonly code: ZoneErrorCode,
    message: string,
    /** The offending piece of input (a record name, a value). */
    readonly input: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isZoneError(err: unknown, code?: ZoneErrorCode): err is ZoneError {
  return err instanceof ZoneError && (code === undefined || err.code === code);
}

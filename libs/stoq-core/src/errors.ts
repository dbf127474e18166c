// The one error type stoq-core throws. Callers branch on `code` (stable, machine-readable);
// `message` says in words what was wrong and with which value.

/** Every failure stoq-core reports, by cause. */
export type StoqErrorCode =
  // framing (varint length prefix + bytes)
  | 'FRAME_TOO_LARGE'
  | 'FRAME_MALFORMED'
  | 'FRAME_TRUNCATED'
  // StoqPacket codec
  | 'PACKET_TOO_LARGE'
  | 'PACKET_MALFORMED'
  // packet extensions
  | 'TOKEN_INVALID'
  | 'TOKEN_REPLAYED'
  | 'SHARD_CORRUPT'
  | 'SHARD_DUPLICATE_MISMATCH'
  | 'SHARD_MISSING'
  | 'SHARD_LIMIT'
  | 'SHARD_TIMEOUT'
  | 'HOP_LIMIT'
  | 'HOP_LOOP'
  | 'SEED_INVALID'
  // configuration and addressing
  | 'CONFIG_INVALID'
  | 'IPV4_REFUSED'
  | 'INVALID_ADDRESS'
  | 'INVALID_ARGUMENT'
  // connections and streams
  | 'HANDSHAKE_FAILED'
  | 'FALCON_REJECTED'
  | 'PEER_REJECTED'
  | 'CONNECTION_LOST'
  | 'STREAM_RESET'
  | 'STREAM_STOPPED'
  | 'STREAM_CLOSED'
  | 'ZERO_RTT_REJECTED'
  | 'DATAGRAM'
  | 'BIND_FAILED'
  | 'HANDSHAKE_INCOMPLETE'
  | 'NOT_ACCEPTING'
  | 'ENDPOINT_CLOSED'
  | 'TLS_CONFIG'
  | 'TIMEOUT'
  // the native module failed in a way that is a bug (or the process is exiting)
  | 'NATIVE_INTERNAL'
  // identity and CA state on disk (IdentityError, identity/errors.ts)
  | 'IDENTITY_INCOMPLETE'
  | 'IDENTITY_DAMAGED'
  | 'IDENTITY_PERMISSIONS'
  | 'IDENTITY_TEMP_LEFTOVER';

export interface StoqErrorOptions {
  /** The underlying error, if this one wraps another. */
  cause?: unknown;
  /** Structured facts about the failure (offending key, sizes, indexes) for logs and callers. */
  details?: Readonly<Record<string, unknown>>;
}

export class StoqError extends Error {
  override readonly name: string = 'StoqError';
  readonly code: StoqErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: StoqErrorCode, message: string, options: StoqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** True when `err` is a StoqError, optionally with the given code. */
export function isStoqError(err: unknown, code?: StoqErrorCode): err is StoqError {
  return err instanceof StoqError && (code === undefined || err.code === code);
}

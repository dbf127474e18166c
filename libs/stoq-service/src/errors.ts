// Errors of the service runtime, with stable codes. Messages say what was wrong and what to do.
export type ServiceErrorCode =
  /** First start, no identity, and no join token to enroll with. */
  | 'NO_JOIN_TOKEN'
  /** First start needs certificates.root_fingerprint to know which TrustChain to trust. */
  | 'NO_ROOT_FINGERPRINT'
  /** TrustChain refused the enrollment or renewal (the RPC status and reason are in the message). */
  | 'ENROLLMENT_REFUSED'
  | 'RENEWAL_REFUSED'
  /** TrustChain did not answer in time, or the connection failed. */
  | 'TRUSTCHAIN_UNREACHABLE'
  /** TrustChain's chain does not end in the pinned root. */
  | 'ROOT_MISMATCH'
  /** A revocation list whose signatures do not verify against the pinned root. */
  | 'REVOCATION_LIST_INVALID'
  | 'CONFIG_INVALID'
  /** The HyperMesh genesis file exists but cannot be read or is not a valid genesis. */
  | 'GENESIS_INVALID';

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceError';
  }
}

export function isServiceError(err: unknown, code?: ServiceErrorCode): err is ServiceError {
  return err instanceof ServiceError && (code === undefined || err.code === code);
}

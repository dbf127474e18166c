// Errors of TrustChain with stable codes. Every code maps to one RPC status (service.ts), and the
// message says what was wrong and what to do.

export type TrustChainErrorCode =
  | 'TOKEN_UNKNOWN'
  | 'TOKEN_USED'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_WRONG_SERVICE'
  | 'CSR_REJECTED'
  | 'FALCON_PROOF_INVALID'
  | 'NAME_NOT_ALLOWED'
  | 'CERTIFICATE_UNKNOWN'
  | 'CERTIFICATE_REVOKED'
  | 'CERTIFICATE_EXPIRED'
  | 'NOT_AUTHORIZED'
  | 'INVALID_ARGUMENT'
  | 'NO_VALIDATOR_SET'
  /** issue_certificate: a proof of the four-proof set failed (the message names which). */
  | 'PROOFS_REFUSED'
  /** renew_certificate: the stake attestation behind an earned certificate expired. */
  | 'STAKE_EXPIRED'
  /** issue_certificate: no HyperMesh validator answered within the deadline. */
  | 'CONSENSUS_UNAVAILABLE'
  /** issue_certificate: HyperMesh answered, but its commit does not verify (QC, block, request). */
  | 'CONSENSUS_UNVERIFIED'
  | 'STATE_DAMAGED'
  | 'STATE_EXISTS'
  /**
   * Neither the root key nor an intermediate is in the data dir (the root is offline and no
   * intermediate was signed), or the root given to sign an intermediate cannot be read.
   */
  | 'NO_SIGNING_KEY'
  /** The root's key files are password-encrypted and no password was given (--password-file). */
  | 'ROOT_KEY_LOCKED'
  /** The password given does not open the root's key files. */
  | 'WRONG_PASSWORD';

export class TrustChainError extends Error {
  constructor(
    readonly code: TrustChainErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TrustChainError';
  }
}

export function isTrustChainError(err: unknown, code?: TrustChainErrorCode): err is TrustChainError {
  return err instanceof TrustChainError && (code === undefined || err.code === code);
}

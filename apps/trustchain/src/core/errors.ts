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
  | 'STATE_DAMAGED'
  | 'STATE_EXISTS';

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

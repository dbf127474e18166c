/**
 * The one error type this package throws for bad proofs, bad encodings and bad inputs.
 * `code` is stable and machine-readable; `field` names the offending field
 * (dotted path, e.g. `space.openings[3].path[2]`).
 */
export type FourProofErrorCode =
  | 'DECODE' // bytes are not a canonical, size-limited encoding
  | 'PROOF_MISSING' // one of the four proofs (or the operation context) is absent
  | 'OPERATION_MISMATCH' // a proof is bound to another operation / asset / node
  | 'STALE' // timestamp outside the tolerance window, or sequence not newer than the last seen
  | 'POSPACE_INVALID'
  | 'POSPACE_INSUFFICIENT' // committed storage below the verifier's minimum
  | 'POSTAKE_INVALID'
  | 'POSTAKE_EXPIRED'
  | 'POSTAKE_INSUFFICIENT' // locked amount below the verifier's minimum
  | 'POWORK_INVALID'
  | 'POWORK_INSUFFICIENT' // difficulty below the verifier's minimum
  | 'POTIME_INVALID'
  | 'INVALID_ARGUMENT'; // caller passed bad parameters / inputs to a generator or verifier

export class FourProofError extends Error {
  override readonly name = 'FourProofError';
  constructor(
    readonly code: FourProofErrorCode,
    readonly field: string,
    detail: string,
  ) {
    super(`${code} at ${field}: ${detail}`);
  }
}

/** Shorthand used throughout: `fail('POWORK_INVALID', 'work.nonce', 'hash has 3 leading zero bits')`. */
export function fail(code: FourProofErrorCode, field: string, detail: string): never {
  throw new FourProofError(code, field, detail);
}

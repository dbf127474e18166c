// Typed errors of the validator process, each with a stable code (logs, exit messages, tests).
export type HyperMeshErrorCode =
  /** The genesis file is missing, unreadable or invalid (names the field). */
  | 'GENESIS_INVALID'
  /** This instance is not in the genesis validator set, or its FALCON key differs from genesis'. */
  | 'NOT_A_VALIDATOR'
  /** The on-disk state cannot be read back as it was written (corruption, torn file, foreign file). */
  | 'STATE_DAMAGED'
  /** The on-disk state belongs to another chain or validator. */
  | 'STATE_MISMATCH'
  /** A snapshot offered by peers is not a valid snapshot of this chain at the height they vouched for. */
  | 'SNAPSHOT_INVALID'
  /** A write to the state failed: the process must stop (nothing it protected was sent). */
  | 'STATE_WRITE_FAILED'
  /** The four-proof configuration file (`serve --four-proof`) is unreadable or invalid (names the field). */
  | 'FOUR_PROOF_CONFIG_INVALID'
  /** Command-line usage. */
  | 'USAGE';

export class HyperMeshError extends Error {
  constructor(
    readonly code: HyperMeshErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HyperMeshError';
  }
}

export function isHyperMeshError(err: unknown, code?: HyperMeshErrorCode): err is HyperMeshError {
  return err instanceof HyperMeshError && (code === undefined || err.code === code);
}

// Error vocabulary of the consensus core. Two different things fail here:
//  - input from the outside (peers, disk) is rejected with a stable RejectCode the shell can log,
//    count and test against (never a message string to parse);
//  - the replica's own safety invariants are asserted, and a broken one throws SafetyViolation:
//    like TigerBeetle's assertions, continuing after one could sign a conflicting vote, so the
//    process must stop and an operator must look.

/** Why a message or record was refused. Stable: shells and tests compare against these. */
export const RejectCode = {
  /** Bytes that do not decode (truncated, trailing bytes, unknown tag, non-canonical order). */
  MALFORMED: 'MALFORMED',
  /** A message, block, operation or signature larger than the configured limits. */
  OVERSIZED: 'OVERSIZED',
  /** A signer or proposer id that is not in the validator set. */
  NOT_VALIDATOR: 'NOT_VALIDATOR',
  /** A signature that does not verify (on the message itself). */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** A quorum certificate that does not verify (bad signature, too little weight, not genesis). */
  INVALID_QC: 'INVALID_QC',
  /** A timeout certificate that does not verify. */
  INVALID_TC: 'INVALID_TC',
  /** A block whose fields contradict its parent or its certificate (height, parent hash, view). */
  INVALID_BLOCK: 'INVALID_BLOCK',
  /** A proposal from a validator that is not the leader of its view. */
  WRONG_PROPOSER: 'WRONG_PROPOSER',
  /** A vote sent to a replica that is not the leader of the next view. */
  NOT_LEADER: 'NOT_LEADER',
  /** A valid proposal that the voting rule forbids (it does not extend what the lock allows). */
  UNSAFE_PROPOSAL: 'UNSAFE_PROPOSAL',
  /** A message for a view the replica has left. */
  STALE_VIEW: 'STALE_VIEW',
  /** A message for a view too far ahead to be justified or buffered. */
  FUTURE_VIEW: 'FUTURE_VIEW',
  /** A vote (or request) naming a block this replica does not have and will not wait for. */
  UNKNOWN_BLOCK: 'UNKNOWN_BLOCK',
  /** The same signed statement again (replays, network duplicates): harmless, not counted twice. */
  DUPLICATE: 'DUPLICATE',
  /** A second, conflicting signed statement of one validator for one view: evidence is emitted. */
  EQUIVOCATION: 'EQUIVOCATION',
  /** A block response nobody asked for, or one that does not chain to what was asked. */
  UNSOLICITED: 'UNSOLICITED',
  /** More block requests from one peer in this view than a replica serves (bounds the work a peer can ask for). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A proposal carrying an operation the application's validity check refuses (no vote for it). */
  INVALID_OPERATION: 'INVALID_OPERATION',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export interface Rejection {
  code: RejectCode;
  /** Human-readable context for logs; never parse it. */
  detail: string;
}

/** Thrown by decoders; `code` is MALFORMED or OVERSIZED. */
export class CodecError extends Error {
  constructor(
    readonly code: typeof RejectCode.MALFORMED | typeof RejectCode.OVERSIZED,
    message: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}

/** A broken safety invariant inside this replica. Never caught by the core; the shell must stop. */
export class SafetyViolation extends Error {
  constructor(
    readonly invariant: string,
    message: string,
  ) {
    super(`safety violation (${invariant}): ${message}`);
    this.name = 'SafetyViolation';
  }
}

/** TigerBeetle-style assertion: a false condition is a bug that must stop the replica. */
export function assertSafety(condition: boolean, invariant: string, message: () => string): asserts condition {
  if (!condition) throw new SafetyViolation(invariant, message());
}

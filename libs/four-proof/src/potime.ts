import { bigIntToBytes, bytesEqual, bytesToBigInt, concatBytes, u64be } from './bytes';
import { checkBytes, operationHash } from './context';
import { fail } from './errors';
import { LIMITS, type FourProofParams } from './params';
import { RSA2048_ELEMENT_BYTES, RSA2048_MODULUS } from './rsa2048';
import type { BlockAnchor, OperationContext, PoTimeProof } from './types';
import { hashToGroup, wesolowskiProve, wesolowskiVerify, type VdfImplementations } from './vdf';

/**
 * PoTime (when): a Wesolowski VDF over RSA-2048 whose input x binds the operation hash, the
 * claimed timestamp, the node's sequence number and T — so none of them can be changed without
 * redoing the T sequential squarings. The timestamp must be within the verifier's tolerance of
 * `now`, and the sequence strictly greater than the last one seen from the node.
 *
 * A timestamp is only the prover's claim; an anchor is evidence. When the proof carries a
 * committed HyperMesh block (height, hash), x also binds that hash, which nobody knew before the
 * block was committed: the squarings cannot have started earlier (the randomness beacon).
 * Verifiers that know the chain pass `checkAnchor` to require a recent committed block.
 */

export function vdfInput(opHash: Uint8Array, timestampMs: number, sequence: bigint, iterations: number, anchor?: BlockAnchor): bigint {
  const base = concatBytes(opHash, u64be(timestampMs), u64be(sequence), u64be(iterations));
  return hashToGroup(anchor === undefined ? base : concatBytes(base, u64be(anchor.height), anchor.hash), RSA2048_MODULUS);
}

function checkAnchorShape(anchor: BlockAnchor | undefined, field: string, code: 'INVALID_ARGUMENT' | 'POTIME_INVALID'): void {
  if (anchor === undefined) return;
  if (anchor === null || typeof anchor !== 'object') fail(code, field, 'must be { height, hash } or absent');
  if (typeof anchor.height !== 'bigint' || anchor.height < 1n || anchor.height >= 1n << 64n) fail(code, `${field}.height`, 'must be a uint64 bigint ≥ 1');
  checkBytes(anchor.hash, `${field}.hash`, 32, 32, code);
}

export interface GeneratePoTimeInput {
  readonly context: OperationContext;
  /** Wall-clock time the proof claims, ms since the Unix epoch (passed in: this library has no clock). */
  readonly timestampMs: number;
  /** Per-node monotonically increasing sequence number (uint64). */
  readonly sequence: bigint;
  /** T, sequential squarings. */
  readonly iterations: number;
  /** A recent committed block to anchor to (see the module comment); absent = unanchored. */
  readonly anchor?: BlockAnchor;
  readonly implementations?: VdfImplementations;
}

export function generatePoTime(input: GeneratePoTimeInput): PoTimeProof {
  const opHash = operationHash(input.context);
  checkTimestamp(input.timestampMs, 'timestampMs', 'INVALID_ARGUMENT');
  if (typeof input.sequence !== 'bigint' || input.sequence < 0n || input.sequence >= 1n << 64n) {
    fail('INVALID_ARGUMENT', 'sequence', 'must be a uint64 bigint');
  }
  const T = input.iterations;
  if (!Number.isSafeInteger(T) || T < 1 || T > LIMITS.maxVdfIterations) fail('INVALID_ARGUMENT', 'iterations', `must be an integer in [1, 2^40]`);
  checkAnchorShape(input.anchor, 'anchor', 'INVALID_ARGUMENT');
  const anchor = input.anchor && { height: input.anchor.height, hash: new Uint8Array(input.anchor.hash) };
  const x = vdfInput(opHash, input.timestampMs, input.sequence, T, anchor);
  const { y, pi } = wesolowskiProve(x, T, RSA2048_MODULUS, input.implementations);
  return {
    operationHash: opHash,
    timestampMs: input.timestampMs,
    sequence: input.sequence,
    iterations: T,
    output: bigIntToBytes(y, RSA2048_ELEMENT_BYTES),
    proof: bigIntToBytes(pi, RSA2048_ELEMENT_BYTES),
    ...(anchor === undefined ? {} : { anchor }),
  };
}

export interface VerifyPoTimeOptions {
  /** Verifier's current time, ms since the Unix epoch. */
  readonly now: number;
  /** Last sequence number accepted from this node, if any; the proof's must be strictly greater. */
  readonly lastSequence?: bigint;
  readonly params: FourProofParams;
  /** hashToPrime / vdfVerify to use (default: defaultHotPaths, native when built). */
  readonly implementations?: VdfImplementations;
  /**
   * The chain's judgement of the anchor: null when it is a recent committed block, else why not
   * (→ STALE at time.anchor). Absent = anchors are not required (but still bound into x).
   */
  readonly checkAnchor?: AnchorCheck;
}

/** Decides whether a proof's anchor is acceptable: null = yes, else the reason (e.g. "block 12 is 40 blocks old"). */
export type AnchorCheck = (anchor: BlockAnchor | undefined) => string | null;

/** Throws FourProofError (OPERATION_MISMATCH, STALE, POTIME_INVALID) unless valid. */
export function verifyPoTime(proof: PoTimeProof, context: OperationContext, options: VerifyPoTimeOptions, field = 'time'): void {
  if (proof === undefined || proof === null) fail('PROOF_MISSING', field, 'PoTime proof is absent');
  const { now, lastSequence, params } = options;
  checkBytes(proof.operationHash, `${field}.operationHash`, 32, 32, 'POTIME_INVALID');
  if (!bytesEqual(proof.operationHash, operationHash(context))) fail('OPERATION_MISMATCH', `${field}.operationHash`, 'bound to another operation, asset or node');
  checkTimestamp(proof.timestampMs, `${field}.timestampMs`, 'POTIME_INVALID');
  const skew = proof.timestampMs - now;
  if (Math.abs(skew) > params.timeToleranceMs) {
    fail('STALE', `${field}.timestampMs`, `${Math.abs(skew)} ms ${skew < 0 ? 'in the past' : 'in the future'}, tolerance ${params.timeToleranceMs} ms`);
  }
  if (typeof proof.sequence !== 'bigint' || proof.sequence < 0n || proof.sequence >= 1n << 64n) fail('POTIME_INVALID', `${field}.sequence`, 'must be a uint64 bigint');
  if (lastSequence !== undefined && proof.sequence <= lastSequence) {
    fail('STALE', `${field}.sequence`, `sequence ${proof.sequence} is not greater than the last seen ${lastSequence}`);
  }
  const T = proof.iterations;
  if (!Number.isSafeInteger(T) || T < 1 || T > LIMITS.maxVdfIterations) fail('POTIME_INVALID', `${field}.iterations`, 'must be an integer in [1, 2^40]');
  if (T < params.vdfIterations) fail('POTIME_INVALID', `${field}.iterations`, `${T} squarings, at least ${params.vdfIterations} required`);
  checkBytes(proof.output, `${field}.output`, RSA2048_ELEMENT_BYTES, RSA2048_ELEMENT_BYTES, 'POTIME_INVALID');
  checkBytes(proof.proof, `${field}.proof`, RSA2048_ELEMENT_BYTES, RSA2048_ELEMENT_BYTES, 'POTIME_INVALID');
  checkAnchorShape(proof.anchor, `${field}.anchor`, 'POTIME_INVALID');
  if (options.checkAnchor !== undefined) {
    const problem = options.checkAnchor(proof.anchor);
    if (problem !== null) fail('STALE', `${field}.anchor`, problem);
  }
  const x = vdfInput(proof.operationHash, proof.timestampMs, proof.sequence, T, proof.anchor);
  if (!wesolowskiVerify(x, bytesToBigInt(proof.output), bytesToBigInt(proof.proof), T, RSA2048_MODULUS, undefined, options.implementations)) {
    fail('POTIME_INVALID', `${field}.proof`, 'VDF output/proof do not verify (|π^ℓ · x^r| ≠ y), or an element is out of canonical range');
  }
}

function checkTimestamp(value: unknown, field: string, code: 'INVALID_ARGUMENT' | 'POTIME_INVALID'): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(code, field, 'must be a non-negative safe integer (ms)');
}

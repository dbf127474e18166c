import { bytesEqual, u8 } from './bytes';
import { DOMAIN, sha256 } from './hash';
import { checkBytes, operationHash } from './context';
import { fail } from './errors';
import { LIMITS, type FourProofParams } from './params';
import { leadingZeroBits, powHash, powSearch as referencePowSearch, type PowSearchFn } from './pow-search';
import type { OperationContext, PoWorkProof } from './types';

/**
 * PoWork (what/how): hashcash bound to the operation. The challenge is
 * SHA-256(tag ‖ operationHash ‖ u8 difficulty) — the claimed difficulty is inside it, so raising the
 * claim on an existing proof is not free — and the proof hash is SHA-256(challenge ‖ u64be(nonce)).
 */
export function powChallenge(opHash: Uint8Array, difficulty: number): Uint8Array {
  return sha256(DOMAIN.powChallenge, opHash, u8(difficulty));
}

export interface GeneratePoWorkOptions {
  readonly difficulty: number;
  readonly startNonce?: bigint;
  readonly powSearch?: PowSearchFn;
}

export function generatePoWork(context: OperationContext, options: GeneratePoWorkOptions): PoWorkProof {
  const opHash = operationHash(context);
  const { difficulty } = options;
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > LIMITS.maxPowDifficulty) {
    fail('INVALID_ARGUMENT', 'difficulty', `must be an integer in [0, ${LIMITS.maxPowDifficulty}]`);
  }
  const challenge = powChallenge(opHash, difficulty);
  const nonce = (options.powSearch ?? referencePowSearch)(challenge, difficulty, options.startNonce ?? 0n);
  if (typeof nonce !== 'bigint' || nonce < 0n || nonce >= 1n << 64n || leadingZeroBits(powHash(challenge, nonce)) < difficulty) {
    fail('INVALID_ARGUMENT', 'powSearch', `implementation returned nonce ${nonce} that does not meet difficulty ${difficulty}`);
  }
  return { operationHash: opHash, difficulty, nonce };
}

/** Throws FourProofError (OPERATION_MISMATCH, POWORK_INSUFFICIENT, POWORK_INVALID) unless valid. */
export function verifyPoWork(proof: PoWorkProof, context: OperationContext, params: FourProofParams, field = 'work'): void {
  if (proof === undefined || proof === null) fail('PROOF_MISSING', field, 'PoWork proof is absent');
  checkBytes(proof.operationHash, `${field}.operationHash`, 32, 32, 'POWORK_INVALID');
  if (!bytesEqual(proof.operationHash, operationHash(context))) fail('OPERATION_MISMATCH', `${field}.operationHash`, 'bound to another operation, asset or node');
  if (!Number.isInteger(proof.difficulty) || proof.difficulty < 0 || proof.difficulty > LIMITS.maxPowDifficulty) {
    fail('POWORK_INVALID', `${field}.difficulty`, `must be an integer in [0, ${LIMITS.maxPowDifficulty}]`);
  }
  if (proof.difficulty < params.powDifficulty) {
    fail('POWORK_INSUFFICIENT', `${field}.difficulty`, `claims ${proof.difficulty} bits, at least ${params.powDifficulty} required`);
  }
  if (typeof proof.nonce !== 'bigint' || proof.nonce < 0n || proof.nonce >= 1n << 64n) fail('POWORK_INVALID', `${field}.nonce`, 'must be a uint64 bigint');
  const zeros = leadingZeroBits(powHash(powChallenge(proof.operationHash, proof.difficulty), proof.nonce));
  if (zeros < proof.difficulty) {
    fail('POWORK_INVALID', `${field}.nonce`, `hash has ${zeros} leading zero bits, proof claims ${proof.difficulty}`);
  }
}

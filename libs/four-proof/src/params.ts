import { fail } from './errors';

/**
 * Every tunable of the four proofs, in one place. Generators use these as the values to produce;
 * verifiers use them as the minimums to accept. Defaults are sized for tests (a whole set is
 * generated in well under a second); see README "Parameter guidance" for production values.
 */
export interface FourProofParams {
  /** PoSpace: blocks in the plot; a power of two in [2, 2^31]. */
  readonly plotBlocks: number;
  /** PoSpace: bytes per block; a multiple of 32 in [64, 4096]. */
  readonly blockSize: number;
  /** PoSpace: number of Fiat–Shamir challenges (opened blocks); [1, 256]. */
  readonly spaceChallenges: number;
  /** PoWork: required leading zero bits of SHA-256(challenge ‖ nonce); [0, 64]. */
  readonly powDifficulty: number;
  /** PoTime: VDF sequential squarings T; [1, 2^40]. */
  readonly vdfIterations: number;
  /** PoTime: accepted |now - timestamp| in milliseconds. */
  readonly timeToleranceMs: number;
  /** PoStake: minimum locked amount (smallest ledger unit). */
  readonly minStake: bigint;
  /** Decoder: largest encoded FourProofSet accepted, in bytes. */
  readonly maxEncodedBytes: number;
}

export const DEFAULT_PARAMS: FourProofParams = Object.freeze({
  plotBlocks: 1024,
  blockSize: 64,
  spaceChallenges: 16,
  powDifficulty: 12,
  vdfIterations: 4096,
  timeToleranceMs: 30_000,
  minStake: 1n,
  maxEncodedBytes: 512 * 1024,
});

/** Hard limits of the format (what the decoder and verifiers will ever accept). */
export const LIMITS = Object.freeze({
  minBlockSize: 64,
  maxBlockSize: 4096,
  maxPlotLog2: 31,
  maxSpaceChallenges: 256,
  maxPowDifficulty: 64,
  maxVdfIterations: 2 ** 40,
  maxOperationBytes: 256,
  maxAssetIdBytes: 256,
  maxNodeIdBytes: 64,
  maxAccountBytes: 256,
  /** Absolute ceiling on maxEncodedBytes (16 MiB). */
  maxEncodedBytes: 16 * 1024 * 1024,
});

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= 2 ** 31 && (n & (n - 1)) === 0;
}

/** Fills in defaults and validates; throws INVALID_ARGUMENT naming the bad parameter. */
export function resolveParams(partial?: Partial<FourProofParams>): FourProofParams {
  const p: FourProofParams = { ...DEFAULT_PARAMS, ...(partial ?? {}) };
  const int = (name: keyof FourProofParams, value: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      fail('INVALID_ARGUMENT', `params.${name}`, `must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
  };
  int('plotBlocks', p.plotBlocks, 2, 2 ** LIMITS.maxPlotLog2);
  if (!isPowerOfTwo(p.plotBlocks)) fail('INVALID_ARGUMENT', 'params.plotBlocks', `must be a power of two, got ${p.plotBlocks}`);
  int('blockSize', p.blockSize, LIMITS.minBlockSize, LIMITS.maxBlockSize);
  if (p.blockSize % 32 !== 0) fail('INVALID_ARGUMENT', 'params.blockSize', `must be a multiple of 32, got ${p.blockSize}`);
  int('spaceChallenges', p.spaceChallenges, 1, LIMITS.maxSpaceChallenges);
  int('powDifficulty', p.powDifficulty, 0, LIMITS.maxPowDifficulty);
  int('vdfIterations', p.vdfIterations, 1, LIMITS.maxVdfIterations);
  int('timeToleranceMs', p.timeToleranceMs, 0, 24 * 3600 * 1000);
  int('maxEncodedBytes', p.maxEncodedBytes, 1, LIMITS.maxEncodedBytes);
  if (typeof p.minStake !== 'bigint' || p.minStake < 0n || p.minStake >= 1n << 64n) {
    fail('INVALID_ARGUMENT', 'params.minStake', 'must be a bigint in [0, 2^64)');
  }
  return p;
}

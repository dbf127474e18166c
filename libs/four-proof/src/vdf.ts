import { bigIntToBytes, concatBytes, u32be, u64be } from './bytes';
import { DOMAIN, sha256 } from './hash';
import { defaultHotPaths } from './hot-paths';
import type { HashToPrimeFn } from './primes';
import { vdfEvaluate as referenceEvaluate, vdfProve as referenceProve, type VdfEvaluateFn, type VdfProveFn } from './vdf-evaluate';
import { canonicalElement, type VdfVerifyFn } from './vdf-verify';

export { canonicalElement };

/**
 * Wesolowski VDF ("Efficient verifiable delay functions", EUROCRYPT 2019) in Z_N^* / {±1}.
 *
 * Elements are represented canonically as min(v, N − v): the quotient by {±1} removes the one
 * element of known order (−1) that would otherwise let a prover turn a valid proof for y into one
 * for −y. Since ℓ is odd, (±π)^ℓ = ±π^ℓ, so the check is done up to sign.
 *
 *   x = hashToGroup(input),  y = x^(2^T),  ℓ = hashToPrime(x, y, T),
 *   π = x^floor(2^T / ℓ),    r = 2^T mod ℓ,  accept iff |π^ℓ · x^r mod N| = y.
 */

export function byteLength(modulus: bigint): number {
  return Math.ceil(modulus.toString(2).length / 8);
}

/** Expands SHA-256 in counter mode to byteLength(N) + 32 bytes (negligible bias mod N), canonical. */
export function hashToGroup(input: Uint8Array, modulus: bigint): bigint {
  const want = byteLength(modulus) + 32;
  const blocks: Uint8Array[] = [];
  for (let i = 0; blocks.length * 32 < want; i++) blocks.push(sha256(DOMAIN.vdfInput, u32be(i), input));
  const wide = concatBytes(...blocks).subarray(0, want);
  const x = canonicalElement(BigInt('0x' + Buffer.from(wide).toString('hex')) % modulus, modulus);
  if (x < 2n) throw new RangeError('hashToGroup hit a degenerate element'); // probability ~2^-2047
  return x;
}

/** ℓ = first prime >= a 128-bit value derived from SHA-256(tag ‖ x ‖ y ‖ u64 T). */
export function challengePrime(x: bigint, y: bigint, iterations: number, modulus: bigint, hashToPrime: HashToPrimeFn = defaultHotPaths.hashToPrime): bigint {
  const k = byteLength(modulus);
  return hashToPrime(sha256(DOMAIN.vdfPrime, bigIntToBytes(x, k), bigIntToBytes(y, k), u64be(iterations)));
}

export interface VdfOutput {
  readonly y: bigint;
  readonly pi: bigint;
}

/**
 * Hot paths the VDF functions use: evaluate/prove default to the TypeScript references (the
 * generators pass the native ones), hashToPrime/vdfVerify to `defaultHotPaths` (native when built).
 */
export interface VdfImplementations {
  readonly vdfEvaluate?: VdfEvaluateFn;
  readonly vdfProve?: VdfProveFn;
  readonly hashToPrime?: HashToPrimeFn;
  readonly vdfVerify?: VdfVerifyFn;
}

/** Evaluates the VDF and proves it (ℓ from Fiat–Shamir unless given, e.g. by known-answer tests). */
export function wesolowskiProve(x: bigint, iterations: number, modulus: bigint, impl: VdfImplementations = {}, ell?: bigint): VdfOutput {
  const y = canonicalElement((impl.vdfEvaluate ?? referenceEvaluate)(x, iterations, modulus), modulus);
  const l = ell ?? challengePrime(x, y, iterations, modulus, impl.hashToPrime);
  const pi = canonicalElement((impl.vdfProve ?? referenceProve)(x, iterations, l, modulus), modulus);
  return { y, pi };
}

/** True iff (y, π) is the VDF output and proof for x with T iterations (ℓ from Fiat–Shamir unless given). */
export function wesolowskiVerify(x: bigint, y: bigint, pi: bigint, iterations: number, modulus: bigint, ell?: bigint, impl: VdfImplementations = {}): boolean {
  const half = modulus >> 1n;
  if (y < 1n || y > half || pi < 1n || pi > half || x < 1n || x > half) return false; // before hashing
  const l = ell ?? challengePrime(x, y, iterations, modulus, impl.hashToPrime);
  return (impl.vdfVerify ?? defaultHotPaths.vdfVerify)(x, y, pi, iterations, l, modulus);
}

/**
 * The VDF hot paths (a native implementation may replace them): the T sequential squarings, and
 * the Wesolowski proof exponentiation. Both return raw residues in [0, N); callers canonicalise.
 */

/** y = x^(2^T) mod N. */
export type VdfEvaluateFn = (x: bigint, iterations: number, modulus: bigint) => bigint;

/** π = x^floor(2^T / ℓ) mod N. */
export type VdfProveFn = (x: bigint, iterations: number, ell: bigint, modulus: bigint) => bigint;

/** Reference: T squarings, each one BigInt multiply and reduce. Inherently sequential. */
export const vdfEvaluate: VdfEvaluateFn = (x, iterations, modulus) => {
  let y = x % modulus;
  for (let i = 0; i < iterations; i++) y = (y * y) % modulus;
  return y;
};

const WINDOW_BITS = 4;

/**
 * Reference: streams the quotient floor(2^T / ℓ) by long division (so memory stays O(1) in T) and
 * consumes it MSB-first, WINDOW_BITS quotient bits per step: π ← π^(2^w) · x^(next w bits).
 * Cost ≈ T squarings + T/w multiplications.
 */
export const vdfProve: VdfProveFn = (x, iterations, ell, modulus) => {
  const base = x % modulus;
  const table: bigint[] = [1n];
  for (let i = 1; i < 1 << WINDOW_BITS; i++) table.push((table[i - 1]! * base) % modulus);
  // 2^T = 1 followed by T zero bits; the leading 1 alone gives remainder 1 and quotient 0 (ℓ > 1).
  let remainder = 1n;
  let pi = 1n;
  let left = iterations;
  while (left > 0) {
    const w = left % WINDOW_BITS === 0 ? WINDOW_BITS : left % WINDOW_BITS;
    left -= w;
    remainder <<= BigInt(w);
    const digit = remainder / ell; // < 2^w since remainder < ℓ before the shift
    remainder -= digit * ell;
    for (let i = 0; i < w; i++) pi = (pi * pi) % modulus;
    if (digit !== 0n) pi = (pi * table[Number(digit)]!) % modulus;
  }
  return pi;
};

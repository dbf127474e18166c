import { modPow, modPowBigInt } from './modpow';

/**
 * The Wesolowski verification equation, a hot path a native implementation may replace (it is
 * most of a four-proof set's verification time). Elements live in Z_N^* / {±1}, represented
 * canonically as min(v, N − v).
 */

/** min(v, N − v): the canonical representative of ±v. */
export function canonicalElement(v: bigint, modulus: bigint): bigint {
  return v > modulus >> 1n ? modulus - v : v;
}

/**
 * True iff x, y, π are canonical (in [1, floor(N/2)]) and, with r = 2^T mod ℓ,
 * canonicalElement(π^ℓ · x^r mod N) = y. ℓ is given (the caller derives it by Fiat–Shamir).
 */
export type VdfVerifyFn = (x: bigint, y: bigint, pi: bigint, iterations: number, ell: bigint, modulus: bigint) => boolean;

/** Reference: two modPow calls (OpenSSL-backed for large odd moduli) and BigInt for r. */
export const vdfVerify: VdfVerifyFn = (x, y, pi, iterations, ell, modulus) => {
  const half = modulus >> 1n;
  if (y < 1n || y > half || pi < 1n || pi > half || x < 1n || x > half) return false;
  const r = modPowBigInt(2n, BigInt(iterations), ell);
  const lhs = (modPow(pi, ell, modulus) * modPow(x, r, modulus)) % modulus;
  return canonicalElement(lhs, modulus) === y;
};

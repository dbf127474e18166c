import { bytesToBigInt } from './bytes';

/**
 * Deterministic primality and hash-to-prime for the Wesolowski challenge ℓ.
 * Miller–Rabin with the fixed bases {2, 3, 5, ..., 37} (the first 12 primes) after trial division.
 * Fixed bases make prover and verifier agree bit-for-bit; candidates are SHA-256 outputs, which an
 * adversary cannot steer towards the (specially constructed) composites that pass all 12 bases.
 */

/** ℓ = hashToPrime(digest): the reference below, or a native implementation (same results). */
export type HashToPrimeFn = (digest: Uint8Array) => bigint;

export const MILLER_RABIN_BASES: readonly bigint[] = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

/** Odd primes below 2048, for trial division and sieving. */
const SMALL_PRIMES: readonly number[] = (() => {
  const limit = 2048;
  const composite = new Uint8Array(limit);
  const out: number[] = [];
  for (let i = 2; i < limit; i++) {
    if (composite[i]) continue;
    if (i > 2) out.push(i);
    for (let j = i * i; j < limit; j += i) composite[j] = 1;
  }
  return out;
})();

/** a^e mod n by left-to-right binary exponentiation (operands are ~128-bit: plain BigInt is fine). */
function powMod(a: bigint, e: bigint, n: bigint): bigint {
  const bin = e.toString(2);
  const base = a % n;
  let r = base;
  for (let i = 1; i < bin.length; i++) {
    r = (r * r) % n;
    if (bin.charCodeAt(i) === 49) r = (r * base) % n;
  }
  return r;
}

function millerRabin(n: bigint, d: bigint, s: number, a: bigint): boolean {
  let x = powMod(a, d, n);
  const minusOne = n - 1n;
  if (x === 1n || x === minusOne) return true;
  for (let i = 1; i < s; i++) {
    x = (x * x) % n;
    if (x === minusOne) return true;
    if (x === 1n) return false;
  }
  return false;
}

export function isProbablePrime(n: bigint): boolean {
  if (n < 2n) return false;
  if (n === 2n) return true;
  if ((n & 1n) === 0n) return false;
  for (const p of SMALL_PRIMES) {
    const bp = BigInt(p);
    if (n === bp) return true;
    if (n % bp === 0n) return false;
  }
  return passesMillerRabin(n);
}

function passesMillerRabin(n: bigint): boolean {
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  for (const a of MILLER_RABIN_BASES) {
    if (a % n === 0n) continue;
    if (!millerRabin(n, d, s, a)) return false;
  }
  return true;
}

/**
 * The first prime >= start, where start = (first 16 bytes of `digest` as a big-endian integer)
 * with the top bit (2^127) and the low bit set — so ℓ is a ~128-bit odd prime.
 */
export function hashToPrime(digest: Uint8Array): bigint {
  if (digest.length < 16) throw new RangeError('digest must be at least 16 bytes');
  const start = bytesToBigInt(digest.subarray(0, 16)) | (1n << 127n) | 1n;
  // Sieve windows of odd candidates start + 2k, then Miller–Rabin on the survivors in order.
  const window = 1024;
  const residues = SMALL_PRIMES.map((p) => Number(start % BigInt(p)));
  const marks = new Uint8Array(window);
  for (let base = 0; ; base += window) {
    marks.fill(0);
    for (let pi = 0; pi < SMALL_PRIMES.length; pi++) {
      const p = SMALL_PRIMES[pi]!;
      // Smallest k >= 0 with residue + 2(base + k) ≡ 0 (mod p); 2 is invertible mod odd p.
      const r = (residues[pi]! + 2 * (base % p)) % p;
      const inv2 = (p + 1) / 2;
      let k = ((p - r) * inv2) % p;
      for (; k < window; k += p) marks[k] = 1;
    }
    for (let k = 0; k < window; k++) {
      if (marks[k]) continue;
      const candidate = start + 2n * BigInt(base + k);
      if (passesMillerRabin(candidate)) return candidate;
    }
  }
}

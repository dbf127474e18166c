import { checkPrimeSync, createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  RSA2048_MODULUS,
  canonicalElement,
  hashToPrime,
  isProbablePrime,
  modPow,
  modPowBigInt,
  vdfEvaluate,
  vdfProve,
  wesolowskiProve,
  wesolowskiVerify,
} from '../src';

describe('Wesolowski VDF: known answers over a tiny modulus, computed by hand', () => {
  // N = 11 · 23 = 253, so canonical elements are 1..126.
  const N = 253n;

  test('x = 5, T = 4, ℓ = 7', () => {
    // 5^2 = 25; 5^4 = 625 = 2·253 + 119; 5^8 = 119^2 = 14161 = 55·253 + 246; 5^16 = 246^2 = 60516 = 239·253 + 49.
    // floor(16/7) = 2 -> π = 5^2 = 25; r = 16 mod 7 = 2; check 25^7 · 5^2 = 5^16 = 49.
    expect(vdfEvaluate(5n, 4, N)).toBe(49n);
    expect(vdfProve(5n, 4, 7n, N)).toBe(25n);
    expect(wesolowskiProve(5n, 4, N, {}, 7n)).toEqual({ y: 49n, pi: 25n });
    expect(wesolowskiVerify(5n, 49n, 25n, 4, N, 7n)).toBe(true);
    expect(wesolowskiVerify(5n, 48n, 25n, 4, N, 7n)).toBe(false);
    expect(wesolowskiVerify(5n, 49n, 24n, 4, N, 7n)).toBe(false);
    expect(wesolowskiVerify(5n, 49n, 25n, 5, N, 7n)).toBe(false);
  });

  test('x = 3, T = 3, ℓ = 5: the output is canonicalised to min(v, N - v)', () => {
    // 3^8 = 6561 = 25·253 + 236 -> canonical 253 - 236 = 17. floor(8/5) = 1 -> π = 3; r = 3; 3^5 · 3^3 = 3^8.
    expect(vdfEvaluate(3n, 3, N)).toBe(236n);
    expect(wesolowskiProve(3n, 3, N, {}, 5n)).toEqual({ y: 17n, pi: 3n });
    expect(wesolowskiVerify(3n, 17n, 3n, 3, N, 5n)).toBe(true);
    // The non-canonical representative (236 = -17) and a negated proof (250 = -3) are refused.
    expect(wesolowskiVerify(3n, 236n, 3n, 3, N, 5n)).toBe(false);
    expect(wesolowskiVerify(3n, 17n, 250n, 3, N, 5n)).toBe(false);
  });

  test('reference hot paths agree with direct exponentiation (property, small moduli)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 3n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 2n, max: 1n << 60n }), fc.integer({ min: 1, max: 200 }), fc.bigInt({ min: 3n, max: 1n << 40n }), (n0, x0, T, ell) => {
        const n = n0 | 1n;
        const x = x0 % n;
        expect(vdfEvaluate(x, T, n)).toBe(modPowBigInt(x, 1n << BigInt(T), n));
        expect(vdfProve(x, T, ell, n)).toBe(modPowBigInt(x, (1n << BigInt(T)) / ell, n));
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe('Wesolowski VDF over RSA-2048', () => {
  test('the modulus is the 617-digit, 2048-bit RSA-2048 challenge number', () => {
    expect(RSA2048_MODULUS.toString().length).toBe(617);
    expect(RSA2048_MODULUS.toString(2).length).toBe(2048);
    expect(RSA2048_MODULUS.toString().slice(0, 20)).toBe('25195908475657893494');
    expect(RSA2048_MODULUS.toString().slice(-20)).toBe('78636564391212010397122822120720357'.slice(-20));
    expect(isProbablePrime(RSA2048_MODULUS)).toBe(false);
  });

  test('prove then verify, with Fiat–Shamir ℓ; any change is rejected', () => {
    const x = canonicalElement(BigInt('0x' + randomBytes(255).toString('hex')), RSA2048_MODULUS);
    const { y, pi } = wesolowskiProve(x, 300, RSA2048_MODULUS);
    expect(wesolowskiVerify(x, y, pi, 300, RSA2048_MODULUS)).toBe(true);
    expect(wesolowskiVerify(x, y, pi, 301, RSA2048_MODULUS)).toBe(false);
    expect(wesolowskiVerify(x, y + 1n, pi, 300, RSA2048_MODULUS)).toBe(false);
    expect(wesolowskiVerify(x, y, pi + 1n, 300, RSA2048_MODULUS)).toBe(false);
    expect(wesolowskiVerify(x, RSA2048_MODULUS - y, pi, 300, RSA2048_MODULUS)).toBe(false);
    expect(wesolowskiVerify(x + 1n, y, pi, 300, RSA2048_MODULUS)).toBe(false);
  });

  test('modPow (OpenSSL-backed) equals the BigInt reference on random 2048-bit inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 256, maxLength: 256 }), fc.uint8Array({ minLength: 1, maxLength: 24 }), (b, e) => {
        const base = BigInt('0x' + Buffer.from(b).toString('hex')) % RSA2048_MODULUS;
        const exp = BigInt('0x' + Buffer.from(e).toString('hex'));
        expect(modPow(base, exp, RSA2048_MODULUS)).toBe(modPowBigInt(base, exp, RSA2048_MODULUS));
      }),
      { numRuns: 40, seed: 11 },
    );
    expect(modPow(0n, 5n, RSA2048_MODULUS)).toBe(0n);
    expect(modPow(7n, 0n, RSA2048_MODULUS)).toBe(1n);
    expect(modPow(7n, 1n, RSA2048_MODULUS)).toBe(7n);
    expect(modPow(7n, RSA2048_MODULUS + 2n, RSA2048_MODULUS)).toBe(modPowBigInt(7n, RSA2048_MODULUS + 2n, RSA2048_MODULUS));
  });
});

describe('primality and hash-to-prime', () => {
  test('Miller–Rabin with fixed bases rejects Carmichael numbers and strong pseudoprimes', () => {
    for (const c of [561n, 1105n, 41041n, 825265n, 321197185n, 2047n, 3277n, 4033n, 3215031751n, 3825123056546413051n]) {
      expect(isProbablePrime(c)).toBe(false);
    }
    for (const p of [2n, 3n, 2039n, 2053n, 1000000007n, (1n << 61n) - 1n, (1n << 127n) - 1n, 170141183460469231731687303715884105757n]) {
      expect(isProbablePrime(p)).toBe(true);
    }
  });

  test('agrees with OpenSSL on random integers (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n, max: (1n << 130n) - 1n }), (n) => {
        expect(isProbablePrime(n)).toBe(checkPrimeSync(n));
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  test('hashToPrime returns the first prime at or above the 128-bit start value', () => {
    for (let i = 0; i < 5; i++) {
      const digest = createHash('sha256').update(`seed-${i}`).digest();
      const start = BigInt('0x' + digest.subarray(0, 16).toString('hex')) | (1n << 127n) | 1n;
      const ell = hashToPrime(digest);
      expect(ell >= start).toBe(true);
      expect(checkPrimeSync(ell)).toBe(true);
      for (let c = start; c < ell; c += 2n) expect(checkPrimeSync(c)).toBe(false);
      expect(hashToPrime(digest)).toBe(ell); // deterministic
    }
  });
});

import { createPublicKey, publicEncrypt, constants } from 'node:crypto';
import { bigIntToBytes, bytesToBigInt } from './bytes';

/**
 * Modular exponentiation. `modPowBigInt` is the portable reference (fixed 4-bit window over JS
 * BigInt). `modPow` computes the same value but, for large odd moduli, lets OpenSSL do it through
 * the raw RSA public-key primitive (m^e mod n with no padding), which is ~5x faster than BigInt on
 * 2048-bit numbers; that is what makes Wesolowski verification cheap enough. Any OpenSSL refusal
 * falls back to the BigInt path, and tests cross-check both on random inputs.
 */

export function modPowBigInt(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 0n) throw new RangeError('modulus must be positive');
  if (exponent < 0n) throw new RangeError('exponent must be non-negative');
  if (modulus === 1n) return 0n;
  let b = base % modulus;
  if (b < 0n) b += modulus;
  const table: bigint[] = [1n, b];
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * b) % modulus);
  const hex = exponent.toString(16);
  let result = 1n;
  for (let i = 0; i < hex.length; i++) {
    if (i > 0) {
      result = (result * result) % modulus;
      result = (result * result) % modulus;
      result = (result * result) % modulus;
      result = (result * result) % modulus;
    }
    const digit = parseInt(hex[i]!, 16);
    if (digit !== 0) result = (result * table[digit]!) % modulus;
  }
  return result;
}

function base64url(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  return Buffer.from(hex, 'hex').toString('base64url');
}

/** OpenSSL-backed path; undefined when OpenSSL declines the inputs. */
function modPowOpenSsl(base: bigint, exponent: bigint, modulus: bigint, modulusBytes: number): bigint | undefined {
  try {
    const key = createPublicKey({ key: { kty: 'RSA', n: base64url(modulus), e: base64url(exponent) }, format: 'jwk' });
    const out = publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, bigIntToBytes(base, modulusBytes));
    return bytesToBigInt(out);
  } catch {
    return undefined;
  }
}

const OPENSSL_MIN_MODULUS_BITS = 1024;

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 0n) throw new RangeError('modulus must be positive');
  if (exponent < 0n) throw new RangeError('exponent must be non-negative');
  let b = base % modulus;
  if (b < 0n) b += modulus;
  const bits = modulus.toString(2).length;
  if (bits >= OPENSSL_MIN_MODULUS_BITS && (modulus & 1n) === 1n && exponent >= 2n && exponent < modulus && b > 1n) {
    const r = modPowOpenSsl(b, exponent, modulus, Math.ceil(bits / 8));
    if (r !== undefined) return r;
  }
  return modPowBigInt(b, exponent, modulus);
}

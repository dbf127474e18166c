// u128 as Caesar writes it on the wire: a decimal string, digits only, at most 39 digits.
import { CatalogError } from '../errors';

export const U128_MAX = (1n << 128n) - 1n;

export function parseU128(v: string | null | undefined, field: string): bigint {
  const s = v ?? '';
  if (s === '') return 0n;
  if (!/^[0-9]{1,39}$/.test(s)) throw new CatalogError('INVALID_ARGUMENT', `${field}: expected a u128 as a decimal string, got ${JSON.stringify(s.slice(0, 48))}`);
  const n = BigInt(s);
  if (n > U128_MAX) throw new CatalogError('INVALID_ARGUMENT', `${field}: ${s} is above 2^128-1`);
  return n;
}

/** 16 bytes big-endian. */
export function u128Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(v >> 64n, 0);
  b.writeBigUInt64BE(v & 0xffff_ffff_ffff_ffffn, 8);
  return b;
}

export function u128FromBytes(b: Uint8Array): bigint {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return (buf.readBigUInt64BE(0) << 64n) | buf.readBigUInt64BE(8);
}

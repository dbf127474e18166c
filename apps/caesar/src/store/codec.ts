// Column encodings: u128 and u64 values as fixed-size big-endian BLOBs (16 and 8 bytes), so they
// sort like the numbers and never pass through a float; timestamps (u64 ns, < 2^63 until 2262)
// and small integers as SQLite INTEGERs read back as bigint (safeIntegers).
import { LedgerError } from '../errors';

const U64_MASK = (1n << 64n) - 1n;

export function u128Bytes(v: bigint): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(v >> 64n, 0);
  b.writeBigUInt64BE(v & U64_MASK, 8);
  return b;
}

/** Writes v into a reused 16-byte buffer (statement parameters are copied when bound). */
export function u128Into(b: Buffer, v: bigint): Buffer {
  b.writeBigUInt64BE(v >> 64n, 0);
  b.writeBigUInt64BE(v & U64_MASK, 8);
  return b;
}

export function u64Bytes(v: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(v, 0);
  return b;
}

export function bytesU128(b: unknown, column: string): bigint {
  if (!(b instanceof Uint8Array) || b.length !== 16) throw damaged(column, 'a 16-byte BLOB');
  const buf = Buffer.from(b.buffer, b.byteOffset, 16);
  return (buf.readBigUInt64BE(0) << 64n) | buf.readBigUInt64BE(8);
}

export function bytesU64(b: unknown, column: string): bigint {
  if (!(b instanceof Uint8Array) || b.length !== 8) throw damaged(column, 'an 8-byte BLOB');
  return Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64BE(0);
}

/** An INTEGER column read with safeIntegers: a bigint in [0, max]. */
export function intColumn(v: unknown, column: string, max: bigint): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > max) throw damaged(column, `an integer in 0..${max}`);
  return v;
}

function damaged(column: string, expected: string): LedgerError {
  return new LedgerError('STORE_DAMAGED', `column ${column} does not hold ${expected}; the ledger database is damaged`);
}

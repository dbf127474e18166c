// u128 values as the receipt encodes them: 16 bytes big-endian.
export const U128_MAX = (1n << 128n) - 1n;

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

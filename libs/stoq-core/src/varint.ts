// QUIC variable-length integers (RFC 9000 §16): the two most significant bits of the first byte
// give the encoded length (00 → 1, 01 → 2, 10 → 4, 11 → 8 bytes), the remaining bits hold the
// value in network byte order. Range 0 ..= 2^62 - 1.
//
// Decoding accepts non-minimal encodings (e.g. 5 written in 8 bytes): RFC 9000 §16 permits them
// ("values do not need to be encoded on the minimum number of bytes"). Encoding is always minimal.

import { StoqError } from './errors';

/** Largest value a varint can carry: 2^62 - 1. */
export const VARINT_MAX = (1n << 62n) - 1n;

export type VarintLength = 1 | 2 | 4 | 8;

const MAX_1 = 63; // 2^6 - 1
const MAX_2 = 16_383; // 2^14 - 1
const MAX_4 = 1_073_741_823; // 2^30 - 1
const TWO_32 = 4_294_967_296;

function checkValue(value: number | bigint): void {
  if (typeof value === 'bigint') {
    if (value < 0n || value > VARINT_MAX) {
      throw new StoqError('INVALID_ARGUMENT', `varint value ${value} is outside 0..2^62-1`);
    }
  } else if (!Number.isSafeInteger(value) || value < 0) {
    throw new StoqError('INVALID_ARGUMENT', `varint value ${value} is not a non-negative safe integer`);
  }
}

/** Number of bytes the minimal encoding of `value` takes. */
export function varintLength(value: number | bigint): VarintLength {
  checkValue(value);
  const v = typeof value === 'bigint' ? value : BigInt(value);
  if (v <= BigInt(MAX_1)) return 1;
  if (v <= BigInt(MAX_2)) return 2;
  if (v <= BigInt(MAX_4)) return 4;
  return 8;
}

/** Encoded length announced by a varint's first byte. */
export function varintLengthFromFirstByte(firstByte: number): VarintLength {
  return (1 << (firstByte >> 6)) as VarintLength;
}

/** Writes the minimal encoding of `value` at `offset`; returns the number of bytes written. */
export function writeVarint(value: number | bigint, target: Uint8Array, offset: number): VarintLength {
  checkValue(value);
  const len = varintLength(value);
  if (offset < 0 || offset + len > target.length) {
    throw new StoqError('INVALID_ARGUMENT', `varint of ${len} bytes does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  if (len === 8) {
    const v = BigInt(value);
    const hi = Number(v >> 32n);
    const lo = Number(v & 0xffff_ffffn);
    const view = new DataView(target.buffer, target.byteOffset + offset, 8);
    view.setUint32(0, (hi | 0xc000_0000) >>> 0);
    view.setUint32(4, lo);
    return 8;
  }
  const v = Number(value);
  if (len === 1) {
    target[offset] = v;
  } else if (len === 2) {
    target[offset] = 0x40 | (v >> 8);
    target[offset + 1] = v & 0xff;
  } else {
    target[offset] = 0x80 | (v >>> 24);
    target[offset + 1] = (v >>> 16) & 0xff;
    target[offset + 2] = (v >>> 8) & 0xff;
    target[offset + 3] = v & 0xff;
  }
  return len;
}

/** The minimal encoding of `value`. */
export function encodeVarint(value: number | bigint): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(value, out, 0);
  return out;
}

/** Decoded value and how many bytes it took. */
export interface DecodedVarint<T> {
  value: T;
  length: VarintLength;
}

/** Decodes the varint at `offset`, exactly. Returns `null` if `bytes` ends before the varint does. */
export function decodeVarint(bytes: Uint8Array, offset = 0): DecodedVarint<bigint> | null {
  const d = decodeVarintNumber(bytes, offset);
  if (d === null) return null;
  if (d.length < 8) return { value: BigInt(d.value), length: d.length };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  const hi = BigInt(view.getUint32(0) & 0x3fff_ffff);
  return { value: (hi << 32n) | BigInt(view.getUint32(4)), length: 8 };
}

/**
 * Decodes the varint at `offset` as a JS number. Exact up to 2^53 - 1; larger 8-byte values are
 * rounded to the nearest double, which keeps them above every safe integer — good enough for
 * comparing a length against a limit without allocating a bigint. Returns `null` when truncated.
 */
export function decodeVarintNumber(bytes: Uint8Array, offset = 0): DecodedVarint<number> | null {
  if (offset >= bytes.length) return null;
  const first = bytes[offset]!;
  const length = varintLengthFromFirstByte(first);
  if (offset + length > bytes.length) return null;
  switch (length) {
    case 1:
      return { value: first & 0x3f, length };
    case 2:
      return { value: ((first & 0x3f) << 8) | bytes[offset + 1]!, length };
    case 4:
      return {
        value: ((first & 0x3f) * 0x100_0000) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!,
        length,
      };
    default: {
      const hi = ((first & 0x3f) * 0x100_0000) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!;
      const lo = ((bytes[offset + 4]! * 0x100_0000) + (bytes[offset + 5]! << 16) + (bytes[offset + 6]! << 8) + bytes[offset + 7]!);
      return { value: hi * TWO_32 + lo, length };
    }
  }
}

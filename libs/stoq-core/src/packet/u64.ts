// uint64 fields travel as bigint in TypeScript; these helpers validate and convert them.

import { StoqError } from '../errors';

export const U64_MAX = (1n << 64n) - 1n;

/** `value` as a bigint in 0..2^64-1, or INVALID_ARGUMENT naming `what`. */
export function toU64(value: bigint | number, what: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new StoqError('INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${value}`);
    }
    return BigInt(value);
  }
  if (value < 0n || value > U64_MAX) {
    throw new StoqError('INVALID_ARGUMENT', `${what} must be in 0..2^64-1, got ${value}`);
  }
  return value;
}

/** Writes `value` as 8 big-endian bytes at `offset`. */
export function writeU64BE(value: bigint, target: Uint8Array, offset: number): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, 8);
  view.setBigUint64(0, value);
}

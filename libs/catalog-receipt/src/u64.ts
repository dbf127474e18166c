// u64 on the wire (protobuf uint64): protobufjs gives a Long or a number; we give a Long-shaped
// value so values above 2^53 (ns timestamps) stay exact.
import type { Long } from 'protobufjs';

export function toU64(n: bigint): Long {
  return { low: Number(n & 0xffff_ffffn) | 0, high: Number((n >> 32n) & 0xffff_ffffn) | 0, unsigned: true } as Long;
}

export function fromU64(v: number | Long | string | null | undefined): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

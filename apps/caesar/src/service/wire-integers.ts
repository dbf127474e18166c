// Integers on Caesar's wire (libs/protos/proto/caesar.proto, header): u128 as decimal strings,
// u64 as protobuf uint64 (protobufjs Long or number), u32/u16 as uint32. Every decoder names the
// field it refuses (`transfers[3].amount`) with an RpcError INVALID_ARGUMENT: bad input from a
// client never reaches the ledger and never crashes the service.
import type * as protobuf from 'protobufjs';
import { RpcError, Status } from '@stoq/rpc';
import { U128_MAX, U64_MAX } from '../core/integers';

type Long = protobuf.Long;

const DECIMAL = /^[0-9]{1,39}$/;

export function invalid(field: string, message: string): RpcError {
  return new RpcError(Status.INVALID_ARGUMENT, `${field}: ${message}`);
}

/** A u128 decimal string ("" or absent = 0). */
export function parseU128(value: string | null | undefined, field: string): bigint {
  if (value === null || value === undefined || value === '') return 0n;
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    throw invalid(field, `expected a u128 as a decimal string of digits (0..${U128_MAX}), got ${JSON.stringify(String(value).slice(0, 60))}`);
  }
  const n = BigInt(value);
  if (n > U128_MAX) throw invalid(field, `${value} is beyond u128 (max ${U128_MAX})`);
  return n;
}

export function formatU128(n: bigint): string {
  return n.toString();
}

/** A decoded uint64 (Long, number or absent) as a bigint. */
export function parseU64(value: number | Long | string | null | undefined, field: string): bigint {
  if (value === null || value === undefined) return 0n;
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw invalid(field, `expected a u64, got ${value}`);
    n = BigInt(value);
  } else if (typeof value === 'string') {
    if (!/^[0-9]{1,20}$/.test(value)) throw invalid(field, `expected a u64, got ${JSON.stringify(value)}`);
    n = BigInt(value);
  } else {
    n = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  }
  if (n > U64_MAX) throw invalid(field, `${n} is beyond u64`);
  return n;
}

/** A bigint as protobuf uint64 (a Long, exact beyond 2^53). */
export function toU64(n: bigint): Long {
  // protobufjs encodes any {low, high} pair; exact for the whole u64 range.
  return { low: Number(n & 0xffff_ffffn) | 0, high: Number((n >> 32n) & 0xffff_ffffn) | 0, unsigned: true } as Long;
}

/** A uint32 field that must fit `bits` bits (16 for code and flags). */
export function parseUint(value: number | null | undefined, field: string, bits: 16 | 32): number {
  const n = value ?? 0;
  const max = bits === 16 ? 0xffff : 0xffff_ffff;
  if (!Number.isInteger(n) || n < 0 || n > max) throw invalid(field, `expected an integer 0..${max}, got ${n}`);
  return n;
}

// Integer ranges of the ledger's fields. Amounts and balances are u128 (bigint, never a float);
// user_data_64 and timestamps are u64; ledger and user_data_32 u32; code and flags u16.

export const U128_MAX = (1n << 128n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffff;
export const U16_MAX = 0xffff;

export function isU128(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= U128_MAX;
}

export function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= U64_MAX;
}

export function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

export function isU16(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U16_MAX;
}

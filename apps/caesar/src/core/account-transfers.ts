// Which transfers touched an account, in timestamp order: the index behind getAccountTransfers
// and the code/direction filters of getAccountBalances (TigerBeetle's AccountFilter).
//
// Kept in memory, like the core's id → transfer map (the same Transfer objects, so it costs two
// array slots per transfer), and rebuilt from the transfers on open, like the balances. An index
// on disk was two random B-tree inserts per transfer at every commit — most of the commit time.
import { LedgerError } from '../errors';
import { MAX_BATCH_EVENTS } from './batch-input';
import { isU128, isU64 } from './integers';
import type { Transfer } from './types';

/** Which transfers of an account to list (TigerBeetle's AccountFilter). */
export interface AccountFilter {
  readonly accountId: bigint;
  /** Inclusive bounds on the transfer timestamp (ns); 0 = unbounded. */
  readonly timestampMin?: bigint;
  readonly timestampMax?: bigint;
  /** Only transfers with this code; 0 = any. */
  readonly code?: number;
  /** Only transfers with these user data values; 0 = any (getAccountTransfers only). */
  readonly userData128?: bigint;
  readonly userData64?: bigint;
  readonly userData32?: number;
  /** At most this many (1..8190). */
  readonly limit: number;
  /** Include transfers debiting the account (default true). */
  readonly debits?: boolean;
  /** Include transfers crediting the account (default true). */
  readonly credits?: boolean;
  /** Newest first (default oldest first). */
  readonly reversed?: boolean;
}

/** A validated AccountFilter with its defaults filled in (timestampMax 0 → no bound). */
export interface CheckedFilter {
  readonly accountId: bigint;
  readonly min: bigint;
  readonly max: bigint;
  readonly code: number;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  readonly limit: number;
  readonly debits: boolean;
  readonly credits: boolean;
  readonly reversed: boolean;
}

const U64_MAX = (1n << 64n) - 1n;

export function checkAccountFilter(f: AccountFilter): CheckedFilter {
  if (typeof f !== 'object' || f === null) throw new LedgerError('INVALID_ARGUMENT', 'the filter must be an object');
  if (!isU128(f.accountId)) throw new LedgerError('INVALID_ARGUMENT', 'filter.accountId must be a bigint in 0..2^128-1');
  const min = f.timestampMin ?? 0n;
  const max = f.timestampMax ?? 0n;
  if (!isU64(min) || !isU64(max)) throw new LedgerError('INVALID_ARGUMENT', 'filter.timestampMin/Max must be bigints in 0..2^64-1');
  if (max !== 0n && min > max) throw new LedgerError('INVALID_ARGUMENT', 'filter.timestampMin is after timestampMax');
  const code = f.code ?? 0;
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new LedgerError('INVALID_ARGUMENT', 'filter.code must be an integer in 0..65535');
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > MAX_BATCH_EVENTS) {
    throw new LedgerError('INVALID_ARGUMENT', `filter.limit must be an integer in 1..${MAX_BATCH_EVENTS}`);
  }
  const debits = f.debits ?? true;
  const credits = f.credits ?? true;
  if (!debits && !credits) throw new LedgerError('INVALID_ARGUMENT', 'filter must include debits, credits or both');
  const userData128 = f.userData128 ?? 0n;
  const userData64 = f.userData64 ?? 0n;
  const userData32 = f.userData32 ?? 0;
  if (!isU128(userData128) || !isU64(userData64) || !Number.isInteger(userData32) || userData32 < 0 || userData32 > 0xffff_ffff) {
    throw new LedgerError('INVALID_ARGUMENT', 'filter.userData128/64/32 must be u128 / u64 bigints and a u32 number');
  }
  return { accountId: f.accountId, min, max: max === 0n ? U64_MAX : max, code, userData128, userData64, userData32, limit: f.limit, debits, credits, reversed: f.reversed ?? false };
}

export class AccountTransfers {
  /** Per account, every transfer debiting or crediting it, oldest first. */
  private readonly byAccount = new Map<bigint, Transfer[]>();

  /** Indexes a transfer; transfers must come in timestamp order (as they are committed). */
  add(t: Transfer): void {
    append(this.listOf(t.debitAccountId), t);
    append(this.listOf(t.creditAccountId), t);
  }

  /** The account's transfers matching the filter, in timestamp order (newest first if reversed). */
  query(f: CheckedFilter): Transfer[] {
    const list = this.byAccount.get(f.accountId);
    const out: Transfer[] = [];
    if (!list) return out;
    const matches = (t: Transfer): boolean =>
      ((f.debits && t.debitAccountId === f.accountId) || (f.credits && t.creditAccountId === f.accountId)) &&
      (f.code === 0 || t.code === f.code) &&
      (f.userData128 === 0n || t.userData128 === f.userData128) &&
      (f.userData64 === 0n || t.userData64 === f.userData64) &&
      (f.userData32 === 0 || t.userData32 === f.userData32);
    if (f.reversed) {
      for (let i = firstAfter(list, f.max) - 1; i >= 0 && out.length < f.limit; i--) {
        const t = list[i]!;
        if (t.timestamp < f.min) break;
        if (matches(t)) out.push({ ...t }); // a copy: the index holds the core's own records
      }
    } else {
      for (let i = firstAfter(list, f.min - 1n); i < list.length && out.length < f.limit; i++) {
        const t = list[i]!;
        if (t.timestamp > f.max) break;
        if (matches(t)) out.push({ ...t }); // a copy: the index holds the core's own records
      }
    }
    return out;
  }

  /**
   * Whether the balance-history row of `accountId` at `timestamp` passes the filter's code and
   * direction: they apply to the transfer behind the row, so rows of expiries (no transfer) pass
   * only a filter without them.
   */
  historyRowMatches(f: CheckedFilter, timestamp: bigint): boolean {
    if (f.code === 0 && f.debits && f.credits) return true;
    const list = this.byAccount.get(f.accountId);
    const i = list ? firstAfter(list, timestamp - 1n) : 0;
    const t = list !== undefined && i < list.length && list[i]!.timestamp === timestamp ? list[i]! : undefined;
    if (t === undefined) return false;
    if (f.code !== 0 && t.code !== f.code) return false;
    return (f.debits && f.credits) || (f.debits && t.debitAccountId === f.accountId) || (f.credits && t.creditAccountId === f.accountId);
  }

  private listOf(accountId: bigint): Transfer[] {
    let list = this.byAccount.get(accountId);
    if (!list) {
      list = [];
      this.byAccount.set(accountId, list);
    }
    return list;
  }
}

function append(list: Transfer[], t: Transfer): void {
  const last = list[list.length - 1];
  // The queries binary-search by timestamp: an out-of-order add is a bug, not data.
  if (last !== undefined && last.timestamp >= t.timestamp) throw new Error(`AccountTransfers.add: transfer ${t.id} at ${t.timestamp} is not after ${last.timestamp}`);
  list.push(t);
}

/** Index of the first transfer with a timestamp > ts (binary search; the list is sorted). */
function firstAfter(list: readonly Transfer[], ts: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.timestamp <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Caesar's records between protobuf (libs/protos caesar.proto) and the core's types. Decoders
// refuse what the core would refuse as malformed (wrong type, out of range) with INVALID_ARGUMENT
// naming the field; everything else is left to the core's per-event result codes.
import type { caesar as proto } from '@stoq/protos';
import { MAX_BATCH_EVENTS } from '../core/batch-input';
import type { Account, AccountBalance, AccountInput, LedgerChanges, PendingStatusChange, Transfer, TransferInput } from '../core/types';
import type { AccountFilter } from '../store/ledger-database';
import { formatU128, invalid, parseU128, parseU64, parseUint, toU64 } from './wire-integers';

/** Default page size of get_account_transfers / get_account_balances when `limit` is 0. */
export const DEFAULT_PAGE_LIMIT = 100;

export function batchOf<T>(items: readonly T[] | null | undefined, field: string): readonly T[] {
  const list = items ?? [];
  if (list.length > MAX_BATCH_EVENTS) throw invalid(field, `${list.length} events; a batch holds at most ${MAX_BATCH_EVENTS}`);
  return list;
}

export function decodeNewAccount(a: proto.NewAccount, field: string): AccountInput {
  return {
    id: parseU128(a.id, `${field}.id`),
    ledger: parseUint(a.ledger, `${field}.ledger`, 32),
    code: parseUint(a.code, `${field}.code`, 16),
    flags: parseUint(a.flags, `${field}.flags`, 16),
    userData128: parseU128(a.userData_128, `${field}.user_data_128`),
    userData64: parseU64(a.userData_64, `${field}.user_data_64`),
    userData32: parseUint(a.userData_32, `${field}.user_data_32`, 32),
  };
}

export function decodeNewTransfer(t: proto.NewTransfer, field: string): TransferInput {
  return {
    id: parseU128(t.id, `${field}.id`),
    debitAccountId: parseU128(t.debitAccountId, `${field}.debit_account_id`),
    creditAccountId: parseU128(t.creditAccountId, `${field}.credit_account_id`),
    amount: parseU128(t.amount, `${field}.amount`),
    pendingId: parseU128(t.pendingId, `${field}.pending_id`),
    userData128: parseU128(t.userData_128, `${field}.user_data_128`),
    userData64: parseU64(t.userData_64, `${field}.user_data_64`),
    userData32: parseUint(t.userData_32, `${field}.user_data_32`, 32),
    timeout: parseUint(t.timeout, `${field}.timeout`, 32),
    ledger: parseUint(t.ledger, `${field}.ledger`, 32),
    code: parseUint(t.code, `${field}.code`, 16),
    flags: parseUint(t.flags, `${field}.flags`, 16),
  };
}

export function decodeIds(ids: readonly string[] | null | undefined, field: string): bigint[] {
  return batchOf(ids, field).map((id, i) => parseU128(id, `${field}[${i}]`));
}

export function decodeFilter(f: proto.AccountFilter): AccountFilter {
  const accountId = parseU128(f.accountId, 'account_id');
  if (accountId === 0n) throw invalid('account_id', 'is required');
  const limit = parseUint(f.limit, 'limit', 32) || DEFAULT_PAGE_LIMIT;
  if (limit > MAX_BATCH_EVENTS) throw invalid('limit', `at most ${MAX_BATCH_EVENTS}, got ${limit}`);
  const both = !f.debits && !f.credits;
  return {
    accountId,
    timestampMin: parseU64(f.timestampMin, 'timestamp_min'),
    timestampMax: parseU64(f.timestampMax, 'timestamp_max'),
    code: parseUint(f.code, 'code', 16),
    userData128: parseU128(f.userData_128, 'user_data_128'),
    userData64: parseU64(f.userData_64, 'user_data_64'),
    userData32: parseUint(f.userData_32, 'user_data_32', 32),
    limit,
    debits: both || Boolean(f.debits),
    credits: both || Boolean(f.credits),
    reversed: Boolean(f.reversed),
  };
}

export function encodeAccount(a: Account): proto.Account {
  return {
    id: formatU128(a.id),
    debitsPending: formatU128(a.debitsPending),
    debitsPosted: formatU128(a.debitsPosted),
    creditsPending: formatU128(a.creditsPending),
    creditsPosted: formatU128(a.creditsPosted),
    userData_128: formatU128(a.userData128),
    userData_64: toU64(a.userData64),
    userData_32: a.userData32,
    ledger: a.ledger,
    code: a.code,
    flags: a.flags,
    timestamp: toU64(a.timestamp),
  };
}

export function encodeTransfer(t: Transfer): proto.Transfer {
  return {
    id: formatU128(t.id),
    debitAccountId: formatU128(t.debitAccountId),
    creditAccountId: formatU128(t.creditAccountId),
    amount: formatU128(t.amount),
    pendingId: formatU128(t.pendingId),
    userData_128: formatU128(t.userData128),
    userData_64: toU64(t.userData64),
    userData_32: t.userData32,
    timeout: t.timeout,
    ledger: t.ledger,
    code: t.code,
    flags: t.flags,
    timestamp: toU64(t.timestamp),
  };
}

export function encodeBalance(b: AccountBalance): proto.AccountBalance {
  return {
    accountId: formatU128(b.accountId),
    timestamp: toU64(b.timestamp),
    debitsPending: formatU128(b.debitsPending),
    debitsPosted: formatU128(b.debitsPosted),
    creditsPending: formatU128(b.creditsPending),
    creditsPosted: formatU128(b.creditsPosted),
  };
}

export function encodePendingStatus(p: PendingStatusChange): proto.PendingStatusChange {
  return { id: formatU128(p.id), status: p.status, resolvedAt: toU64(p.resolvedAt) };
}

/**
 * One commit's changes as a LedgerChange, keeping only what touches `accounts` (all if null).
 * A filtered watch sees the pending statuses of the transfers it sees; an expiry shows as the
 * accounts' released balances (its status change only in an unfiltered watch).
 */
export function encodeChange(changes: readonly LedgerChanges[], accounts: ReadonlySet<bigint> | null): proto.LedgerChange | null {
  const transfers: Transfer[] = [];
  const touched = new Map<bigint, Account>();
  const statuses: PendingStatusChange[] = [];
  let last = 0n;
  const relevantTransfers = new Set<bigint>();
  for (const c of changes) {
    for (const t of c.transfers) {
      if (accounts === null || accounts.has(t.debitAccountId) || accounts.has(t.creditAccountId)) {
        transfers.push(t);
        relevantTransfers.add(t.id);
      }
    }
    for (const a of c.accounts) if (accounts === null || accounts.has(a.id)) touched.set(a.id, a);
    if (c.lastTimestamp > last) last = c.lastTimestamp;
  }
  for (const c of changes) {
    for (const p of c.pendingStatuses) if (accounts === null || relevantTransfers.has(p.id)) statuses.push(p);
  }
  if (transfers.length === 0 && touched.size === 0) return null;
  return {
    transfers: transfers.map(encodeTransfer),
    accounts: [...touched.values()].map(encodeAccount),
    pendingStatuses: statuses.map(encodePendingStatus),
    lastTimestamp: toU64(last),
  };
}

// Caesar's wire records as the CLI shows them (tables) and prints them (--json: u128 and u64 as
// decimal strings, flags by name, result codes by their ledger names).
import type { caesar as proto } from '@stoq/protos';
import { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS } from '../core/results';
import { AccountFlags, TransferFlags } from '../core/types';

type U64 = proto.Long | number | null | undefined;

export function u64String(v: U64): string {
  if (v === null || v === undefined) return '0';
  if (typeof v === 'number') return String(v);
  return ((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

const u128 = (v: string | null | undefined): string => (v ? v : '0');

export function flagNames(flags: number, names: Readonly<Record<string, number>>): string[] {
  return Object.entries(names)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([n]) => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
}

/** Parses "a,b" flag names (snake or camel case) or a number. */
export function parseFlags(text: string, names: Readonly<Record<string, number>>): number | string {
  if (/^[0-9]+$/.test(text)) return Number(text);
  let out = 0;
  for (const part of text.split(',').filter((p) => p !== '')) {
    const camel = part.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const bit = names[camel];
    if (bit === undefined) return `unknown flag "${part}" (one of ${Object.keys(names).map((n) => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)).join(', ')})`;
    out |= bit;
  }
  return out;
}

export const ACCOUNT_FLAG_NAMES: Readonly<Record<string, number>> = AccountFlags;
export const TRANSFER_FLAG_NAMES: Readonly<Record<string, number>> = TransferFlags;

export const accountResultName = (n: number): string => CREATE_ACCOUNT_RESULTS[n] ?? `result_${n}`;
export const transferResultName = (n: number): string => CREATE_TRANSFER_RESULTS[n] ?? `result_${n}`;

export function accountJson(a: proto.Account): Record<string, unknown> {
  const cp = BigInt(u128(a.creditsPosted));
  const dp = BigInt(u128(a.debitsPosted));
  return {
    id: u128(a.id),
    ledger: a.ledger ?? 0,
    code: a.code ?? 0,
    flags: flagNames(a.flags ?? 0, ACCOUNT_FLAG_NAMES),
    debitsPending: u128(a.debitsPending),
    debitsPosted: u128(a.debitsPosted),
    creditsPending: u128(a.creditsPending),
    creditsPosted: u128(a.creditsPosted),
    balance: (cp - dp).toString(),
    owner: u128(a.userData_128),
    userData64: u64String(a.userData_64),
    userData32: a.userData_32 ?? 0,
    timestamp: u64String(a.timestamp),
  };
}

export function transferJson(t: proto.Transfer): Record<string, unknown> {
  return {
    id: u128(t.id),
    debitAccountId: u128(t.debitAccountId),
    creditAccountId: u128(t.creditAccountId),
    amount: u128(t.amount),
    pendingId: u128(t.pendingId),
    ledger: t.ledger ?? 0,
    code: t.code ?? 0,
    flags: flagNames(t.flags ?? 0, TRANSFER_FLAG_NAMES),
    timeout: t.timeout ?? 0,
    userData128: u128(t.userData_128),
    userData64: u64String(t.userData_64),
    userData32: t.userData_32 ?? 0,
    timestamp: u64String(t.timestamp),
  };
}

/** ns since the epoch as an ISO time (ms precision). */
export function isoTime(ns: string): string {
  const ms = Number(BigInt(ns) / 1_000_000n);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : ns;
}

// Batch-level input checks: a batch is an array of at most 8,190 events (TigerBeetle's limit per
// request), and every field has its integer type and range. A batch that fails here is malformed
// (no wire format can produce it: negative or >128-bit amounts, fractional numbers, wrong types)
// and is refused whole with LedgerError INVALID_ARGUMENT / BATCH_TOO_LARGE before any state
// change. Everything a well-formed event can get wrong is a per-event result code instead.
import { LedgerError } from '../errors';
import { isU128, isU16, isU32, isU64 } from './integers';
import type { Account, AccountInput, Transfer, TransferInput } from './types';

/** Most events in one batch (TigerBeetle's batch size for 128-byte events in a 1 MiB message). */
export const MAX_BATCH_EVENTS = 8190;

/** An account event with every field present: an account as stored, before it has balances and a timestamp. */
export type AccountEvent = Omit<Account, 'debitsPending' | 'debitsPosted' | 'creditsPending' | 'creditsPosted' | 'timestamp'>;

/** A transfer event with every field present: a transfer as stored, before it has a timestamp. */
export type TransferEvent = Omit<Transfer, 'timestamp'>;

type Kind = 'u128' | 'u64' | 'u32' | 'u16';
const CHECK: Record<Kind, (v: unknown) => boolean> = { u128: isU128, u64: isU64, u32: isU32, u16: isU16 };
const DESCRIBE: Record<Kind, string> = {
  u128: 'a bigint in 0..2^128-1',
  u64: 'a bigint in 0..2^64-1',
  u32: 'an integer number in 0..2^32-1',
  u16: 'an integer number in 0..65535',
};

/** `what[i]` names the event in the error (built only then: this runs for every field of every event). */
function field<T>(o: Record<string, unknown>, name: string, kind: Kind, fallback: T | undefined, what: string, i: number): T {
  const v = o[name];
  if (v === undefined && fallback !== undefined) return fallback;
  if (!CHECK[kind](v)) {
    throw new LedgerError('INVALID_ARGUMENT', `${what}[${i}].${name} must be ${DESCRIBE[kind]}, got ${describeValue(v)}`);
  }
  return v as T;
}

function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return String(v);
  return typeof v;
}

function batch(events: unknown, what: string, max: number): readonly unknown[] {
  if (!Array.isArray(events)) throw new LedgerError('INVALID_ARGUMENT', `${what} must be an array of events`);
  if (events.length > max) {
    throw new LedgerError('BATCH_TOO_LARGE', `${what} has ${events.length} events; a batch holds at most ${max}`);
  }
  return events;
}

function record(e: unknown, what: string, i: number): Record<string, unknown> {
  if (typeof e !== 'object' || e === null) throw new LedgerError('INVALID_ARGUMENT', `${what}[${i}] must be an object`);
  return e as Record<string, unknown>;
}

export function accountEvents(events: readonly AccountInput[], max = MAX_BATCH_EVENTS): AccountEvent[] {
  return batch(events, 'accounts', max).map((e, i) => {
    const o = record(e, 'accounts', i);
    return {
      id: field<bigint>(o, 'id', 'u128', undefined, 'accounts', i),
      ledger: field<number>(o, 'ledger', 'u32', undefined, 'accounts', i),
      code: field<number>(o, 'code', 'u16', undefined, 'accounts', i),
      flags: field<number>(o, 'flags', 'u16', 0, 'accounts', i),
      userData128: field<bigint>(o, 'userData128', 'u128', 0n, 'accounts', i),
      userData64: field<bigint>(o, 'userData64', 'u64', 0n, 'accounts', i),
      userData32: field<number>(o, 'userData32', 'u32', 0, 'accounts', i),
    };
  });
}

export function transferEvents(events: readonly TransferInput[], max = MAX_BATCH_EVENTS): TransferEvent[] {
  return batch(events, 'transfers', max).map((e, i) => {
    const o = record(e, 'transfers', i);
    return {
      id: field<bigint>(o, 'id', 'u128', undefined, 'transfers', i),
      debitAccountId: field<bigint>(o, 'debitAccountId', 'u128', 0n, 'transfers', i),
      creditAccountId: field<bigint>(o, 'creditAccountId', 'u128', 0n, 'transfers', i),
      amount: field<bigint>(o, 'amount', 'u128', 0n, 'transfers', i),
      pendingId: field<bigint>(o, 'pendingId', 'u128', 0n, 'transfers', i),
      userData128: field<bigint>(o, 'userData128', 'u128', 0n, 'transfers', i),
      userData64: field<bigint>(o, 'userData64', 'u64', 0n, 'transfers', i),
      userData32: field<number>(o, 'userData32', 'u32', 0, 'transfers', i),
      timeout: field<number>(o, 'timeout', 'u32', 0, 'transfers', i),
      ledger: field<number>(o, 'ledger', 'u32', 0, 'transfers', i),
      code: field<number>(o, 'code', 'u16', 0, 'transfers', i),
      flags: field<number>(o, 'flags', 'u16', 0, 'transfers', i),
    };
  });
}

/** The caller's clock reading: u64 nanoseconds since the Unix epoch. */
export function checkNow(now: unknown): bigint {
  if (!isU64(now)) throw new LedgerError('INVALID_ARGUMENT', `now must be a bigint of nanoseconds in 0..2^64-1, got ${describeValue(now)}`);
  return now;
}

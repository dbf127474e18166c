// The ledger's invariants, checked independently of the code that applies transfers: from the
// accounts' balances alone.
//
//   debits_equal_credits  per ledger, Σ debits_pending = Σ credits_pending and
//                         Σ debits_posted = Σ credits_posted (every transfer debits and credits
//                         the same amount on the same ledger);
//   balance_limit         debits_pending + debits_posted ≤ credits_posted for accounts with
//                         debits_must_not_exceed_credits, and the mirror rule; every balance u128;
//   supply_only_through_mint_and_burn
//                         a mint account is never credited, a burn account never debited; so per
//                         ledger, circulating supply (Σ credits_posted − debits_posted over all
//                         other accounts) = Σ mint debits_posted − Σ burn credits_posted.
//
// After a batch only the accounts it touched are checked, against their balances before the
// batch (checkBatch: O(touched)); on open and in tests every account (checkAll: O(accounts)).
import { InvariantViolationError } from '../errors';
import { U128_MAX } from './integers';
import { type Account, AccountFlags } from './types';

export interface Balances {
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
}

export const ZERO_BALANCES: Balances = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };

/** Per-ledger sums (or changes of sums) of the four balances and of the supply terms. */
interface LedgerSums {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  circulating: bigint;
  minted: bigint;
  burnt: bigint;
}

export function checkAccount(a: Account): void {
  // Checked field by field, not over an array of pairs: this runs for every touched account of every batch.
  checkU128(a.id, 'debits_pending', a.debitsPending);
  checkU128(a.id, 'debits_posted', a.debitsPosted);
  checkU128(a.id, 'credits_pending', a.creditsPending);
  checkU128(a.id, 'credits_posted', a.creditsPosted);
  if (a.flags & AccountFlags.debitsMustNotExceedCredits && a.debitsPending + a.debitsPosted > a.creditsPosted) {
    throw new InvariantViolationError('balance_limit', `account ${a.id}: debits ${a.debitsPending}+${a.debitsPosted} exceed credits_posted ${a.creditsPosted}`);
  }
  if (a.flags & AccountFlags.creditsMustNotExceedDebits && a.creditsPending + a.creditsPosted > a.debitsPosted) {
    throw new InvariantViolationError('balance_limit', `account ${a.id}: credits ${a.creditsPending}+${a.creditsPosted} exceed debits_posted ${a.debitsPosted}`);
  }
  if (a.flags & AccountFlags.mint && (a.creditsPending !== 0n || a.creditsPosted !== 0n)) {
    throw new InvariantViolationError('supply_only_through_mint_and_burn', `account ${a.id} is a mint account but has credits`);
  }
  if (a.flags & AccountFlags.burn && (a.debitsPending !== 0n || a.debitsPosted !== 0n)) {
    throw new InvariantViolationError('supply_only_through_mint_and_burn', `account ${a.id} is a burn account but has debits`);
  }
}

function checkU128(id: bigint, name: string, v: bigint): void {
  if (v < 0n || v > U128_MAX) throw new InvariantViolationError('balance_limit', `account ${id}: ${name} ${v} is outside 0..2^128-1`);
}

function sumsOf(sums: Map<number, LedgerSums>, ledger: number): LedgerSums {
  let s = sums.get(ledger);
  if (!s) {
    s = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n, circulating: 0n, minted: 0n, burnt: 0n };
    sums.set(ledger, s);
  }
  return s;
}

function add(sums: Map<number, LedgerSums>, a: Account): void {
  const s = sumsOf(sums, a.ledger);
  s.debitsPending += a.debitsPending;
  s.debitsPosted += a.debitsPosted;
  s.creditsPending += a.creditsPending;
  s.creditsPosted += a.creditsPosted;
  if (a.flags & AccountFlags.mint) s.minted += a.debitsPosted;
  else if (a.flags & AccountFlags.burn) s.burnt += a.creditsPosted;
  else s.circulating += a.creditsPosted - a.debitsPosted;
}

/** Adds the change of one account's balances (now − before) to its ledger's sums. */
function addChange(sums: Map<number, LedgerSums>, a: Account, before: Balances): void {
  const s = sumsOf(sums, a.ledger);
  s.debitsPending += a.debitsPending - before.debitsPending;
  s.debitsPosted += a.debitsPosted - before.debitsPosted;
  s.creditsPending += a.creditsPending - before.creditsPending;
  s.creditsPosted += a.creditsPosted - before.creditsPosted;
  if (a.flags & AccountFlags.mint) s.minted += a.debitsPosted - before.debitsPosted;
  else if (a.flags & AccountFlags.burn) s.burnt += a.creditsPosted - before.creditsPosted;
  else s.circulating += a.creditsPosted - before.creditsPosted - (a.debitsPosted - before.debitsPosted);
}

function checkSums(sums: Map<number, LedgerSums>, what: string): void {
  for (const [ledger, s] of sums) {
    if (s.debitsPending !== s.creditsPending) {
      throw new InvariantViolationError('debits_equal_credits', `ledger ${ledger}: ${what} debits_pending ${s.debitsPending} ≠ credits_pending ${s.creditsPending}`);
    }
    if (s.debitsPosted !== s.creditsPosted) {
      throw new InvariantViolationError('debits_equal_credits', `ledger ${ledger}: ${what} debits_posted ${s.debitsPosted} ≠ credits_posted ${s.creditsPosted}`);
    }
    if (s.circulating !== s.minted - s.burnt) {
      throw new InvariantViolationError(
        'supply_only_through_mint_and_burn',
        `ledger ${ledger}: ${what} circulating supply ${s.circulating} ≠ minted ${s.minted} − burnt ${s.burnt}`,
      );
    }
  }
}

/** Every invariant over every account. */
export function checkAll(accounts: Iterable<Account>): void {
  const sums = new Map<number, LedgerSums>();
  for (const a of accounts) {
    checkAccount(a);
    add(sums, a);
  }
  checkSums(sums, 'total');
}

/**
 * Every invariant over the accounts one batch touched: `before` maps each to its balances before
 * the batch (ZERO_BALANCES for one the batch created). The sums of the changes must balance.
 */
export function checkBatch(touched: Iterable<readonly [Account, Balances]>): void {
  const sums = new Map<number, LedgerSums>();
  for (const [a, before] of touched) {
    checkAccount(a);
    addChange(sums, a, before);
  }
  checkSums(sums, 'change of');
}

/** Per ledger: total minted, burnt and in circulation (the supply identity of checkAll). */
export function supplyOf(accounts: Iterable<Account>, ledger: number): { minted: bigint; burnt: bigint; circulating: bigint } {
  const sums = new Map<number, LedgerSums>();
  for (const a of accounts) if (a.ledger === ledger) add(sums, a);
  const s = sums.get(ledger);
  return { minted: s?.minted ?? 0n, burnt: s?.burnt ?? 0n, circulating: s?.circulating ?? 0n };
}

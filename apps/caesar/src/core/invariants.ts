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
  const id = `account ${a.id}`;
  for (const [name, v] of [
    ['debits_pending', a.debitsPending],
    ['debits_posted', a.debitsPosted],
    ['credits_pending', a.creditsPending],
    ['credits_posted', a.creditsPosted],
  ] as const) {
    if (v < 0n || v > U128_MAX) throw new InvariantViolationError('balance_limit', `${id}: ${name} ${v} is outside 0..2^128-1`);
  }
  if (a.flags & AccountFlags.debitsMustNotExceedCredits && a.debitsPending + a.debitsPosted > a.creditsPosted) {
    throw new InvariantViolationError('balance_limit', `${id}: debits ${a.debitsPending}+${a.debitsPosted} exceed credits_posted ${a.creditsPosted}`);
  }
  if (a.flags & AccountFlags.creditsMustNotExceedDebits && a.creditsPending + a.creditsPosted > a.debitsPosted) {
    throw new InvariantViolationError('balance_limit', `${id}: credits ${a.creditsPending}+${a.creditsPosted} exceed debits_posted ${a.debitsPosted}`);
  }
  if (a.flags & AccountFlags.mint && (a.creditsPending !== 0n || a.creditsPosted !== 0n)) {
    throw new InvariantViolationError('supply_only_through_mint_and_burn', `${id} is a mint account but has credits`);
  }
  if (a.flags & AccountFlags.burn && (a.debitsPending !== 0n || a.debitsPosted !== 0n)) {
    throw new InvariantViolationError('supply_only_through_mint_and_burn', `${id} is a burn account but has debits`);
  }
}

function add(sums: Map<number, LedgerSums>, a: Account, sign: bigint): void {
  let s = sums.get(a.ledger);
  if (!s) {
    s = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n, circulating: 0n, minted: 0n, burnt: 0n };
    sums.set(a.ledger, s);
  }
  s.debitsPending += sign * a.debitsPending;
  s.debitsPosted += sign * a.debitsPosted;
  s.creditsPending += sign * a.creditsPending;
  s.creditsPosted += sign * a.creditsPosted;
  if (a.flags & AccountFlags.mint) s.minted += sign * a.debitsPosted;
  else if (a.flags & AccountFlags.burn) s.burnt += sign * a.creditsPosted;
  else s.circulating += sign * (a.creditsPosted - a.debitsPosted);
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
    add(sums, a, 1n);
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
    add(sums, a, 1n);
    add(sums, { ...a, ...before }, -1n);
  }
  checkSums(sums, 'change of');
}

/** Per ledger: total minted, burnt and in circulation (the supply identity of checkAll). */
export function supplyOf(accounts: Iterable<Account>, ledger: number): { minted: bigint; burnt: bigint; circulating: bigint } {
  const sums = new Map<number, LedgerSums>();
  for (const a of accounts) if (a.ledger === ledger) add(sums, a, 1n);
  const s = sums.get(ledger);
  return { minted: s?.minted ?? 0n, burnt: s?.burnt ?? 0n, circulating: s?.circulating ?? 0n };
}

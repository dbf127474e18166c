// A deliberately simple reference ledger for the property tests: plain arrays searched linearly,
// linked chains undone by restoring a deep copy of the whole state, expiry by scanning every
// transfer, checks written as ordered [condition, result] lists. It shares no code with src/core
// except the flag constants, so a bug in one is unlikely to be repeated in the other.
import type { AccountBalance, AccountInput, PendingStatus, TransferInput } from '../../src';

const MAX = (1n << 128n) - 1n;
const U64 = (1n << 64n) - 1n;

const LINKED = 1;
// account flags
const DMNEC = 2;
const CMNED = 4;
const HISTORY = 8;
const MINT = 1 << 14;
const BURN = 1 << 15;
const ACCOUNT_KNOWN = LINKED | DMNEC | CMNED | HISTORY | MINT | BURN;
// transfer flags
const PENDING = 2;
const POST = 4;
const VOID = 8;
const BAL_DR = 16;
const BAL_CR = 32;
const TRANSFER_KNOWN = 63;

export interface ModelAccount {
  id: bigint;
  ledger: number;
  code: number;
  flags: number;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
  timestamp: bigint;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

export interface ModelTransfer {
  id: bigint;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amount: bigint;
  pendingId: bigint;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
  timeout: number;
  ledger: number;
  code: number;
  flags: number;
  timestamp: bigint;
  status: PendingStatus | null;
}

interface State {
  accounts: ModelAccount[];
  transfers: ModelTransfer[];
  history: AccountBalance[];
  clock: bigint;
}

type Full<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

function fullAccount(a: AccountInput): Full<AccountInput> {
  return { flags: 0, userData128: 0n, userData64: 0n, userData32: 0, ...a };
}

function fullTransfer(t: TransferInput): Full<TransferInput> {
  return {
    debitAccountId: 0n,
    creditAccountId: 0n,
    amount: 0n,
    pendingId: 0n,
    userData128: 0n,
    userData64: 0n,
    userData32: 0,
    timeout: 0,
    ledger: 0,
    code: 0,
    flags: 0,
    ...t,
  };
}

export class ReferenceLedger {
  state: State = { accounts: [], transfers: [], history: [], clock: 0n };

  account(id: bigint): ModelAccount | undefined {
    return this.state.accounts.find((a) => a.id === id);
  }

  transfer(id: bigint): ModelTransfer | undefined {
    return this.state.transfers.find((t) => t.id === id);
  }

  createAccounts(events: AccountInput[], now: bigint): string[] {
    return this.batch(events.map(fullAccount), now, (e, ts) => this.createAccount(e, ts));
  }

  createTransfers(events: TransferInput[], now: bigint): string[] {
    return this.batch(events.map(fullTransfer), now, (e, ts) => this.createTransfer(e, ts));
  }

  private nextTimestamp(now: bigint): bigint {
    this.state.clock = this.state.clock + 1n > now ? this.state.clock + 1n : now;
    return this.state.clock;
  }

  private snapshotBalances(a: ModelAccount, ts: bigint): void {
    if (a.flags & HISTORY) {
      this.state.history.push({ accountId: a.id, timestamp: ts, debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted });
    }
  }

  private expiresAt(t: ModelTransfer): bigint {
    return t.timeout === 0 ? 0n : t.timestamp + BigInt(t.timeout) * 1_000_000_000n;
  }

  private batch<E extends { flags: number }>(events: E[], now: bigint, apply: (e: E, ts: bigint) => string): string[] {
    // Expire every pending transfer whose deadline is ≤ now, earliest deadline first.
    const due = this.state.transfers
      .filter((t) => t.status === 'pending' && t.timeout > 0 && this.expiresAt(t) <= now)
      .sort((a, b) => (this.expiresAt(a) === this.expiresAt(b) ? (a.timestamp < b.timestamp ? -1 : 1) : this.expiresAt(a) < this.expiresAt(b) ? -1 : 1));
    for (const t of due) {
      const ts = this.nextTimestamp(now);
      const dr = this.account(t.debitAccountId)!;
      const cr = this.account(t.creditAccountId)!;
      dr.debitsPending -= t.amount;
      cr.creditsPending -= t.amount;
      t.status = 'expired';
      this.snapshotBalances(dr, ts);
      this.snapshotBalances(cr, ts);
    }

    const results: string[] = [];
    let i = 0;
    while (i < events.length) {
      // The chain starting at i: up to and including the first event without `linked`.
      let end = i;
      while (end < events.length - 1 && events[end]!.flags & LINKED) end++;
      const isChain = end > i || (events[i]!.flags & LINKED) !== 0;
      if (!isChain) {
        results.push(apply(events[i]!, this.nextTimestamp(now)));
        i++;
        continue;
      }
      const saved = structuredClone(this.state);
      const chainResults: string[] = [];
      let failed = false;
      for (let j = i; j <= end; j++) {
        const ts = this.nextTimestamp(now);
        if (j === events.length - 1 && events[j]!.flags & LINKED) {
          chainResults.push('linked_event_chain_open');
          failed = true;
        } else if (failed) {
          chainResults.push('linked_event_failed');
        } else {
          const r = apply(events[j]!, ts);
          chainResults.push(r);
          if (r !== 'ok') failed = true;
        }
      }
      if (failed) {
        const clock = this.state.clock;
        this.state = saved;
        this.state.clock = clock; // timestamps are used up even by failed events
        for (let k = 0; k < chainResults.length; k++) if (chainResults[k] === 'ok') chainResults[k] = 'linked_event_failed';
      }
      results.push(...chainResults);
      i = end + 1;
    }
    return results;
  }

  private createAccount(e: Full<AccountInput>, ts: bigint): string {
    const f = e.flags;
    const checks: Array<[boolean, string]> = [
      [(f & ~ACCOUNT_KNOWN) !== 0, 'reserved_flag'],
      [e.id === 0n, 'id_must_not_be_zero'],
      [e.id === MAX, 'id_must_not_be_int_max'],
      [has(f, DMNEC | CMNED) || has(f, MINT | BURN) || has(f, MINT | DMNEC) || has(f, BURN | CMNED), 'flags_are_mutually_exclusive'],
      [e.ledger === 0, 'ledger_must_not_be_zero'],
      [e.code === 0, 'code_must_not_be_zero'],
    ];
    for (const [bad, code] of checks) if (bad) return code;
    const x = this.account(e.id);
    if (x) {
      const same: Array<[boolean, string]> = [
        [x.flags === f, 'exists_with_different_flags'],
        [x.userData128 === e.userData128, 'exists_with_different_user_data_128'],
        [x.userData64 === e.userData64, 'exists_with_different_user_data_64'],
        [x.userData32 === e.userData32, 'exists_with_different_user_data_32'],
        [x.ledger === e.ledger, 'exists_with_different_ledger'],
        [x.code === e.code, 'exists_with_different_code'],
      ];
      for (const [ok, code] of same) if (!ok) return code;
      return 'exists';
    }
    this.state.accounts.push({
      id: e.id,
      ledger: e.ledger,
      code: e.code,
      flags: f,
      userData128: e.userData128,
      userData64: e.userData64,
      userData32: e.userData32,
      timestamp: ts,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
    });
    return 'ok';
  }

  private createTransfer(t: Full<TransferInput>, ts: bigint): string {
    const f = t.flags;
    const first: Array<[boolean, string]> = [
      [(f & ~TRANSFER_KNOWN) !== 0, 'reserved_flag'],
      [t.id === 0n, 'id_must_not_be_zero'],
      [t.id === MAX, 'id_must_not_be_int_max'],
      [bits(f & (PENDING | POST | VOID)) > 1 || ((f & (BAL_DR | BAL_CR)) !== 0 && (f & (POST | VOID)) !== 0), 'flags_are_mutually_exclusive'],
    ];
    for (const [bad, code] of first) if (bad) return code;
    if (f & (POST | VOID)) return this.postOrVoid(t, ts);
    const shape: Array<[boolean, string]> = [
      [t.debitAccountId === 0n, 'debit_account_id_must_not_be_zero'],
      [t.debitAccountId === MAX, 'debit_account_id_must_not_be_int_max'],
      [t.creditAccountId === 0n, 'credit_account_id_must_not_be_zero'],
      [t.creditAccountId === MAX, 'credit_account_id_must_not_be_int_max'],
      [t.debitAccountId === t.creditAccountId, 'accounts_must_be_different'],
      [t.pendingId !== 0n, 'pending_id_must_be_zero'],
      [(f & PENDING) === 0 && t.timeout !== 0, 'timeout_reserved_for_pending_transfer'],
      [t.ledger === 0, 'ledger_must_not_be_zero'],
      [t.code === 0, 'code_must_not_be_zero'],
      [t.amount === 0n, 'amount_must_not_be_zero'],
    ];
    for (const [bad, code] of shape) if (bad) return code;
    const dr = this.account(t.debitAccountId);
    if (!dr) return 'debit_account_not_found';
    const cr = this.account(t.creditAccountId);
    if (!cr) return 'credit_account_not_found';
    if (dr.ledger !== cr.ledger) return 'accounts_must_have_the_same_ledger';
    if (t.ledger !== dr.ledger) return 'transfer_must_have_the_same_ledger_as_accounts';
    const e = this.transfer(t.id);
    if (e) {
      const balancing = (f & (BAL_DR | BAL_CR)) !== 0;
      const same: Array<[boolean, string]> = [
        [e.flags === f, 'exists_with_different_flags'],
        [e.debitAccountId === t.debitAccountId, 'exists_with_different_debit_account_id'],
        [e.creditAccountId === t.creditAccountId, 'exists_with_different_credit_account_id'],
        [balancing ? t.amount >= e.amount : t.amount === e.amount, 'exists_with_different_amount'],
        [e.pendingId === t.pendingId, 'exists_with_different_pending_id'],
        [e.timeout === t.timeout, 'exists_with_different_timeout'],
        [e.userData128 === t.userData128, 'exists_with_different_user_data_128'],
        [e.userData64 === t.userData64, 'exists_with_different_user_data_64'],
        [e.userData32 === t.userData32, 'exists_with_different_user_data_32'],
        [e.ledger === t.ledger, 'exists_with_different_ledger'],
        [e.code === t.code, 'exists_with_different_code'],
      ];
      for (const [ok, code] of same) if (!ok) return code;
      return 'exists';
    }
    if (cr.flags & MINT) return 'mint_account_must_not_be_credited';
    if (dr.flags & BURN) return 'burn_account_must_not_be_debited';
    let amount = t.amount;
    if (f & BAL_DR) {
      const available = dr.creditsPosted - (dr.debitsPending + dr.debitsPosted);
      if (available < amount) amount = available > 0n ? available : 0n;
      if (amount === 0n) return 'exceeds_credits';
    }
    if (f & BAL_CR) {
      const available = cr.debitsPosted - (cr.creditsPending + cr.creditsPosted);
      if (available < amount) amount = available > 0n ? available : 0n;
      if (amount === 0n) return 'exceeds_debits';
    }
    const pending = (f & PENDING) !== 0;
    const expiry = pending && t.timeout > 0 ? ts + BigInt(t.timeout) * 1_000_000_000n : 0n;
    const limits: Array<[boolean, string]> = [
      [pending && dr.debitsPending + amount > MAX, 'overflows_debits_pending'],
      [pending && cr.creditsPending + amount > MAX, 'overflows_credits_pending'],
      [!pending && dr.debitsPosted + amount > MAX, 'overflows_debits_posted'],
      [!pending && cr.creditsPosted + amount > MAX, 'overflows_credits_posted'],
      [dr.debitsPending + dr.debitsPosted + amount > MAX, 'overflows_debits'],
      [cr.creditsPending + cr.creditsPosted + amount > MAX, 'overflows_credits'],
      [expiry > U64, 'overflows_timeout'],
      [(dr.flags & DMNEC) !== 0 && dr.debitsPending + dr.debitsPosted + amount > dr.creditsPosted, 'exceeds_credits'],
      [(cr.flags & CMNED) !== 0 && cr.creditsPending + cr.creditsPosted + amount > cr.debitsPosted, 'exceeds_debits'],
    ];
    for (const [bad, code] of limits) if (bad) return code;
    if (pending) {
      dr.debitsPending += amount;
      cr.creditsPending += amount;
    } else {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
    }
    this.state.transfers.push({ ...t, amount, timestamp: ts, status: pending ? 'pending' : null });
    this.snapshotBalances(dr, ts);
    this.snapshotBalances(cr, ts);
    return 'ok';
  }

  private postOrVoid(t: Full<TransferInput>, ts: bigint): string {
    const first: Array<[boolean, string]> = [
      [t.pendingId === 0n, 'pending_id_must_not_be_zero'],
      [t.pendingId === MAX, 'pending_id_must_not_be_int_max'],
      [t.pendingId === t.id, 'pending_id_must_be_different'],
      [t.timeout !== 0, 'timeout_reserved_for_pending_transfer'],
    ];
    for (const [bad, code] of first) if (bad) return code;
    const p = this.transfer(t.pendingId);
    if (!p) return 'pending_transfer_not_found';
    if ((p.flags & PENDING) === 0) return 'pending_transfer_not_pending';
    const isPost = (t.flags & POST) !== 0;
    const amount = t.amount > 0n ? t.amount : p.amount;
    const match: Array<[boolean, string]> = [
      [t.debitAccountId > 0n && t.debitAccountId !== p.debitAccountId, 'pending_transfer_has_different_debit_account_id'],
      [t.creditAccountId > 0n && t.creditAccountId !== p.creditAccountId, 'pending_transfer_has_different_credit_account_id'],
      [t.ledger > 0 && t.ledger !== p.ledger, 'pending_transfer_has_different_ledger'],
      [t.code > 0 && t.code !== p.code, 'pending_transfer_has_different_code'],
      [amount > p.amount, 'exceeds_pending_transfer_amount'],
      [!isPost && amount < p.amount, 'pending_transfer_has_different_amount'],
    ];
    for (const [bad, code] of match) if (bad) return code;
    const e = this.transfer(t.id);
    if (e) {
      const differs: Array<[boolean, string]> = [
        [e.flags !== t.flags, 'exists_with_different_flags'],
        [e.pendingId !== t.pendingId, 'exists_with_different_pending_id'],
        [t.debitAccountId > 0n && e.debitAccountId !== t.debitAccountId, 'exists_with_different_debit_account_id'],
        [t.creditAccountId > 0n && e.creditAccountId !== t.creditAccountId, 'exists_with_different_credit_account_id'],
        [t.amount > 0n && e.amount !== t.amount, 'exists_with_different_amount'],
        [t.userData128 > 0n && e.userData128 !== t.userData128, 'exists_with_different_user_data_128'],
        [t.userData64 > 0n && e.userData64 !== t.userData64, 'exists_with_different_user_data_64'],
        [t.userData32 > 0 && e.userData32 !== t.userData32, 'exists_with_different_user_data_32'],
        [t.ledger > 0 && e.ledger !== t.ledger, 'exists_with_different_ledger'],
        [t.code > 0 && e.code !== t.code, 'exists_with_different_code'],
      ];
      for (const [bad, code] of differs) if (bad) return code;
      return 'exists';
    }
    if (p.status === 'posted') return 'pending_transfer_already_posted';
    if (p.status === 'voided') return 'pending_transfer_already_voided';
    if (p.status === 'expired') return 'pending_transfer_expired';
    if (p.timeout > 0 && this.expiresAt(p) <= ts) return 'pending_transfer_expired';
    const dr = this.account(p.debitAccountId)!;
    const cr = this.account(p.creditAccountId)!;
    if (isPost && dr.debitsPosted + amount > MAX) return 'overflows_debits_posted';
    if (isPost && cr.creditsPosted + amount > MAX) return 'overflows_credits_posted';
    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    if (isPost) {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
    }
    p.status = isPost ? 'posted' : 'voided';
    this.state.transfers.push({
      id: t.id,
      debitAccountId: p.debitAccountId,
      creditAccountId: p.creditAccountId,
      amount,
      pendingId: p.id,
      userData128: t.userData128 || p.userData128,
      userData64: t.userData64 || p.userData64,
      userData32: t.userData32 || p.userData32,
      timeout: 0,
      ledger: p.ledger,
      code: p.code,
      flags: t.flags,
      timestamp: ts,
      status: null,
    });
    this.snapshotBalances(dr, ts);
    this.snapshotBalances(cr, ts);
    return 'ok';
  }
}

function has(flags: number, both: number): boolean {
  return (flags & both) === both;
}

function bits(n: number): number {
  let c = 0;
  for (; n; n &= n - 1) c++;
  return c;
}

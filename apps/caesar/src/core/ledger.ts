// The ledger state machine: applies batches of account and transfer events to in-memory state and
// answers one result code per event. Pure and deterministic: no I/O, no clock (the caller passes
// `now`, u64 ns), no randomness; the same batches with the same `now` values give the same results,
// state and changes. A durable store writes each batch's LedgerChanges and replies only after.
//
// One batch:
//   1. batch-input.ts refuses a malformed or oversized batch whole (LedgerError), state untouched;
//   2. pending transfers whose timeout passed (expires_at ≤ now) expire, releasing their pending
//      amounts, in (expires_at, timestamp) order, each with its own timestamp;
//   3. events are applied in order, each with the next timestamp (max(now, previous + 1));
//      linked chains (consecutive events with the `linked` flag, ended by one without it) are
//      applied atomically: if one event fails, every change of the chain is undone; the failing
//      event keeps its code, the others get linked_event_failed. The last event of a batch with
//      `linked` set gets linked_event_chain_open (and its chain fails);
//   4. the invariants (invariants.ts) are checked over the accounts the batch touched; a violation
//      throws InvariantViolationError and the ledger refuses every later call (its state is no
//      longer trusted; a store must not commit that batch).
//
// Checks run in the order of TigerBeetle's state machine (create_account / create_transfer /
// post_or_void_pending_transfer), so the first failing check names the result; the order is listed
// at createAccount / createTransfer / postOrVoid below.
//
// The state kept in memory is every account and every transfer (for idempotency and two-phase
// lookups). Queries over history (get_account_transfers, get_account_balances) are the store's.
import { InvariantViolationError, LedgerError } from '../errors';
import { type AccountEvent, accountEvents, checkNow, MAX_BATCH_EVENTS, type TransferEvent, transferEvents } from './batch-input';
import { ExpiryQueue } from './expiry-queue';
import { U128_MAX, U64_MAX } from './integers';
import { type Balances, checkAll, checkBatch, supplyOf, ZERO_BALANCES } from './invariants';
import type { CreateAccountResult, CreateTransferResult } from './results';
import {
  type Account,
  ACCOUNT_FLAGS_KNOWN,
  type AccountBalance,
  AccountFlags,
  type AccountInput,
  type LedgerChanges,
  type LedgerSnapshot,
  type PendingStatus,
  type PendingStatusChange,
  type Transfer,
  TRANSFER_FLAGS_KNOWN,
  TransferFlags,
  type TransferInput,
} from './types';

const NS_PER_SECOND = 1_000_000_000n;

const A_LINKED = AccountFlags.linked;
const A_DMNEC = AccountFlags.debitsMustNotExceedCredits;
const A_CMNED = AccountFlags.creditsMustNotExceedDebits;
const A_HISTORY = AccountFlags.history;
const A_MINT = AccountFlags.mint;
const A_BURN = AccountFlags.burn;
const T_PENDING = TransferFlags.pending;
const T_POST = TransferFlags.postPendingTransfer;
const T_VOID = TransferFlags.voidPendingTransfer;
const T_BAL_DEBIT = TransferFlags.balancingDebit;
const T_BAL_CREDIT = TransferFlags.balancingCredit;

/** An account as the ledger holds it: balances mutable, everything else fixed. */
interface AccountState {
  readonly id: bigint;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  readonly userData128: bigint;
  readonly userData64: bigint;
  readonly userData32: number;
  readonly ledger: number;
  readonly code: number;
  readonly flags: number;
  readonly timestamp: bigint;
}

interface TransferRecord {
  readonly transfer: Transfer;
  /** For transfers with the `pending` flag; null otherwise. */
  status: PendingStatus | null;
  /** When a pending transfer times out (ns); 0n = never. */
  readonly expiresAt: bigint;
  /** Timestamp of the post, void or expiry that resolved a pending transfer; 0n before. */
  resolvedAt: bigint;
}

/** What the current batch changed so far (the LedgerChanges it will return). */
interface BatchState {
  /** Balances of each touched account before the batch (ZERO_BALANCES if the batch created it). */
  readonly before: Map<bigint, Balances>;
  readonly transfers: Transfer[];
  readonly pendingTouched: Set<bigint>;
  readonly balances: AccountBalance[];
  readonly created: Set<bigint>;
}

export interface BatchOutcome<R extends string> {
  /** One result code per event, in order. */
  readonly results: R[];
  readonly changes: LedgerChanges;
}

export interface LedgerOptions {
  /** Most events per batch (default and maximum 8,190). */
  maxBatchEvents?: number;
}

export class Ledger {
  private readonly accounts = new Map<bigint, AccountState>();
  private readonly transfers = new Map<bigint, TransferRecord>();
  private readonly expiries = new ExpiryQueue();
  private last = 0n;
  private batch: BatchState | null = null;
  /** Undo actions of the linked chain being applied, newest last; null outside a chain. */
  private undo: (() => void)[] | null = null;
  private undoMarks = { transfers: 0, balances: 0 };
  private broken: InvariantViolationError | null = null;
  private readonly maxBatchEvents: number;

  constructor(options: LedgerOptions = {}) {
    const max = options.maxBatchEvents ?? MAX_BATCH_EVENTS;
    if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH_EVENTS) {
      throw new LedgerError('INVALID_ARGUMENT', `maxBatchEvents must be an integer in 1..${MAX_BATCH_EVENTS}, got ${max}`);
    }
    this.maxBatchEvents = max;
  }

  /**
   * Rebuilds a ledger from a stored state and verifies it: every transfer's accounts exist, every
   * account's balances equal the sum of its transfers, every pending transfer has a status, no
   * timestamp is past the ledger clock, and every invariant holds. Throws InvariantViolationError.
   */
  static restore(snapshot: LedgerSnapshot, options: LedgerOptions = {}): Ledger {
    const ledger = new Ledger(options);
    ledger.last = snapshot.lastTimestamp;
    const asOf = snapshot.balancesAsOf ?? snapshot.lastTimestamp;
    if (asOf > ledger.last) throw new InvariantViolationError('timestamps_not_after_clock', `balances are as of ${asOf}, after the ledger clock ${ledger.last}`);
    type Sums = { debitsPending: bigint; debitsPosted: bigint; creditsPending: bigint; creditsPosted: bigint };
    const zero = (): Sums => ({ debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n });
    // Per account: the sums of its transfers now, and as of `asOf` (to check the stored balances).
    const now = new Map<bigint, Sums>();
    const then = new Map<bigint, Sums>();
    const stored = new Map<bigint, Balances>();
    for (const a of snapshot.accounts) {
      if (a.timestamp > ledger.last) throw new InvariantViolationError('timestamps_not_after_clock', `account ${a.id} has timestamp ${a.timestamp} > ledger clock ${ledger.last}`);
      ledger.accounts.set(a.id, { ...a });
      stored.set(a.id, { debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted });
      now.set(a.id, zero());
      then.set(a.id, zero());
    }
    const add = (sums: Map<bigint, Sums>, t: Transfer, pending: boolean): void => {
      const dr = sums.get(t.debitAccountId)!;
      const cr = sums.get(t.creditAccountId)!;
      if (pending) {
        dr.debitsPending += t.amount;
        cr.creditsPending += t.amount;
      } else {
        dr.debitsPosted += t.amount;
        cr.creditsPosted += t.amount;
      }
    };
    for (const t of snapshot.transfers) {
      if (t.timestamp > ledger.last) throw new InvariantViolationError('timestamps_not_after_clock', `transfer ${t.id} has timestamp ${t.timestamp} > ledger clock ${ledger.last}`);
      if (!now.has(t.debitAccountId) || !now.has(t.creditAccountId)) throw new InvariantViolationError('balances_match_transfers', `transfer ${t.id} names an account that does not exist`);
      let status: PendingStatus | null = null;
      let expiresAt = 0n;
      let resolvedAt = 0n;
      const before = t.timestamp <= asOf;
      if (t.flags & T_PENDING) {
        const s = snapshot.pendingStatuses.get(t.id);
        if (s === undefined) throw new InvariantViolationError('balances_match_transfers', `pending transfer ${t.id} has no status`);
        status = s;
        resolvedAt = snapshot.resolvedAt?.get(t.id) ?? 0n;
        if (s !== 'pending' && resolvedAt > ledger.last) throw new InvariantViolationError('timestamps_not_after_clock', `pending transfer ${t.id} resolved at ${resolvedAt} > ledger clock ${ledger.last}`);
        expiresAt = t.timeout === 0 ? 0n : t.timestamp + BigInt(t.timeout) * NS_PER_SECOND;
        if (s === 'pending') {
          add(now, t, true);
          if (expiresAt !== 0n) ledger.expiries.push({ expiresAt, timestamp: t.timestamp, id: t.id });
        }
        // Pending as of `asOf` if created by then and not yet resolved then.
        if (before && (s === 'pending' || resolvedAt > asOf)) add(then, t, true);
      } else if (t.flags & T_POST || !(t.flags & T_VOID)) {
        add(now, t, false);
        if (before) add(then, t, false);
      }
      ledger.transfers.set(t.id, { transfer: { ...t }, status, expiresAt, resolvedAt });
    }
    for (const [id, s] of stored) {
      const c = then.get(id)!;
      if (s.debitsPending !== c.debitsPending || s.debitsPosted !== c.debitsPosted || s.creditsPending !== c.creditsPending || s.creditsPosted !== c.creditsPosted) {
        throw new InvariantViolationError('balances_match_transfers', `account ${id} stores balances ${fmt(s)} as of ${asOf} but its transfers sum to ${fmt(c)}`);
      }
      Object.assign(ledger.accounts.get(id)!, now.get(id)!);
    }
    checkAll(ledger.accounts.values());
    return ledger;
  }

  /** The ledger clock: the last timestamp assigned (ns). */
  get lastTimestamp(): bigint {
    return this.last;
  }

  get accountCount(): number {
    return this.accounts.size;
  }

  get transferCount(): number {
    return this.transfers.size;
  }

  createAccounts(events: readonly AccountInput[], now: bigint): BatchOutcome<CreateAccountResult> {
    this.usable();
    const normalized = accountEvents(events, this.maxBatchEvents);
    return this.runBatch(checkNow(now), normalized, (e, ts) => this.createAccount(e, ts));
  }

  createTransfers(events: readonly TransferInput[], now: bigint): BatchOutcome<CreateTransferResult> {
    this.usable();
    const normalized = transferEvents(events, this.maxBatchEvents);
    return this.runBatch(checkNow(now), normalized, (e, ts) => this.createTransfer(e, ts));
  }

  /** Expires every pending transfer whose timeout passed at `now` (also done by every batch). */
  expirePendingTransfers(now: bigint): LedgerChanges {
    this.usable();
    return this.runBatch(checkNow(now), [], () => 'ok' as const).changes;
  }

  /** When the next pending transfer times out (ns), if any is pending with a timeout. */
  nextExpiry(): bigint | undefined {
    for (;;) {
      const top = this.expiries.peek();
      if (!top) return undefined;
      const rec = this.transfers.get(top.id);
      if (rec && rec.status === 'pending' && rec.expiresAt === top.expiresAt) return top.expiresAt;
      this.expiries.pop();
    }
  }

  lookupAccount(id: bigint): Account | undefined {
    const a = this.accounts.get(id);
    return a ? { ...a } : undefined;
  }

  /** A copy, like lookupAccount: the stored record backs idempotency checks and must not be mutable by callers. */
  lookupTransfer(id: bigint): Transfer | undefined {
    const t = this.transfers.get(id)?.transfer;
    return t ? { ...t } : undefined;
  }

  /** Every transfer, in timestamp order (the order they were restored and applied). */
  *transfersInOrder(): IterableIterator<Transfer> {
    for (const r of this.transfers.values()) yield r.transfer;
  }

  /** The status of a transfer with the `pending` flag; undefined for others and unknown ids. */
  pendingStatus(id: bigint): PendingStatus | undefined {
    return this.transfers.get(id)?.status ?? undefined;
  }

  /** Every account (copies), in creation order. */
  allAccounts(): Account[] {
    return [...this.accounts.values()].map((a) => ({ ...a }));
  }

  /** Minted, burnt and circulating supply of one ledger (circulating = minted − burnt, always). */
  supply(ledger: number): { minted: bigint; burnt: bigint; circulating: bigint } {
    return supplyOf(this.accounts.values(), ledger);
  }

  /** Checks every invariant over every account (O(accounts)); throws InvariantViolationError. */
  verifyInvariants(): void {
    checkAll(this.accounts.values());
  }

  // ------------------------------------------------------------------ batches and linked chains

  private usable(): void {
    if (this.broken) throw new LedgerError('UNAVAILABLE', `the ledger stopped after an invariant violation: ${this.broken.message}`);
  }

  private tick(now: bigint): bigint {
    const next = this.last + 1n;
    this.last = next > now ? next : now;
    return this.last; // runBatch checked that the batch's timestamps fit in u64
  }

  private runBatch<E extends { readonly flags: number }, R extends string>(now: bigint, events: readonly E[], apply: (e: E, ts: bigint) => R | 'ok'): BatchOutcome<R> {
    // Every timestamp this batch can use (one per event and per expiry) must fit in u64: checked
    // before anything changes, so the clock can never run out in the middle of a batch.
    const first = this.last + 1n > now ? this.last + 1n : now;
    if (first + BigInt(events.length + this.expiries.size) > U64_MAX) {
      throw new LedgerError('INVALID_ARGUMENT', `now ${now} leaves no room for this batch's timestamps below 2^64`);
    }
    const batch: BatchState = { before: new Map(), transfers: [], pendingTouched: new Set(), balances: [], created: new Set() };
    this.batch = batch;
    try {
      this.expire(now);
      const results = new Array<R>(events.length);
      const n = events.length;
      let chainStart = -1;
      let chainFailed = false;
      for (let i = 0; i < n; i++) {
        const e = events[i]!;
        const ts = this.tick(now);
        const linked = (e.flags & A_LINKED) !== 0; // bit 0 is `linked` for accounts and transfers
        if (linked && chainStart < 0) {
          chainStart = i;
          chainFailed = false;
          this.undo = [];
          this.undoMarks = { transfers: batch.transfers.length, balances: batch.balances.length };
        }
        if (linked && i === n - 1) {
          results[i] = 'linked_event_chain_open' as R;
          chainFailed = true;
        } else if (chainStart >= 0 && chainFailed) {
          results[i] = 'linked_event_failed' as R;
        } else {
          const r = apply(e, ts) as R;
          results[i] = r;
          if (r !== 'ok' && chainStart >= 0) chainFailed = true;
        }
        if (chainStart >= 0 && (!linked || i === n - 1)) {
          if (chainFailed) {
            const undo = this.undo!;
            for (let u = undo.length - 1; u >= 0; u--) undo[u]!();
            batch.transfers.length = this.undoMarks.transfers;
            batch.balances.length = this.undoMarks.balances;
            for (let j = chainStart; j <= i; j++) if (results[j] === 'ok') results[j] = 'linked_event_failed' as R;
          }
          this.undo = null;
          chainStart = -1;
        }
      }
      return { results, changes: this.finishBatch(batch) };
    } finally {
      this.batch = null;
      this.undo = null;
    }
  }

  private finishBatch(batch: BatchState): LedgerChanges {
    const touched: Array<readonly [Account, Balances]> = [];
    const accounts: Account[] = [];
    for (const [id, before] of batch.before) {
      const a = this.accounts.get(id);
      if (!a) continue; // created by a chain that was rolled back
      touched.push([a, before]);
      accounts.push({ ...a });
    }
    try {
      checkBatch(touched);
    } catch (err) {
      if (err instanceof InvariantViolationError) this.broken = err;
      throw err;
    }
    const pendingStatuses: PendingStatusChange[] = [];
    for (const id of batch.pendingTouched) {
      const rec = this.transfers.get(id);
      if (rec?.status) pendingStatuses.push({ id, status: rec.status, resolvedAt: rec.resolvedAt });
    }
    const accountsCreated: Account[] = [];
    for (const id of batch.created) {
      const a = this.accounts.get(id);
      if (a) accountsCreated.push({ ...a, debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n });
    }
    return { accountsCreated, accounts, transfers: batch.transfers, pendingStatuses, balances: batch.balances, lastTimestamp: this.last };
  }

  /** Records an account's balances before its first change in this batch, and an undo step. */
  private touch(a: AccountState): void {
    const batch = this.batch!;
    if (!batch.before.has(a.id)) batch.before.set(a.id, { debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted });
    if (this.undo) {
      const { debitsPending, debitsPosted, creditsPending, creditsPosted } = a;
      this.undo.push(() => {
        a.debitsPending = debitsPending;
        a.debitsPosted = debitsPosted;
        a.creditsPending = creditsPending;
        a.creditsPosted = creditsPosted;
      });
    }
  }

  private recordHistory(a: AccountState, ts: bigint): void {
    if (a.flags & A_HISTORY) {
      this.batch!.balances.push({ accountId: a.id, timestamp: ts, debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted });
    }
  }

  private expire(now: bigint): void {
    for (;;) {
      const top = this.expiries.peek();
      if (!top || top.expiresAt > now) return;
      this.expiries.pop();
      const rec = this.transfers.get(top.id);
      if (!rec || rec.status !== 'pending' || rec.expiresAt !== top.expiresAt) continue;
      const ts = this.tick(now);
      const t = rec.transfer;
      const dr = this.accounts.get(t.debitAccountId)!;
      const cr = this.accounts.get(t.creditAccountId)!;
      this.touch(dr);
      this.touch(cr);
      dr.debitsPending -= t.amount;
      cr.creditsPending -= t.amount;
      rec.status = 'expired';
      rec.resolvedAt = ts;
      this.batch!.pendingTouched.add(t.id);
      this.recordHistory(dr, ts);
      this.recordHistory(cr, ts);
    }
  }

  // ------------------------------------------------------------------ accounts

  /**
   * Check order: reserved_flag, id_must_not_be_zero, id_must_not_be_int_max,
   * flags_are_mutually_exclusive, ledger_must_not_be_zero, code_must_not_be_zero, then for an
   * existing id: exists_with_different_{flags,user_data_128,user_data_64,user_data_32,ledger,code},
   * exists.
   */
  private createAccount(e: AccountEvent, ts: bigint): CreateAccountResult {
    const f = e.flags;
    if (f & ~ACCOUNT_FLAGS_KNOWN) return 'reserved_flag';
    if (e.id === 0n) return 'id_must_not_be_zero';
    if (e.id === U128_MAX) return 'id_must_not_be_int_max';
    if ((f & A_DMNEC && f & A_CMNED) || (f & A_MINT && f & A_BURN) || (f & A_MINT && f & A_DMNEC) || (f & A_BURN && f & A_CMNED)) {
      return 'flags_are_mutually_exclusive';
    }
    if (e.ledger === 0) return 'ledger_must_not_be_zero';
    if (e.code === 0) return 'code_must_not_be_zero';
    const x = this.accounts.get(e.id);
    if (x) {
      if (x.flags !== f) return 'exists_with_different_flags';
      if (x.userData128 !== e.userData128) return 'exists_with_different_user_data_128';
      if (x.userData64 !== e.userData64) return 'exists_with_different_user_data_64';
      if (x.userData32 !== e.userData32) return 'exists_with_different_user_data_32';
      if (x.ledger !== e.ledger) return 'exists_with_different_ledger';
      if (x.code !== e.code) return 'exists_with_different_code';
      return 'exists';
    }
    const a: AccountState = {
      id: e.id,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
      userData128: e.userData128,
      userData64: e.userData64,
      userData32: e.userData32,
      ledger: e.ledger,
      code: e.code,
      flags: f,
      timestamp: ts,
    };
    this.accounts.set(a.id, a);
    const batch = this.batch!;
    if (!batch.before.has(a.id)) batch.before.set(a.id, ZERO_BALANCES);
    batch.created.add(a.id);
    if (this.undo) this.undo.push(() => this.accounts.delete(a.id));
    return 'ok';
  }

  // ------------------------------------------------------------------ transfers

  /**
   * Check order: reserved_flag, id_must_not_be_zero, id_must_not_be_int_max,
   * flags_are_mutually_exclusive, then post/void go to postOrVoid. Otherwise:
   * debit_account_id_must_not_be_{zero,int_max}, credit_account_id_must_not_be_{zero,int_max},
   * accounts_must_be_different, pending_id_must_be_zero, timeout_reserved_for_pending_transfer,
   * ledger_must_not_be_zero, code_must_not_be_zero, amount_must_not_be_zero,
   * debit_account_not_found, credit_account_not_found, accounts_must_have_the_same_ledger,
   * transfer_must_have_the_same_ledger_as_accounts, exists_with_different_* / exists,
   * mint_account_must_not_be_credited, burn_account_must_not_be_debited, (balancing: the amount
   * shrinks to what fits; nothing fits → exceeds_credits / exceeds_debits), overflows_debits_pending
   * / overflows_credits_pending (pending) or overflows_debits_posted / overflows_credits_posted,
   * overflows_debits, overflows_credits, overflows_timeout, exceeds_credits, exceeds_debits.
   */
  private createTransfer(t: TransferEvent, ts: bigint): CreateTransferResult {
    const f = t.flags;
    if (f & ~TRANSFER_FLAGS_KNOWN) return 'reserved_flag';
    if (t.id === 0n) return 'id_must_not_be_zero';
    if (t.id === U128_MAX) return 'id_must_not_be_int_max';
    const kinds = (f & T_PENDING ? 1 : 0) + (f & T_POST ? 1 : 0) + (f & T_VOID ? 1 : 0);
    if (kinds > 1 || (f & (T_BAL_DEBIT | T_BAL_CREDIT) && f & (T_POST | T_VOID))) return 'flags_are_mutually_exclusive';
    if (f & (T_POST | T_VOID)) return this.postOrVoid(t, ts);

    if (t.debitAccountId === 0n) return 'debit_account_id_must_not_be_zero';
    if (t.debitAccountId === U128_MAX) return 'debit_account_id_must_not_be_int_max';
    if (t.creditAccountId === 0n) return 'credit_account_id_must_not_be_zero';
    if (t.creditAccountId === U128_MAX) return 'credit_account_id_must_not_be_int_max';
    if (t.debitAccountId === t.creditAccountId) return 'accounts_must_be_different';
    if (t.pendingId !== 0n) return 'pending_id_must_be_zero';
    const pending = (f & T_PENDING) !== 0;
    if (!pending && t.timeout !== 0) return 'timeout_reserved_for_pending_transfer';
    if (t.ledger === 0) return 'ledger_must_not_be_zero';
    if (t.code === 0) return 'code_must_not_be_zero';
    if (t.amount === 0n) return 'amount_must_not_be_zero';
    const dr = this.accounts.get(t.debitAccountId);
    if (!dr) return 'debit_account_not_found';
    const cr = this.accounts.get(t.creditAccountId);
    if (!cr) return 'credit_account_not_found';
    if (dr.ledger !== cr.ledger) return 'accounts_must_have_the_same_ledger';
    if (t.ledger !== dr.ledger) return 'transfer_must_have_the_same_ledger_as_accounts';
    const existing = this.transfers.get(t.id);
    if (existing) return transferExists(t, existing.transfer);
    if (cr.flags & A_MINT) return 'mint_account_must_not_be_credited';
    if (dr.flags & A_BURN) return 'burn_account_must_not_be_debited';

    let amount = t.amount;
    if (f & T_BAL_DEBIT) {
      const room = dr.creditsPosted - dr.debitsPending - dr.debitsPosted;
      amount = room <= 0n ? 0n : room < amount ? room : amount;
      if (amount === 0n) return 'exceeds_credits';
    }
    if (f & T_BAL_CREDIT) {
      const room = cr.debitsPosted - cr.creditsPending - cr.creditsPosted;
      amount = room <= 0n ? 0n : room < amount ? room : amount;
      if (amount === 0n) return 'exceeds_debits';
    }
    // Each sum is computed once and reused by the checks and the update (every bigint sum allocates).
    const drBalance = pending ? dr.debitsPending + amount : dr.debitsPosted + amount;
    const crBalance = pending ? cr.creditsPending + amount : cr.creditsPosted + amount;
    if (drBalance > U128_MAX) return pending ? 'overflows_debits_pending' : 'overflows_debits_posted';
    if (crBalance > U128_MAX) return pending ? 'overflows_credits_pending' : 'overflows_credits_posted';
    const drDebits = drBalance + (pending ? dr.debitsPosted : dr.debitsPending);
    const crCredits = crBalance + (pending ? cr.creditsPosted : cr.creditsPending);
    if (drDebits > U128_MAX) return 'overflows_debits';
    if (crCredits > U128_MAX) return 'overflows_credits';
    const expiresAt = pending && t.timeout !== 0 ? ts + BigInt(t.timeout) * NS_PER_SECOND : 0n;
    if (expiresAt > U64_MAX) return 'overflows_timeout';
    if (dr.flags & A_DMNEC && drDebits > dr.creditsPosted) return 'exceeds_credits';
    if (cr.flags & A_CMNED && crCredits > cr.debitsPosted) return 'exceeds_debits';

    this.touch(dr);
    this.touch(cr);
    if (pending) {
      dr.debitsPending = drBalance;
      cr.creditsPending = crBalance;
    } else {
      dr.debitsPosted = drBalance;
      cr.creditsPosted = crBalance;
    }
    const transfer: Transfer = {
      id: t.id,
      debitAccountId: t.debitAccountId,
      creditAccountId: t.creditAccountId,
      amount,
      pendingId: 0n,
      userData128: t.userData128,
      userData64: t.userData64,
      userData32: t.userData32,
      timeout: t.timeout,
      ledger: t.ledger,
      code: t.code,
      flags: f,
      timestamp: ts,
    };
    this.insertTransfer({ transfer, status: pending ? 'pending' : null, expiresAt, resolvedAt: 0n });
    if (expiresAt !== 0n) this.expiries.push({ expiresAt, timestamp: ts, id: t.id });
    this.recordHistory(dr, ts);
    this.recordHistory(cr, ts);
    return 'ok';
  }

  /**
   * Check order: pending_id_must_not_be_zero, pending_id_must_not_be_int_max,
   * pending_id_must_be_different, timeout_reserved_for_pending_transfer,
   * pending_transfer_not_found, pending_transfer_not_pending,
   * pending_transfer_has_different_{debit_account_id,credit_account_id,ledger,code} (each only
   * when given, i.e. non-zero), exceeds_pending_transfer_amount (post of more than pending),
   * pending_transfer_has_different_amount (void of another non-zero amount), exists_* / exists,
   * pending_transfer_already_posted, pending_transfer_already_voided, pending_transfer_expired,
   * overflows_debits_posted, overflows_credits_posted.
   * Fields left 0 are taken from the pending transfer; a post of amount 0 posts the full amount.
   */
  private postOrVoid(t: TransferEvent, ts: bigint): CreateTransferResult {
    if (t.pendingId === 0n) return 'pending_id_must_not_be_zero';
    if (t.pendingId === U128_MAX) return 'pending_id_must_not_be_int_max';
    if (t.pendingId === t.id) return 'pending_id_must_be_different';
    if (t.timeout !== 0) return 'timeout_reserved_for_pending_transfer';
    const pr = this.transfers.get(t.pendingId);
    if (!pr) return 'pending_transfer_not_found';
    const p = pr.transfer;
    if (!(p.flags & T_PENDING)) return 'pending_transfer_not_pending';
    if (t.debitAccountId !== 0n && t.debitAccountId !== p.debitAccountId) return 'pending_transfer_has_different_debit_account_id';
    if (t.creditAccountId !== 0n && t.creditAccountId !== p.creditAccountId) return 'pending_transfer_has_different_credit_account_id';
    if (t.ledger !== 0 && t.ledger !== p.ledger) return 'pending_transfer_has_different_ledger';
    if (t.code !== 0 && t.code !== p.code) return 'pending_transfer_has_different_code';
    const post = (t.flags & T_POST) !== 0;
    const amount = t.amount === 0n ? p.amount : t.amount;
    if (amount > p.amount) return 'exceeds_pending_transfer_amount';
    if (!post && amount < p.amount) return 'pending_transfer_has_different_amount';
    const existing = this.transfers.get(t.id);
    if (existing) return postOrVoidExists(t, existing.transfer);
    if (pr.status === 'posted') return 'pending_transfer_already_posted';
    if (pr.status === 'voided') return 'pending_transfer_already_voided';
    if (pr.status === 'expired' || (pr.expiresAt !== 0n && pr.expiresAt <= ts)) return 'pending_transfer_expired';
    const dr = this.accounts.get(p.debitAccountId)!;
    const cr = this.accounts.get(p.creditAccountId)!;
    if (post) {
      if (dr.debitsPosted + amount > U128_MAX) return 'overflows_debits_posted';
      if (cr.creditsPosted + amount > U128_MAX) return 'overflows_credits_posted';
    }

    this.touch(dr);
    this.touch(cr);
    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    if (post) {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
    }
    const transfer: Transfer = {
      id: t.id,
      debitAccountId: p.debitAccountId,
      creditAccountId: p.creditAccountId,
      amount,
      pendingId: t.pendingId,
      userData128: t.userData128 !== 0n ? t.userData128 : p.userData128,
      userData64: t.userData64 !== 0n ? t.userData64 : p.userData64,
      userData32: t.userData32 !== 0 ? t.userData32 : p.userData32,
      timeout: 0,
      ledger: p.ledger,
      code: p.code,
      flags: t.flags,
      timestamp: ts,
    };
    this.insertTransfer({ transfer, status: null, expiresAt: 0n, resolvedAt: 0n });
    pr.status = post ? 'posted' : 'voided';
    pr.resolvedAt = ts;
    this.batch!.pendingTouched.add(p.id);
    if (this.undo) {
      this.undo.push(() => {
        pr.status = 'pending';
        pr.resolvedAt = 0n;
      });
    }
    this.recordHistory(dr, ts);
    this.recordHistory(cr, ts);
    return 'ok';
  }

  private insertTransfer(rec: TransferRecord): void {
    const id = rec.transfer.id;
    this.transfers.set(id, rec);
    this.batch!.transfers.push(rec.transfer);
    if (rec.status) this.batch!.pendingTouched.add(id);
    if (this.undo) this.undo.push(() => this.transfers.delete(id));
  }
}

/** Resubmission of a stored (non post/void) transfer id: which field differs, if any. */
function transferExists(t: TransferEvent, e: Transfer): CreateTransferResult {
  if (t.flags !== e.flags) return 'exists_with_different_flags';
  if (t.debitAccountId !== e.debitAccountId) return 'exists_with_different_debit_account_id';
  if (t.creditAccountId !== e.creditAccountId) return 'exists_with_different_credit_account_id';
  // A balancing transfer's amount is a ceiling: any ceiling at least what was moved matches.
  if (t.flags & (T_BAL_DEBIT | T_BAL_CREDIT) ? t.amount < e.amount : t.amount !== e.amount) return 'exists_with_different_amount';
  if (t.pendingId !== e.pendingId) return 'exists_with_different_pending_id';
  if (t.timeout !== e.timeout) return 'exists_with_different_timeout';
  if (t.userData128 !== e.userData128) return 'exists_with_different_user_data_128';
  if (t.userData64 !== e.userData64) return 'exists_with_different_user_data_64';
  if (t.userData32 !== e.userData32) return 'exists_with_different_user_data_32';
  if (t.ledger !== e.ledger) return 'exists_with_different_ledger';
  if (t.code !== e.code) return 'exists_with_different_code';
  return 'exists';
}

/** Resubmission of a stored post/void id: fields left 0 were inherited and match anything. */
function postOrVoidExists(t: TransferEvent, e: Transfer): CreateTransferResult {
  if (t.flags !== e.flags) return 'exists_with_different_flags';
  if (t.pendingId !== e.pendingId) return 'exists_with_different_pending_id';
  if (t.debitAccountId !== 0n && t.debitAccountId !== e.debitAccountId) return 'exists_with_different_debit_account_id';
  if (t.creditAccountId !== 0n && t.creditAccountId !== e.creditAccountId) return 'exists_with_different_credit_account_id';
  if (t.amount !== 0n && t.amount !== e.amount) return 'exists_with_different_amount';
  if (t.userData128 !== 0n && t.userData128 !== e.userData128) return 'exists_with_different_user_data_128';
  if (t.userData64 !== 0n && t.userData64 !== e.userData64) return 'exists_with_different_user_data_64';
  if (t.userData32 !== 0 && t.userData32 !== e.userData32) return 'exists_with_different_user_data_32';
  if (t.ledger !== 0 && t.ledger !== e.ledger) return 'exists_with_different_ledger';
  if (t.code !== 0 && t.code !== e.code) return 'exists_with_different_code';
  return 'exists';
}

function fmt(b: Balances): string {
  return `(debits ${b.debitsPending} pending / ${b.debitsPosted} posted, credits ${b.creditsPending} pending / ${b.creditsPosted} posted)`;
}

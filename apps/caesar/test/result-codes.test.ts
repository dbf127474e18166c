// One scenario per result code (accounts and transfers), each on a fresh ledger: the event gets
// exactly its code, and a failing event changes nothing. A final check makes sure every code in
// CREATE_ACCOUNT_RESULTS / CREATE_TRANSFER_RESULTS has a scenario here (or is listed unreachable).
import {
  AccountFlags,
  type AccountInput,
  CREATE_ACCOUNT_RESULTS,
  CREATE_TRANSFER_RESULTS,
  type CreateAccountResult,
  type CreateTransferResult,
  Ledger,
  TransferFlags,
  type TransferInput,
  U128_MAX,
  U64_MAX,
} from '../src';

const T0 = 1_700_000_000_000_000_000n;
const SECOND = 1_000_000_000n;
const { linked, pending, postPendingTransfer: post, voidPendingTransfer: voidPending, balancingDebit, balancingCredit } = TransferFlags;

const ACCOUNTS: AccountInput[] = [
  { id: 1n, ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits | AccountFlags.history },
  { id: 2n, ledger: 1, code: 1 },
  { id: 3n, ledger: 1, code: 1, flags: AccountFlags.creditsMustNotExceedDebits },
  { id: 4n, ledger: 2, code: 1 },
  { id: 5n, ledger: 2, code: 1 },
  { id: 6n, ledger: 1, code: 1 },
  { id: 7n, ledger: 1, code: 1 },
  { id: 8n, ledger: 1, code: 1 },
  { id: 100n, ledger: 1, code: 1, flags: AccountFlags.mint },
  { id: 101n, ledger: 1, code: 1, flags: AccountFlags.burn },
];

// Transfers every scenario starts from: 1 holds 1000; pending 2000 (100, no timeout), pending 2001
// (50, 1 s timeout), 2002 posted by 2003, 2004 voided by 2005.
const FUNDING: TransferInput = { id: 1000n, debitAccountId: 100n, creditAccountId: 1n, amount: 1000n, ledger: 1, code: 1 };
const SETUP: TransferInput[] = [
  FUNDING,
  { id: 2000n, debitAccountId: 1n, creditAccountId: 2n, amount: 100n, ledger: 1, code: 1, flags: pending },
  { id: 2001n, debitAccountId: 1n, creditAccountId: 2n, amount: 50n, ledger: 1, code: 1, flags: pending, timeout: 1 },
  { id: 2002n, debitAccountId: 1n, creditAccountId: 2n, amount: 10n, ledger: 1, code: 1, flags: pending },
  { id: 2003n, pendingId: 2002n, flags: post },
  { id: 2004n, debitAccountId: 1n, creditAccountId: 2n, amount: 10n, ledger: 1, code: 1, flags: pending },
  { id: 2005n, pendingId: 2004n, flags: voidPending },
];

function setup(now = T0): Ledger {
  const ledger = new Ledger();
  expect(ledger.createAccounts(ACCOUNTS, now).results.every((r) => r === 'ok')).toBe(true);
  expect(ledger.createTransfers(SETUP, now).results.every((r) => r === 'ok')).toBe(true);
  return ledger;
}

const base = { debitAccountId: 100n, creditAccountId: 2n, amount: 5n, ledger: 1, code: 1 };
const big = U128_MAX - 10n;

interface TransferCase {
  /** Transfers applied (and expected ok) before the checked batch. */
  before?: TransferInput[];
  /** The checked batch. */
  batch: TransferInput[];
  expect: CreateTransferResult[];
  /** Offset of the checked batch's `now` from T0. */
  at?: bigint;
  /** `now` of the whole scenario (setup included), when it must be special. */
  start?: bigint;
}

const TRANSFER_CASES: Record<string, TransferCase> = {
  ok: { batch: [{ id: 1n, ...base }], expect: ['ok'] },
  linked_event_failed: { batch: [{ id: 1n, ...base, flags: linked }, { id: 2n, ...base, debitAccountId: 2n, creditAccountId: 100n }], expect: ['linked_event_failed', 'mint_account_must_not_be_credited'] },
  linked_event_chain_open: { batch: [{ id: 1n, ...base }, { id: 2n, ...base, flags: linked }], expect: ['ok', 'linked_event_chain_open'] },
  reserved_flag: { batch: [{ id: 1n, ...base, flags: 1 << 10 }], expect: ['reserved_flag'] },
  id_must_not_be_zero: { batch: [{ ...base, id: 0n }], expect: ['id_must_not_be_zero'] },
  id_must_not_be_int_max: { batch: [{ ...base, id: U128_MAX }], expect: ['id_must_not_be_int_max'] },
  flags_are_mutually_exclusive: { batch: [{ id: 1n, ...base, flags: pending | post }, { id: 2n, pendingId: 2000n, flags: post | balancingDebit }], expect: ['flags_are_mutually_exclusive', 'flags_are_mutually_exclusive'] },
  debit_account_id_must_not_be_zero: { batch: [{ id: 1n, ...base, debitAccountId: 0n }], expect: ['debit_account_id_must_not_be_zero'] },
  debit_account_id_must_not_be_int_max: { batch: [{ id: 1n, ...base, debitAccountId: U128_MAX }], expect: ['debit_account_id_must_not_be_int_max'] },
  credit_account_id_must_not_be_zero: { batch: [{ id: 1n, ...base, creditAccountId: 0n }], expect: ['credit_account_id_must_not_be_zero'] },
  credit_account_id_must_not_be_int_max: { batch: [{ id: 1n, ...base, creditAccountId: U128_MAX }], expect: ['credit_account_id_must_not_be_int_max'] },
  accounts_must_be_different: { batch: [{ id: 1n, ...base, creditAccountId: 100n, debitAccountId: 100n }], expect: ['accounts_must_be_different'] },
  pending_id_must_be_zero: { batch: [{ id: 1n, ...base, pendingId: 2000n }], expect: ['pending_id_must_be_zero'] },
  pending_id_must_not_be_zero: { batch: [{ id: 1n, flags: post }], expect: ['pending_id_must_not_be_zero'] },
  pending_id_must_not_be_int_max: { batch: [{ id: 1n, pendingId: U128_MAX, flags: voidPending }], expect: ['pending_id_must_not_be_int_max'] },
  pending_id_must_be_different: { batch: [{ id: 7n, pendingId: 7n, flags: post }], expect: ['pending_id_must_be_different'] },
  timeout_reserved_for_pending_transfer: { batch: [{ id: 1n, ...base, timeout: 1 }, { id: 2n, pendingId: 2000n, flags: post, timeout: 1 }], expect: ['timeout_reserved_for_pending_transfer', 'timeout_reserved_for_pending_transfer'] },
  ledger_must_not_be_zero: { batch: [{ id: 1n, ...base, ledger: 0 }], expect: ['ledger_must_not_be_zero'] },
  code_must_not_be_zero: { batch: [{ id: 1n, ...base, code: 0 }], expect: ['code_must_not_be_zero'] },
  amount_must_not_be_zero: { batch: [{ id: 1n, ...base, amount: 0n }], expect: ['amount_must_not_be_zero'] },
  debit_account_not_found: { batch: [{ id: 1n, ...base, debitAccountId: 999n }], expect: ['debit_account_not_found'] },
  credit_account_not_found: { batch: [{ id: 1n, ...base, creditAccountId: 999n }], expect: ['credit_account_not_found'] },
  accounts_must_have_the_same_ledger: { batch: [{ id: 1n, ...base, creditAccountId: 4n }], expect: ['accounts_must_have_the_same_ledger'] },
  transfer_must_have_the_same_ledger_as_accounts: { batch: [{ id: 1n, ...base, debitAccountId: 4n, creditAccountId: 5n }], expect: ['transfer_must_have_the_same_ledger_as_accounts'] },
  pending_transfer_not_found: { batch: [{ id: 1n, pendingId: 999n, flags: post }], expect: ['pending_transfer_not_found'] },
  pending_transfer_not_pending: { batch: [{ id: 1n, pendingId: 1000n, flags: post }], expect: ['pending_transfer_not_pending'] },
  pending_transfer_has_different_debit_account_id: { batch: [{ id: 1n, pendingId: 2000n, debitAccountId: 3n, flags: post }], expect: ['pending_transfer_has_different_debit_account_id'] },
  pending_transfer_has_different_credit_account_id: { batch: [{ id: 1n, pendingId: 2000n, creditAccountId: 3n, flags: post }], expect: ['pending_transfer_has_different_credit_account_id'] },
  pending_transfer_has_different_ledger: { batch: [{ id: 1n, pendingId: 2000n, ledger: 2, flags: post }], expect: ['pending_transfer_has_different_ledger'] },
  pending_transfer_has_different_code: { batch: [{ id: 1n, pendingId: 2000n, code: 9, flags: voidPending }], expect: ['pending_transfer_has_different_code'] },
  exceeds_pending_transfer_amount: { batch: [{ id: 1n, pendingId: 2000n, amount: 101n, flags: post }], expect: ['exceeds_pending_transfer_amount'] },
  pending_transfer_has_different_amount: { batch: [{ id: 1n, pendingId: 2000n, amount: 99n, flags: voidPending }], expect: ['pending_transfer_has_different_amount'] },
  exists_with_different_flags: { batch: [{ ...FUNDING, flags: pending }], expect: ['exists_with_different_flags'] },
  exists_with_different_pending_id: { batch: [{ id: 2003n, pendingId: 2000n, flags: post }], expect: ['exists_with_different_pending_id'] },
  exists_with_different_timeout: { batch: [{ ...SETUP[2]!, timeout: 2 }], expect: ['exists_with_different_timeout'] },
  exists_with_different_debit_account_id: { batch: [{ ...FUNDING, debitAccountId: 2n }], expect: ['exists_with_different_debit_account_id'] },
  exists_with_different_credit_account_id: { batch: [{ ...FUNDING, creditAccountId: 2n }], expect: ['exists_with_different_credit_account_id'] },
  exists_with_different_amount: { batch: [{ ...FUNDING, amount: 999n }, { id: 2003n, pendingId: 2002n, amount: 9n, flags: post }], expect: ['exists_with_different_amount', 'exists_with_different_amount'] },
  exists_with_different_user_data_128: { batch: [{ ...FUNDING, userData128: 1n }], expect: ['exists_with_different_user_data_128'] },
  exists_with_different_user_data_64: { batch: [{ ...FUNDING, userData64: 1n }], expect: ['exists_with_different_user_data_64'] },
  exists_with_different_user_data_32: { batch: [{ id: 2003n, pendingId: 2002n, userData32: 5, flags: post }], expect: ['exists_with_different_user_data_32'] },
  exists_with_different_code: { batch: [{ ...FUNDING, code: 2 }], expect: ['exists_with_different_code'] },
  exists: { batch: [FUNDING, { id: 2003n, pendingId: 2002n, flags: post }, { id: 2003n, pendingId: 2002n, amount: 10n, debitAccountId: 1n, flags: post }], expect: ['exists', 'exists', 'exists'] },
  pending_transfer_already_posted: { batch: [{ id: 1n, pendingId: 2002n, flags: voidPending }], expect: ['pending_transfer_already_posted'] },
  pending_transfer_already_voided: { batch: [{ id: 1n, pendingId: 2004n, flags: post }], expect: ['pending_transfer_already_voided'] },
  pending_transfer_expired: {
    // 2001 expired (and was released) by the time of this batch.
    batch: [{ id: 1n, pendingId: 2001n, flags: post }],
    expect: ['pending_transfer_expired'],
    at: 2n * SECOND,
  },
  mint_account_must_not_be_credited: { batch: [{ id: 1n, ...base, debitAccountId: 2n, creditAccountId: 100n }], expect: ['mint_account_must_not_be_credited'] },
  burn_account_must_not_be_debited: { batch: [{ id: 1n, ...base, debitAccountId: 101n }], expect: ['burn_account_must_not_be_debited'] },
  // Accounts 7 and 8 are untouched by the setup; 8 → 7 carries a near-maximal amount first.
  overflows_debits_pending: { before: [{ id: 1n, ...base, debitAccountId: 8n, creditAccountId: 7n, amount: big, flags: pending }], batch: [{ id: 2n, ...base, debitAccountId: 8n, creditAccountId: 6n, amount: 20n, flags: pending }], expect: ['overflows_debits_pending'] },
  overflows_credits_pending: { before: [{ id: 1n, ...base, debitAccountId: 8n, creditAccountId: 7n, amount: big, flags: pending }], batch: [{ id: 2n, ...base, debitAccountId: 6n, creditAccountId: 7n, amount: 20n, flags: pending }], expect: ['overflows_credits_pending'] },
  overflows_debits_posted: { before: [{ id: 1n, ...base, debitAccountId: 8n, creditAccountId: 7n, amount: big }], batch: [{ id: 2n, ...base, debitAccountId: 8n, creditAccountId: 6n, amount: 20n }, { id: 3n, pendingId: 2000n, flags: post }], expect: ['overflows_debits_posted', 'ok'] },
  overflows_credits_posted: { before: [{ id: 1n, ...base, debitAccountId: 8n, creditAccountId: 7n, amount: big }], batch: [{ id: 2n, ...base, debitAccountId: 6n, creditAccountId: 7n, amount: 20n }], expect: ['overflows_credits_posted'] },
  overflows_debits: { before: [{ id: 1n, ...base, debitAccountId: 8n, creditAccountId: 7n, amount: big, flags: pending }], batch: [{ id: 2n, ...base, debitAccountId: 8n, creditAccountId: 6n, amount: 20n }], expect: ['overflows_debits'] },
  overflows_credits: { before: [{ id: 1n, ...base, debitAccountId: 8n, creditAccountId: 7n, amount: big, flags: pending }], batch: [{ id: 2n, ...base, debitAccountId: 6n, creditAccountId: 7n, amount: 20n }], expect: ['overflows_credits'] },
  overflows_timeout: { start: U64_MAX - 1000n * SECOND, batch: [{ id: 1n, ...base, flags: pending, timeout: 0xffff_ffff }], expect: ['overflows_timeout'] },
  // Account 1: 1000 credited; 100 + 50 pending and 10 posted debits → 840 left.
  exceeds_credits: { batch: [{ id: 1n, ...base, debitAccountId: 1n, amount: 841n }, { id: 2n, ...base, debitAccountId: 1n, amount: 840n, flags: pending }, { id: 3n, ...base, debitAccountId: 1n, amount: 5n }], expect: ['exceeds_credits', 'ok', 'exceeds_credits'] },
  exceeds_debits: { batch: [{ id: 1n, ...base, creditAccountId: 3n }], expect: ['exceeds_debits'] },
};

/** Codes no event can get with this check order (kept in the list for the wire format). */
const UNREACHABLE_TRANSFER_RESULTS = new Set<CreateTransferResult>([
  // A transfer's ledger must equal its accounts' (checked before the exists check), and a
  // post/void's non-zero ledger must equal the pending transfer's, so a stored transfer with the
  // same accounts always has the same ledger.
  'exists_with_different_ledger',
]);

describe('create_transfers result codes', () => {
  for (const [code, c] of Object.entries(TRANSFER_CASES)) {
    test(code, () => {
      const start = c.start ?? T0;
      const ledger = setup(start);
      if (c.before) expect(ledger.createTransfers(c.before, start).results).toEqual(c.before.map(() => 'ok'));
      const now = start + (c.at ?? 0n);
      ledger.expirePendingTransfers(now);
      const accounts = ledger.allAccounts();
      const transfers = ledger.transferCount;
      const { results, changes } = ledger.createTransfers(c.batch, now);
      expect(results).toEqual(c.expect);
      if (results.every((r) => r !== 'ok')) {
        // Nothing changed: no account, no transfer, no history row.
        expect(ledger.allAccounts()).toEqual(accounts);
        expect(ledger.transferCount).toBe(transfers);
        expect(changes.transfers).toEqual([]);
        expect(changes.balances).toEqual([]);
      }
      ledger.verifyInvariants();
    });
  }
});

describe('create_accounts result codes', () => {
  const existing: AccountInput = { id: 1n, ledger: 1, code: 1, flags: AccountFlags.history, userData128: 7n, userData64: 8n, userData32: 9 };
  const cases: Record<string, { batch: AccountInput[]; expect: CreateAccountResult[] }> = {
    ok: { batch: [{ id: 2n, ledger: 1, code: 1 }], expect: ['ok'] },
    linked_event_failed: { batch: [{ id: 2n, ledger: 1, code: 1, flags: AccountFlags.linked }, { id: 3n, ledger: 0, code: 1 }], expect: ['linked_event_failed', 'ledger_must_not_be_zero'] },
    linked_event_chain_open: { batch: [{ id: 2n, ledger: 1, code: 1, flags: AccountFlags.linked }], expect: ['linked_event_chain_open'] },
    reserved_flag: { batch: [{ id: 2n, ledger: 1, code: 1, flags: 1 << 9 }], expect: ['reserved_flag'] },
    id_must_not_be_zero: { batch: [{ id: 0n, ledger: 1, code: 1 }], expect: ['id_must_not_be_zero'] },
    id_must_not_be_int_max: { batch: [{ id: U128_MAX, ledger: 1, code: 1 }], expect: ['id_must_not_be_int_max'] },
    flags_are_mutually_exclusive: {
      batch: [
        { id: 2n, ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits | AccountFlags.creditsMustNotExceedDebits },
        { id: 3n, ledger: 1, code: 1, flags: AccountFlags.mint | AccountFlags.burn },
        { id: 4n, ledger: 1, code: 1, flags: AccountFlags.mint | AccountFlags.debitsMustNotExceedCredits },
        { id: 5n, ledger: 1, code: 1, flags: AccountFlags.burn | AccountFlags.creditsMustNotExceedDebits },
      ],
      expect: ['flags_are_mutually_exclusive', 'flags_are_mutually_exclusive', 'flags_are_mutually_exclusive', 'flags_are_mutually_exclusive'],
    },
    ledger_must_not_be_zero: { batch: [{ id: 2n, ledger: 0, code: 1 }], expect: ['ledger_must_not_be_zero'] },
    code_must_not_be_zero: { batch: [{ id: 2n, ledger: 1, code: 0 }], expect: ['code_must_not_be_zero'] },
    exists_with_different_flags: { batch: [{ ...existing, flags: 0 }], expect: ['exists_with_different_flags'] },
    exists_with_different_user_data_128: { batch: [{ ...existing, userData128: 0n }], expect: ['exists_with_different_user_data_128'] },
    exists_with_different_user_data_64: { batch: [{ ...existing, userData64: 0n }], expect: ['exists_with_different_user_data_64'] },
    exists_with_different_user_data_32: { batch: [{ ...existing, userData32: 0 }], expect: ['exists_with_different_user_data_32'] },
    exists_with_different_ledger: { batch: [{ ...existing, ledger: 2 }], expect: ['exists_with_different_ledger'] },
    exists_with_different_code: { batch: [{ ...existing, code: 2 }], expect: ['exists_with_different_code'] },
    exists: { batch: [existing, { id: 2n, ledger: 1, code: 1 }, { id: 2n, ledger: 1, code: 1 }], expect: ['exists', 'ok', 'exists'] },
  };
  for (const [code, c] of Object.entries(cases)) {
    test(code, () => {
      const ledger = new Ledger();
      expect(ledger.createAccounts([existing], T0).results).toEqual(['ok']);
      const before = ledger.allAccounts();
      const { results } = ledger.createAccounts(c.batch, T0 + 1n);
      expect(results).toEqual(c.expect);
      if (results.every((r) => r !== 'ok')) expect(ledger.allAccounts()).toEqual(before);
    });
  }

  test('every result code has a scenario', () => {
    expect(Object.keys(cases).sort()).toEqual([...CREATE_ACCOUNT_RESULTS].sort());
    expect([...Object.keys(TRANSFER_CASES), ...UNREACHABLE_TRANSFER_RESULTS].sort()).toEqual([...CREATE_TRANSFER_RESULTS].sort());
  });
});

describe('transfer semantics', () => {
  test('balancing transfers move what fits; the stored amount is what moved', () => {
    const ledger = setup();
    // Account 1: 1000 credited; 100 + 50 pending and 10 posted debits → 840 available.
    const { results } = ledger.createTransfers(
      [
        { id: 1n, debitAccountId: 1n, creditAccountId: 2n, amount: U128_MAX, ledger: 1, code: 1, flags: balancingDebit },
        { id: 2n, debitAccountId: 1n, creditAccountId: 2n, amount: 1n, ledger: 1, code: 1, flags: balancingDebit },
        { id: 3n, debitAccountId: 100n, creditAccountId: 3n, amount: 5n, ledger: 1, code: 1, flags: balancingCredit },
      ],
      T0,
    );
    expect(results).toEqual(['ok', 'exceeds_credits', 'exceeds_debits']);
    expect(ledger.lookupTransfer(1n)!.amount).toBe(840n);
    // Resubmitting with any ceiling ≥ what moved is the same transfer.
    expect(ledger.createTransfers([{ id: 1n, debitAccountId: 1n, creditAccountId: 2n, amount: 900n, ledger: 1, code: 1, flags: balancingDebit }], T0).results).toEqual(['exists']);
    expect(ledger.createTransfers([{ id: 1n, debitAccountId: 1n, creditAccountId: 2n, amount: 839n, ledger: 1, code: 1, flags: balancingDebit }], T0).results).toEqual(['exists_with_different_amount']);
  });

  test('posting part of a pending transfer releases the rest; fields left 0 are inherited', () => {
    const ledger = setup();
    const before = ledger.lookupAccount(1n)!;
    expect(ledger.createTransfers([{ id: 1n, pendingId: 2000n, amount: 30n, userData32: 4, flags: post }], T0).results).toEqual(['ok']);
    const after = ledger.lookupAccount(1n)!;
    expect(after.debitsPending).toBe(before.debitsPending - 100n);
    expect(after.debitsPosted).toBe(before.debitsPosted + 30n);
    expect(ledger.lookupTransfer(1n)).toMatchObject({ debitAccountId: 1n, creditAccountId: 2n, amount: 30n, ledger: 1, code: 1, userData32: 4, pendingId: 2000n });
    expect(ledger.pendingStatus(2000n)).toBe('posted');
  });

  test('a failed linked chain leaves no trace, not even in history or the change set', () => {
    const ledger = setup();
    const accounts = ledger.allAccounts();
    const { results, changes } = ledger.createTransfers(
      [
        { id: 1n, debitAccountId: 100n, creditAccountId: 1n, amount: 5n, ledger: 1, code: 1, flags: linked },
        { id: 2n, pendingId: 2000n, flags: post | linked },
        { id: 3n, debitAccountId: 1n, creditAccountId: 2n, amount: 10_000n, ledger: 1, code: 1, flags: linked },
        { id: 4n, debitAccountId: 100n, creditAccountId: 1n, amount: 5n, ledger: 1, code: 1 },
        { id: 5n, debitAccountId: 100n, creditAccountId: 2n, amount: 5n, ledger: 1, code: 1 },
      ],
      T0,
    );
    expect(results).toEqual(['linked_event_failed', 'linked_event_failed', 'exceeds_credits', 'linked_event_failed', 'ok']);
    expect(ledger.pendingStatus(2000n)).toBe('pending');
    expect(ledger.allAccounts().filter((a) => a.id !== 100n && a.id !== 2n)).toEqual(accounts.filter((a) => a.id !== 100n && a.id !== 2n));
    expect(changes.transfers.map((t) => t.id)).toEqual([5n]);
    expect(changes.balances).toEqual([]); // account 1 (history) is back where it was
  });

  test('supply changes only through mint and burn accounts', () => {
    const ledger = setup();
    expect(ledger.supply(1)).toEqual({ minted: 1000n, burnt: 0n, circulating: 1000n });
    ledger.createTransfers([{ id: 1n, debitAccountId: 1n, creditAccountId: 101n, amount: 40n, ledger: 1, code: 1 }, { id: 2n, debitAccountId: 1n, creditAccountId: 6n, amount: 60n, ledger: 1, code: 1 }], T0);
    expect(ledger.supply(1)).toEqual({ minted: 1000n, burnt: 40n, circulating: 960n });
  });

  test('timestamps are unique and increasing even when the caller clock goes backwards', () => {
    const ledger = new Ledger();
    ledger.createAccounts([{ id: 1n, ledger: 1, code: 1 }, { id: 2n, ledger: 1, code: 1 }], T0);
    ledger.createAccounts([{ id: 3n, ledger: 1, code: 1 }], T0 - SECOND);
    const ts = [1n, 2n, 3n].map((id) => ledger.lookupAccount(id)!.timestamp);
    expect(ts).toEqual([T0, T0 + 1n, T0 + 2n]);
  });

  test('restore refuses a state whose balances or invariants do not add up', () => {
    const ledger = setup();
    const transfers = [...SETUP.keys()].map((i) => ledger.lookupTransfer(SETUP[i]!.id)!);
    const statuses = new Map(SETUP.filter((t) => (t.flags ?? 0) & pending).map((t) => [t.id, ledger.pendingStatus(t.id)!]));
    const snapshot = { accounts: ledger.allAccounts(), transfers, pendingStatuses: statuses, lastTimestamp: ledger.lastTimestamp };
    expect(() => Ledger.restore(snapshot)).not.toThrow();
    const tampered = ledger.allAccounts().map((a) => (a.id === 2n ? { ...a, creditsPosted: a.creditsPosted + 1n } : a));
    expect(() => Ledger.restore({ ...snapshot, accounts: tampered })).toThrow(expect.objectContaining({ code: 'INVARIANT_VIOLATED', invariant: 'balances_match_transfers' }));
    expect(() => Ledger.restore({ ...snapshot, lastTimestamp: T0 - 1n })).toThrow(expect.objectContaining({ invariant: 'timestamps_not_after_clock' }));
    expect(() => Ledger.restore({ ...snapshot, pendingStatuses: new Map() })).toThrow(expect.objectContaining({ invariant: 'balances_match_transfers' }));
    // Balances that match their transfers but break an account's limit.
    const overdrawn = { ...snapshot, accounts: ledger.allAccounts(), transfers: [...transfers, { ...transfers[0]!, id: 9n, debitAccountId: 1n, creditAccountId: 2n, amount: 5000n }] };
    overdrawn.accounts = overdrawn.accounts.map((a) => (a.id === 1n ? { ...a, debitsPosted: a.debitsPosted + 5000n } : a.id === 2n ? { ...a, creditsPosted: a.creditsPosted + 5000n } : a));
    expect(() => Ledger.restore(overdrawn)).toThrow(expect.objectContaining({ invariant: 'balance_limit' }));
  });

  test('malformed and oversized batches are refused whole', () => {
    const ledger = setup();
    const accounts = ledger.allAccounts();
    for (const bad of [
      [{ id: 1n, ...base }, { id: 2n, ...base, amount: -1n }],
      [{ id: 1n, ...base, amount: 1n << 128n }],
      [{ id: 1n, ...base, amount: 5 as unknown as bigint }],
      [{ id: 1n, ...base, ledger: 2 ** 32 }],
      [{ id: 1n, ...base, code: 1.5 }],
      [null as unknown as TransferInput],
    ]) {
      expect(() => ledger.createTransfers(bad, T0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => ledger.createTransfers(Array.from({ length: 8191 }, (_, i) => ({ id: BigInt(i + 1), ...base })), T0)).toThrow(expect.objectContaining({ code: 'BATCH_TOO_LARGE' }));
    expect(() => ledger.createTransfers([], -1n)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // A clock so close to 2^64 that the batch's timestamps would not fit: refused before any change.
    expect(() => ledger.createTransfers([{ id: 77n, ...base }, { id: 78n, ...base }], U64_MAX - 1n)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(ledger.lookupTransfer(77n)).toBeUndefined();
    expect(ledger.allAccounts()).toEqual(accounts);
    expect(ledger.createTransfers(Array.from({ length: 8190 }, (_, i) => ({ id: BigInt(i + 10_000), ...base, amount: 1n })), T0).results.every((r) => r === 'ok')).toBe(true);
  });
});

// fast-check generators for random ledger workloads: small id spaces (so ids collide and
// idempotency, pending lookups and unknown accounts all happen), mostly valid events with a share
// of invalid ones, linked chains, two-phase transfers with timeouts, balancing, overflowing amounts.
import fc from 'fast-check';
import { AccountFlags, TransferFlags, U128_MAX, type AccountInput, type TransferInput } from '../../src';

const SECOND = 1_000_000_000n;

const accountId = fc.oneof(
  { weight: 30, arbitrary: fc.bigInt({ min: 1n, max: 6n }) },
  { weight: 8, arbitrary: fc.constantFrom(100n, 101n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, U128_MAX) },
);
// Regular and pending transfers take ids 1..24, posts and voids 25..48 (so their pending ids,
// drawn mostly from 1..24, usually name a pending transfer).
const transferId = fc.oneof(
  { weight: 30, arbitrary: fc.bigInt({ min: 1n, max: 24n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, U128_MAX, 30n) },
);
const resolveId = fc.oneof({ weight: 30, arbitrary: fc.bigInt({ min: 25n, max: 48n }) }, { weight: 1, arbitrary: transferId });
const ledgerNo = fc.oneof({ weight: 12, arbitrary: fc.constant(1) }, { weight: 3, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.constant(0) });
const code = fc.oneof({ weight: 12, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2) });
const userData = fc.oneof({ weight: 6, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 2n }) });
const userData32 = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) });
const amount = fc.oneof(
  { weight: 20, arbitrary: fc.bigInt({ min: 1n, max: 60n }) },
  { weight: 2, arbitrary: fc.constant(0n) },
  { weight: 1, arbitrary: fc.bigInt({ min: U128_MAX - 50n, max: U128_MAX }) },
  { weight: 1, arbitrary: fc.constant(U128_MAX / 2n) },
);

function bit(flag: number, weight: number): fc.Arbitrary<number> {
  return fc.oneof({ weight: 100 - weight, arbitrary: fc.constant(0) }, { weight, arbitrary: fc.constant(flag) });
}

const accountFlags = fc
  .tuple(
    bit(AccountFlags.linked, 15),
    bit(AccountFlags.debitsMustNotExceedCredits, 40),
    bit(AccountFlags.creditsMustNotExceedDebits, 12),
    bit(AccountFlags.history, 35),
    bit(AccountFlags.mint, 12),
    bit(AccountFlags.burn, 8),
    bit(1 << 9, 2), // a reserved bit
  )
  .map((bits) => bits.reduce((a, b) => a | b, 0));

export const accountInput: fc.Arbitrary<AccountInput> = fc.record({
  id: accountId,
  ledger: ledgerNo,
  code,
  flags: accountFlags,
  userData128: userData,
  userData64: userData,
  userData32,
});

const transferKind = fc.oneof(
  { weight: 10, arbitrary: fc.constant(0) },
  { weight: 8, arbitrary: fc.constant(TransferFlags.pending) },
  { weight: 6, arbitrary: fc.constant(TransferFlags.postPendingTransfer) },
  { weight: 4, arbitrary: fc.constant(TransferFlags.voidPendingTransfer) },
  { weight: 1, arbitrary: fc.constant(TransferFlags.pending | TransferFlags.postPendingTransfer) },
);

const transferFlags = fc
  .tuple(transferKind, bit(TransferFlags.linked, 15), bit(TransferFlags.balancingDebit, 8), bit(TransferFlags.balancingCredit, 5), bit(1 << 10, 1))
  .map((bits) => bits.reduce((a, b) => a | b, 0));

export const transferInput: fc.Arbitrary<TransferInput> = transferFlags.chain((flags) => {
  const postOrVoid = (flags & (TransferFlags.postPendingTransfer | TransferFlags.voidPendingTransfer)) !== 0;
  const pending = (flags & TransferFlags.pending) !== 0;
  // Post/void events mostly leave inherited fields 0, as clients do.
  const inherited = <T>(zero: T, arb: fc.Arbitrary<T>): fc.Arbitrary<T> => (postOrVoid ? fc.oneof({ weight: 5, arbitrary: fc.constant(zero) }, { weight: 1, arbitrary: arb }) : arb);
  return fc.record({
    id: postOrVoid ? resolveId : transferId,
    debitAccountId: inherited(0n, accountId),
    creditAccountId: inherited(0n, accountId),
    amount: postOrVoid ? fc.oneof({ weight: 3, arbitrary: fc.constant(0n) }, { weight: 2, arbitrary: amount }) : amount,
    pendingId: postOrVoid ? fc.oneof({ weight: 4, arbitrary: fc.bigInt({ min: 1n, max: 8n }) }, { weight: 1, arbitrary: transferId }) : fc.oneof({ weight: 30, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: transferId }),
    userData128: userData,
    userData64: userData,
    userData32,
    timeout: pending
      ? fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0xffff_ffff) })
      : fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
    ledger: inherited(0, ledgerNo),
    code: inherited(0, code),
    flags: fc.constant(flags),
  });
});

export type Step =
  | { readonly kind: 'accounts'; readonly advance: bigint; readonly events: AccountInput[] }
  | { readonly kind: 'transfers'; readonly advance: bigint; readonly events: TransferInput[] };

/** A generated step: a batch, or a resubmission of an earlier batch (idempotency). */
export type GeneratedStep = Step | { readonly kind: 'replay'; readonly advance: bigint; readonly of: number };

/** Resolves replays to the batch they repeat (a replay before any batch repeats nothing). */
export function concreteSteps(steps: readonly GeneratedStep[]): Step[] {
  const out: Step[] = [];
  for (const s of steps) {
    if (s.kind !== 'replay') out.push(s);
    else if (out.length > 0) out.push({ ...out[s.of % out.length]!, advance: s.advance });
  }
  return out;
}

const advance = fc.oneof({ weight: 2, arbitrary: fc.constant(0n) }, { weight: 5, arbitrary: fc.bigInt({ min: 1n, max: 3n * SECOND }) });

/** Setup accounts that make most transfers possible: a mint and a burn on ledger 1. */
export const SUPPLY_ACCOUNTS: AccountInput[] = [
  { id: 100n, ledger: 1, code: 1, flags: AccountFlags.mint },
  { id: 101n, ledger: 1, code: 1, flags: AccountFlags.burn | AccountFlags.history },
];

export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('accounts' as const), advance, events: fc.array(accountInput, { maxLength: 8 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('transfers' as const), advance, events: fc.array(transferInput, { maxLength: 14 }) }) },
);

/** Transfers that also use the supply accounts 100 (mint) and 101 (burn). */
export const supplyTransfer: fc.Arbitrary<TransferInput> = fc.record({
  id: transferId,
  debitAccountId: fc.constantFrom(100n, 1n, 2n, 3n),
  creditAccountId: fc.constantFrom(101n, 1n, 2n, 3n, 100n),
  amount: fc.bigInt({ min: 1n, max: 40n }),
  ledger: fc.constant(1),
  code: fc.constant(1),
  flags: fc.constantFrom(0, TransferFlags.linked, TransferFlags.pending),
});

/** Accounts 1..6, all valid (1..5 on ledger 1, 6 on ledger 2), with random limit and history flags. */
const setupAccounts: fc.Arbitrary<AccountInput[]> = fc
  .array(fc.constantFrom(0, 0, AccountFlags.debitsMustNotExceedCredits, AccountFlags.creditsMustNotExceedDebits, AccountFlags.history, AccountFlags.history | AccountFlags.debitsMustNotExceedCredits), { minLength: 6, maxLength: 6 })
  .map((flags) => flags.map((f, i) => ({ id: BigInt(i + 1), ledger: i === 5 ? 2 : 1, code: 1, flags: f })));

/** Pending transfers that usually succeed (from the mint, or between ledger-1 accounts). */
export const pendingTransfer: fc.Arbitrary<TransferInput> = fc.record({
  id: fc.bigInt({ min: 1n, max: 8n }),
  debitAccountId: fc.constantFrom(100n, 100n, 1n, 2n, 3n),
  creditAccountId: fc.constantFrom(1n, 2n, 3n, 4n, 101n),
  amount: fc.bigInt({ min: 1n, max: 30n }),
  timeout: fc.constantFrom(0, 1, 2, 3),
  ledger: fc.constant(1),
  code: fc.constant(1),
  flags: fc.constantFrom(TransferFlags.pending, TransferFlags.pending, TransferFlags.pending | TransferFlags.linked),
});

/** Posts and voids of pending ids 1..24, some of more than is pending. */
export const resolveTransfer: fc.Arbitrary<TransferInput> = fc.record({
  id: fc.bigInt({ min: 25n, max: 48n }),
  pendingId: fc.bigInt({ min: 1n, max: 8n }),
  amount: fc.oneof({ weight: 3, arbitrary: fc.constant(0n) }, { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 35n }) }),
  flags: fc.constantFrom(TransferFlags.postPendingTransfer, TransferFlags.postPendingTransfer, TransferFlags.voidPendingTransfer, TransferFlags.postPendingTransfer | TransferFlags.linked),
});

export const workload: fc.Arbitrary<{ accounts: AccountInput[]; steps: Step[] }> = fc.record({
  accounts: fc.tuple(setupAccounts, fc.array(accountInput, { maxLength: 4 })).map(([a, b]) => [...a, ...b]),
  steps: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: step as fc.Arbitrary<GeneratedStep> },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfers' as const), advance, events: fc.array(supplyTransfer, { maxLength: 10 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), advance, of: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfers' as const), advance, events: fc.array(fc.oneof(pendingTransfer, resolveTransfer), { maxLength: 10 }) }) },
    ),
    { minLength: 1, maxLength: 16 },
  ).map(concreteSteps),
});

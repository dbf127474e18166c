// Rewards and slashing as ledger events with ids derived from the block / evidence digest: a block
// is rewarded all at once and never twice, an offence is slashed at most once, supply changes only
// through the mint (rewards) and the burn account (slashing).
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  AccountFlags,
  derivedChainOutcome,
  derivedTransferId,
  isReservedTransferId,
  Ledger,
  proportionalShares,
  rewardEvents,
  type SlashConfig,
  slashEvents,
  stakeAccountInput,
  stakeEvent,
  stakeOf,
  type StakingConfig,
  type TransferInput,
  unstakeEvent,
} from '../src';

const T0 = 1_700_000_000_000_000_000n;
const staking: StakingConfig = { ledger: 1, stakeAccountCode: 10, stakeCode: 11, unbondingCode: 12, unbondingPeriodNs: 3600n * 1_000_000_000n };
const slashing: SlashConfig = { staking, slashCode: 13, burnAccountId: 101n, numerator: 1n, denominator: 2n };
const reward = { ledger: 1, rewardCode: 14, mintAccountId: 100n };
const digest = (s: string): Uint8Array => createHash('sha256').update(s).digest();
const VALIDATORS = [1n, 2n, 3n];

function ev(e: TransferInput | string): TransferInput {
  if (typeof e === 'string') throw new Error(e);
  return e;
}

function setup(): Ledger {
  const ledger = new Ledger();
  ledger.createAccounts(
    [
      { id: 100n, ledger: 1, code: 1, flags: AccountFlags.mint },
      { id: 101n, ledger: 1, code: 1, flags: AccountFlags.burn },
      ...VALIDATORS.map((id) => ({ id, ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits })),
      ...VALIDATORS.map((id) => stakeAccountInput(id, staking)),
    ],
    T0,
  );
  expect(ledger.createTransfers(VALIDATORS.map((id) => ({ id, debitAccountId: 100n, creditAccountId: id, amount: 1000n, ledger: 1, code: 1 })), T0).results).toEqual(['ok', 'ok', 'ok']);
  return ledger;
}

test('proportionalShares sums to the total and stays within one unit of the exact share', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 1n << 100n }), fc.array(fc.bigInt({ min: 0n, max: 1n << 64n }), { minLength: 1, maxLength: 20 }), (total, weights) => {
      fc.pre(weights.some((w) => w > 0n));
      const shares = proportionalShares(total, weights);
      const sum = weights.reduce((a, b) => a + b, 0n);
      expect(shares.reduce((a, b) => a + b, 0n)).toBe(total);
      shares.forEach((s, i) => {
        const floor = (total * weights[i]!) / sum;
        expect(s === floor || s === floor + 1n).toBe(true);
      });
    }),
  );
});

test('a block is rewarded to its signers in proportion to stake, all at once, and never twice', () => {
  const ledger = setup();
  const stakes = [600n, 300n, 100n];
  VALIDATORS.forEach((v, i) => expect(ledger.createTransfers([ev(stakeEvent(v, stakes[i]!, 10n + v, staking))], T0).results).toEqual(['ok']));
  const shares = proportionalShares(100n, VALIDATORS.map((v) => stakeOf(ledger, v).bonded));
  expect(shares).toEqual([60n, 30n, 10n]);
  const block = digest('block 1');
  const events = rewardEvents(block, VALIDATORS.map((account, i) => ({ account, amount: shares[i]! })), reward);
  expect(events.every((e) => isReservedTransferId(e.id))).toBe(true);
  expect(derivedChainOutcome(ledger.createTransfers(events, T0).results)).toBe('applied');
  expect(ledger.supply(1)).toEqual({ minted: 3100n, burnt: 0n, circulating: 3100n });
  // The same block again: nothing moves.
  const again = ledger.createTransfers(rewardEvents(block, VALIDATORS.map((account, i) => ({ account, amount: shares[i]! })), reward), T0).results;
  expect(again[0]).toBe('exists');
  expect(derivedChainOutcome(again)).toBe('already_applied');
  expect(ledger.supply(1).minted).toBe(3100n);
  // A chain that cannot apply (an unknown validator) pays nobody.
  const bad = rewardEvents(digest('block 2'), [{ account: 1n, amount: 5n }, { account: 99n, amount: 5n }], reward);
  const results = ledger.createTransfers(bad, T0).results;
  expect(results).toEqual(['linked_event_failed', 'credit_account_not_found']);
  expect(derivedChainOutcome(results)).toBe('failed');
  expect(ledger.supply(1).minted).toBe(3100n);
});

test('slashing burns a share of bonded and unbonding stake, once per offence', () => {
  const ledger = setup();
  expect(ledger.createTransfers([ev(stakeEvent(1n, 1000n, 50n, staking))], T0).results).toEqual(['ok']);
  expect(ledger.createTransfers([ev(unstakeEvent(ledger, 1n, 300n, 51n, staking)), ev(unstakeEvent(ledger, 1n, 100n, 52n, staking))], T0).results).toEqual(['ok', 'ok']);
  expect(stakeOf(ledger, 1n)).toEqual({ bonded: 600n, unbonding: 400n, total: 1000n });

  // 1/2 of 1000 = 500 ≤ bonded 600: one burn.
  const first = slashEvents(ledger, 1n, digest('offence A'), [ledger.lookupTransfer(51n)!, ledger.lookupTransfer(52n)!], slashing);
  if (first === 'nothing_to_slash') throw new Error('expected a plan');
  expect(first.amount).toBe(500n);
  expect(first.events).toHaveLength(1);
  expect(derivedChainOutcome(ledger.createTransfers(first.events, T0).results)).toBe('applied');
  expect(stakeOf(ledger, 1n)).toEqual({ bonded: 100n, unbonding: 400n, total: 500n });
  expect(ledger.supply(1)).toMatchObject({ burnt: 500n });
  // The same offence again (even with the stake changed since): already slashed.
  const repeat = slashEvents(ledger, 1n, digest('offence A'), [ledger.lookupTransfer(51n)!, ledger.lookupTransfer(52n)!], slashing);
  if (repeat === 'nothing_to_slash') throw new Error('expected a plan');
  expect(derivedChainOutcome(ledger.createTransfers(repeat.events, T0).results)).toBe('already_applied');
  expect(ledger.supply(1)).toMatchObject({ burnt: 500n });

  // 9/10 of 500 = 450 > bonded 100: the newest unbonding (100) is not enough, both are voided.
  const heavy = slashEvents(ledger, 1n, digest('offence B'), [ledger.lookupTransfer(51n)!, ledger.lookupTransfer(52n)!], { ...slashing, numerator: 9n, denominator: 10n });
  if (heavy === 'nothing_to_slash') throw new Error('expected a plan');
  expect(heavy.amount).toBe(450n);
  expect(heavy.events.map((e) => e.pendingId ?? 0n)).toEqual([52n, 51n, 0n]);
  expect(derivedChainOutcome(ledger.createTransfers(heavy.events, T0).results)).toBe('applied');
  expect(stakeOf(ledger, 1n)).toEqual({ bonded: 50n, unbonding: 0n, total: 50n });
  expect(ledger.pendingStatus(51n)).toBe('voided');
  expect(ledger.supply(1)).toEqual({ minted: 3000n, burnt: 950n, circulating: 2050n });
  ledger.verifyInvariants();

  expect(slashEvents(ledger, 2n, digest('offence C'), [], slashing)).toBe('nothing_to_slash');
});

test('derived ids are stable, distinct per purpose and index, and reserved', () => {
  const d = digest('x');
  expect(derivedTransferId('reward', d, 0)).toBe(derivedTransferId('reward', d, 0));
  const ids = new Set([derivedTransferId('reward', d, 0), derivedTransferId('reward', d, 1), derivedTransferId('slash', d, 0), derivedTransferId('reward', digest('y'), 0)]);
  expect(ids.size).toBe(4);
  for (const id of ids) expect(isReservedTransferId(id)).toBe(true);
  expect(() => derivedTransferId('reward', new Uint8Array(31), 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  expect(() => rewardEvents(new Uint8Array(8), [{ account: 1n, amount: 1n }], reward)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
});

// Staking as ledger transfers (pure: these functions build events and read balances; the caller
// submits the events through the ledger like any other batch, so staking inherits durability,
// idempotency, linked chains and the invariants).
//
//   stake account   one per staker, id = stakeAccountId(owner) (the owner id with bit 127 set;
//                   client-created accounts must keep bit 127 clear, see isReservedAccountId),
//                   code config.stakeAccountCode, flag debits_must_not_exceed_credits,
//                   user_data_128 = owner.
//   stake           owner → stake account, posted, code config.stakeCode.
//   unstake         stake account → owner as a PENDING transfer without timeout, code
//                   config.unbondingCode: the amount stays on the stake account (debits_pending),
//                   locked and still slashable, for the unbonding period.
//   withdraw        posts that pending transfer once `now ≥ its timestamp + unbondingPeriodNs`
//                   (withdrawEvent refuses earlier).
//
// Staked amounts of a stake account S:  total = S.creditsPosted − S.debitsPosted,
// unbonding = S.debitsPending, bonded = total − unbonding.
//
// Authorization belongs to the service: clients must not create accounts with reserved ids nor
// submit transfers touching stake accounts directly (only these events may).
import { LedgerError } from '../errors';
import { isU128 } from './integers';
import { type Account, AccountFlags, type AccountInput, type Transfer, TransferFlags, type TransferInput } from './types';

export interface StakingConfig {
  /** The ledger (currency) that is staked. */
  readonly ledger: number;
  /** Account code of stake accounts. */
  readonly stakeAccountCode: number;
  /** Transfer code of stake transfers (owner → stake account). */
  readonly stakeCode: number;
  /** Transfer code of unbonding transfers (pending, stake account → owner) and their posts. */
  readonly unbondingCode: number;
  /** How long unstaked funds stay locked (ns). Stake attestations may not outlive it. */
  readonly unbondingPeriodNs: bigint;
}

/** Read access to accounts (Ledger implements it). */
export interface AccountReader {
  lookupAccount(id: bigint): Account | undefined;
}

export type StakingResult = 'ok' | 'reserved_account_id' | 'amount_must_not_be_zero' | 'stake_account_not_found' | 'exceeds_bonded_stake' | 'not_an_unbonding_transfer' | 'unbonding_not_finished';

const RESERVED_BIT = 1n << 127n;

/** Ids with bit 127 set are Caesar's (stake accounts); clients may not create them. */
export function isReservedAccountId(id: bigint): boolean {
  return (id & RESERVED_BIT) !== 0n;
}

export function stakeAccountId(owner: bigint): bigint {
  checkOwner(owner);
  return owner | RESERVED_BIT;
}

export function stakeAccountInput(owner: bigint, config: StakingConfig): AccountInput {
  return { id: stakeAccountId(owner), ledger: config.ledger, code: config.stakeAccountCode, flags: AccountFlags.debitsMustNotExceedCredits, userData128: owner };
}

export interface StakeOf {
  /** Staked and not unbonding. */
  readonly bonded: bigint;
  /** Unstaked, locked until the unbonding period of each unstake ends. */
  readonly unbonding: bigint;
  readonly total: bigint;
}

export function stakeOf(accounts: AccountReader, owner: bigint): StakeOf {
  const s = accounts.lookupAccount(stakeAccountId(owner));
  if (!s) return { bonded: 0n, unbonding: 0n, total: 0n };
  const total = s.creditsPosted - s.debitsPosted;
  return { bonded: total - s.debitsPending, unbonding: s.debitsPending, total };
}

/** The stake transfer; the ledger answers exceeds_credits if the owner cannot cover it. */
export function stakeEvent(owner: bigint, amount: bigint, transferId: bigint, config: StakingConfig): TransferInput | StakingResult {
  checkOwner(owner);
  if (isReservedAccountId(owner)) return 'reserved_account_id';
  if (amount === 0n) return 'amount_must_not_be_zero';
  return { id: transferId, debitAccountId: owner, creditAccountId: stakeAccountId(owner), amount, ledger: config.ledger, code: config.stakeCode };
}

/** Starts unbonding `amount` of the bonded stake (a pending transfer back to the owner). */
export function unstakeEvent(accounts: AccountReader, owner: bigint, amount: bigint, transferId: bigint, config: StakingConfig): TransferInput | StakingResult {
  checkOwner(owner);
  if (isReservedAccountId(owner)) return 'reserved_account_id';
  if (amount === 0n) return 'amount_must_not_be_zero';
  if (!accounts.lookupAccount(stakeAccountId(owner))) return 'stake_account_not_found';
  if (amount > stakeOf(accounts, owner).bonded) return 'exceeds_bonded_stake';
  return { id: transferId, debitAccountId: stakeAccountId(owner), creditAccountId: owner, amount, ledger: config.ledger, code: config.unbondingCode, flags: TransferFlags.pending };
}

/** When an unbonding transfer's funds may be withdrawn (ns). */
export function unbondingEndsAt(unbonding: Transfer, config: StakingConfig): bigint {
  return unbonding.timestamp + config.unbondingPeriodNs;
}

/** Posts an unbonding transfer whose period is over (`now` in ns, the caller's clock). */
export function withdrawEvent(unbonding: Transfer, postId: bigint, now: bigint, config: StakingConfig): TransferInput | StakingResult {
  const isUnbonding =
    (unbonding.flags & TransferFlags.pending) !== 0 &&
    unbonding.code === config.unbondingCode &&
    unbonding.ledger === config.ledger &&
    isReservedAccountId(unbonding.debitAccountId) &&
    unbonding.debitAccountId === stakeAccountId(unbonding.creditAccountId);
  if (!isUnbonding) return 'not_an_unbonding_transfer';
  if (now < unbondingEndsAt(unbonding, config)) return 'unbonding_not_finished';
  return { id: postId, pendingId: unbonding.id, flags: TransferFlags.postPendingTransfer };
}

function checkOwner(owner: bigint): void {
  if (!isU128(owner) || owner === 0n) throw new LedgerError('INVALID_ARGUMENT', 'the owner must be a non-zero bigint account id in 0..2^128-1');
}

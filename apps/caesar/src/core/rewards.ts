// Block rewards as one linked chain of mint → validator transfers whose ids derive from the block
// digest: a block is rewarded all at once, and never twice (derived-ids.ts). Verifying the block's
// quorum certificate against the validator set is the caller's (the service, with libs/consensus);
// this module only turns a verified block into ledger events.
import { LedgerError } from '../errors';
import { MAX_BATCH_EVENTS } from './batch-input';
import { derivedTransferId } from './derived-ids';
import { isU128 } from './integers';
import { TransferFlags, type TransferInput } from './types';

export interface RewardConfig {
  readonly ledger: number;
  /** Transfer code of reward transfers. */
  readonly rewardCode: number;
  /** The ledger's mint account (flag `mint`). */
  readonly mintAccountId: bigint;
}

export interface Payout {
  readonly account: bigint;
  readonly amount: bigint;
}

/**
 * Splits `total` in proportion to `weights` (e.g. the signers' stake), rounding down and handing
 * the remainder out one unit at a time by largest fractional part (ties: lower index). The shares
 * sum to `total` exactly.
 */
export function proportionalShares(total: bigint, weights: readonly bigint[]): bigint[] {
  if (!isU128(total)) throw new LedgerError('INVALID_ARGUMENT', 'total must be a u128');
  if (weights.length === 0 || weights.some((w) => !isU128(w))) throw new LedgerError('INVALID_ARGUMENT', 'weights must be a non-empty list of u128');
  const sum = weights.reduce((a, b) => a + b, 0n);
  if (sum === 0n) throw new LedgerError('INVALID_ARGUMENT', 'weights must not all be zero');
  const shares = weights.map((w) => (total * w) / sum);
  let left = total - shares.reduce((a, b) => a + b, 0n);
  const order = weights.map((w, i) => ({ i, rem: (total * w) % sum })).sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (let k = 0; left > 0n; k++, left--) shares[order[k]!.i]! += 1n;
  return shares;
}

/** The reward chain of one block: one mint → account transfer per payout with a non-zero amount. */
export function rewardEvents(blockDigest: Uint8Array, payouts: readonly Payout[], config: RewardConfig): TransferInput[] {
  if (payouts.length === 0 || payouts.length > MAX_BATCH_EVENTS) throw new LedgerError('INVALID_ARGUMENT', `a block pays 1..${MAX_BATCH_EVENTS} accounts`);
  if (!(blockDigest instanceof Uint8Array) || blockDigest.length !== 32) throw new LedgerError('INVALID_ARGUMENT', 'a block digest is 32 bytes');
  const tag = (Buffer.from(blockDigest).readBigUInt64BE(0) << 64n) | Buffer.from(blockDigest).readBigUInt64BE(8);
  const events: TransferInput[] = [];
  payouts.forEach((p, i) => {
    if (!isU128(p.account) || !isU128(p.amount)) throw new LedgerError('INVALID_ARGUMENT', `payouts[${i}] must hold u128 account and amount`);
    if (p.amount === 0n) return;
    events.push({
      id: derivedTransferId('reward', blockDigest, i),
      debitAccountId: config.mintAccountId,
      creditAccountId: p.account,
      amount: p.amount,
      ledger: config.ledger,
      code: config.rewardCode,
      userData128: tag, // the block, for get_account_transfers readers
      flags: TransferFlags.linked,
    });
  });
  if (events.length === 0) throw new LedgerError('INVALID_ARGUMENT', 'every payout is zero');
  const last = events[events.length - 1]!;
  events[events.length - 1] = { ...last, flags: 0 };
  return events;
}

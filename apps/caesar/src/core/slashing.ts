// Slashing as one linked chain whose ids derive from the offence's evidence digest, so an offence
// is punished at most once (derived-ids.ts). It burns `numerator / denominator` of the offender's
// total stake (bonded + unbonding: unbonding funds are still at stake). When the bonded part does
// not cover it, unbonding transfers are voided first (newest first; their funds return to the stake
// account, the remainder stays bonded) and the burn takes the sum. Verifying the evidence from its
// signatures is the caller's (the service, with libs/consensus); this module turns verified
// evidence into ledger events.
import { LedgerError } from '../errors';
import { derivedTransferId } from './derived-ids';
import { type AccountReader, stakeAccountId, stakeOf, type StakingConfig } from './staking';
import { type Transfer, TransferFlags, type TransferInput } from './types';

export interface SlashConfig {
  readonly staking: StakingConfig;
  /** Transfer code of slash burns. */
  readonly slashCode: number;
  /** The ledger's burn account (flag `burn`). */
  readonly burnAccountId: bigint;
  /** Share of the stake burnt: numerator / denominator (e.g. 1 / 20 = 5 %). */
  readonly numerator: bigint;
  readonly denominator: bigint;
}

export type SlashPlan = { readonly amount: bigint; readonly events: TransferInput[] } | 'nothing_to_slash';

/**
 * @param unbonding the offender's unbonding transfers still pending (from the store); any that is
 *   not one of the offender's unbonding transfers is ignored.
 */
export function slashEvents(accounts: AccountReader, owner: bigint, evidenceDigest: Uint8Array, unbonding: readonly Transfer[], config: SlashConfig): SlashPlan {
  const { numerator, denominator } = config;
  if (denominator <= 0n || numerator < 0n || numerator > denominator) throw new LedgerError('INVALID_ARGUMENT', 'the slash share must be in [0, 1]');
  const stake = stakeOf(accounts, owner);
  const amount = (stake.total * numerator) / denominator;
  if (amount === 0n) return 'nothing_to_slash';
  const s = stakeAccountId(owner);
  const events: TransferInput[] = [];
  let available = stake.bonded;
  const candidates = unbonding
    .filter((t) => t.debitAccountId === s && t.creditAccountId === owner && t.code === config.staking.unbondingCode && (t.flags & TransferFlags.pending) !== 0)
    .sort((a, b) => (a.timestamp > b.timestamp ? -1 : 1));
  for (const t of candidates) {
    if (available >= amount) break;
    events.push({ id: derivedTransferId('slash', evidenceDigest, events.length), pendingId: t.id, flags: TransferFlags.voidPendingTransfer | TransferFlags.linked });
    available += t.amount;
  }
  const burn = amount < available ? amount : available;
  events.push({
    id: derivedTransferId('slash', evidenceDigest, events.length),
    debitAccountId: s,
    creditAccountId: config.burnAccountId,
    amount: burn,
    ledger: config.staking.ledger,
    code: config.slashCode,
  });
  return { amount: burn, events };
}

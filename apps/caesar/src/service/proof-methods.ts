// caesar/reward_block and caesar/slash: money minted or burnt only on a proof that verifies
// (proof-verifiers.ts), once per block or offence (derived transfer ids).
import { caesar as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import { derivedChainOutcome } from '../core/derived-ids';
import { proportionalShares, rewardEvents } from '../core/rewards';
import { slashEvents } from '../core/slashing';
import { stakeAccountId, stakeOf } from '../core/staking';
import type { SignedStatement } from '@stoq/consensus';
import { formatU128, invalid, parseU64 } from './wire-integers';
import { ANY, M, bytesField, transferResult, type MethodContext } from './method-context';

/** Largest committed block reward_block takes (a block of HyperMesh's default limits fits). */
const MAX_COMMITTED_BLOCK_BYTES = 16 * 1024 * 1024;

export function addRewardAndSlashMethods(rpc: RpcServer, mc: MethodContext): void {
  const { ledger, policy, economics: eco, logger } = mc.deps;
  const { read, mapped } = mc;
  const any = ANY;

  rpc.addMethod(
    M.rewardBlock,
    (req) =>
      mapped(async () => {
        const encoded = req.committedBlock;
        if (!encoded || encoded.length === 0) throw invalid('committed_block', 'is required: the encodeCommittedBlock bytes of the block (hypermesh/consensus/block answers them in `encoded`)');
        if (encoded.length > MAX_COMMITTED_BLOCK_BYTES) throw invalid('committed_block', `${encoded.length} bytes; at most ${MAX_COMMITTED_BLOCK_BYTES}`);
        const verdict = mc.deps.verifier.verifyCommittedBlock(encoded);
        if (!verdict.ok) throw new RpcError(verdict.unconfigured ? Status.FAILED_PRECONDITION : Status.INVALID_ARGUMENT, `committed_block: ${verdict.reason}`);
        if (eco.mintAccountId === null) throw new RpcError(Status.FAILED_PRECONDITION, 'Caesar has no mint account configured (caesar serve --mint-account)');
        const block = verdict.value;
        const paid = block.signers.filter((s): s is typeof s & { account: bigint } => s.account !== null);
        const unpaid = block.signers.filter((s) => s.account === null).map((s) => s.instance);
        if (paid.length === 0) throw new RpcError(Status.FAILED_PRECONDITION, `no signer of block ${block.height} has a Caesar account (caesar serve --validator-account <instance>=<account>): ${unpaid.join(', ')}`);
        const weights = await read((v) => paid.map((s) => stakeOf(v, s.account).bonded));
        if (weights.every((w) => w === 0n)) throw new RpcError(Status.FAILED_PRECONDITION, `no signer of block ${block.height} has bonded stake: nothing to reward`);
        const shares = proportionalShares(eco.rewardPerBlock, weights);
        const payouts = paid.map((s, i) => ({ account: s.account, amount: shares[i]! }));
        const events = rewardEvents(block.hash, payouts, { ledger: eco.staking.ledger, rewardCode: eco.rewardCode, mintAccountId: eco.mintAccountId });
        const results = await ledger.createTransfers(events);
        const outcome = derivedChainOutcome(results);
        // f+1 validators report each block (docs/hypermesh-api.md): the repeats are routine.
        logger[outcome === 'already_applied' ? 'debug' : 'info']({ height: block.height, block: Buffer.from(block.hash).toString('hex'), outcome, signers: payouts.length, unpaid }, 'caesar reward_block');
        return {
          outcome: outcome === 'applied' ? proto.RewardOutcome.REWARD_APPLIED : outcome === 'already_applied' ? proto.RewardOutcome.REWARD_ALREADY_APPLIED : proto.RewardOutcome.REWARD_FAILED,
          payouts: payouts.filter((p) => p.amount > 0n).map((p) => ({ accountId: formatU128(p.account), amount: formatU128(p.amount) })),
          results: results.map(transferResult),
        };
      }),
    { authorize: mc.deps.rewarders ?? ['hypermesh'] },
  );

  rpc.addMethod(
    M.slash,
    (req, ctx) =>
      mapped(async () => {
        policy.caller(ctx.peer);
        const e = req.evidence;
        if (!e) throw invalid('evidence', 'is required');
        const kind = e.kind;
        if (kind !== 'vote' && kind !== 'proposal') throw invalid('evidence.kind', `is "vote" or "proposal", got ${JSON.stringify(kind ?? '')}`);
        const statement = (st: proto.SignedStatement | null | undefined, field: string): SignedStatement => {
          if (!st) throw invalid(field, 'is required');
          return { height: Number(parseU64(st.height, `${field}.height`)), blockHash: st.blockHash ?? '', signature: bytesField(st.signature, `${field}.signature`) };
        };
        const evidence = { kind, validator: e.validator ?? 0, view: Number(parseU64(e.view, 'evidence.view')), first: statement(e.first, 'evidence.first'), second: statement(e.second, 'evidence.second') } as const;
        const verdict = mc.deps.verifier.verifyEquivocation(evidence);
        if (!verdict.ok) throw new RpcError(verdict.unconfigured ? Status.FAILED_PRECONDITION : Status.INVALID_ARGUMENT, `evidence: ${verdict.reason}`);
        const offence = verdict.value;
        if (offence.account === null) throw new RpcError(Status.FAILED_PRECONDITION, `evidence: validator ${offence.validator} (${offence.instance}) equivocated, but has no Caesar account to slash (caesar serve --validator-account ${offence.instance}=<account>)`);
        const validator = offence.account;
        if (eco.burnAccountId === null) throw new RpcError(Status.FAILED_PRECONDITION, 'Caesar has no burn account configured (caesar serve --burn-account)');
        const burnAccountId = eco.burnAccountId;
        // One committed state for the unbonding transfers, their statuses and the stake.
        const plan = await read((v) => {
          const pending = v.getAccountTransfers({ accountId: stakeAccountId(validator), limit: 8190, debits: true, credits: false, code: eco.staking.unbondingCode });
          const statuses = v.pendingStatuses(pending.map((t) => t.id));
          const unbonding = pending.filter((t) => statuses.get(t.id) === 'pending');
          return slashEvents(v, validator, offence.digest, unbonding, { staking: eco.staking, slashCode: eco.slashCode, burnAccountId, numerator: eco.slashNumerator, denominator: eco.slashDenominator });
        });
        if (plan === 'nothing_to_slash') return { outcome: proto.SlashOutcome.SLASH_NOTHING_TO_SLASH, burnt: '0', results: [] };
        const results = await ledger.createTransfers(plan.events);
        const outcome = derivedChainOutcome(results);
        logger.warn({ validator: offence.instance, account: String(validator), view: evidence.view, outcome, burnt: String(plan.amount), by: ctx.peer?.service }, 'caesar slash');
        return {
          outcome: outcome === 'applied' ? proto.SlashOutcome.SLASH_APPLIED : outcome === 'already_applied' ? proto.SlashOutcome.SLASH_ALREADY_APPLIED : proto.SlashOutcome.SLASH_FAILED,
          burnt: outcome === 'applied' ? formatU128(plan.amount) : '0',
          results: results.map(transferResult),
        };
      }),
    any,
  );
}

// caesar/reward_block and caesar/slash: money minted or burnt only on a proof that verifies
// (proof-verifiers.ts), once per block or offence (derived transfer ids).
import { caesar as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import { derivedChainOutcome } from '../core/derived-ids';
import { proportionalShares, rewardEvents } from '../core/rewards';
import { slashEvents } from '../core/slashing';
import { stakeAccountId, stakeOf } from '../core/staking';
import type { SignedVote } from './proof-verifiers';
import { formatU128, invalid, parseU64 } from './wire-integers';
import { ANY, M, bytesField, digestField, ownerField, transferResult, type MethodContext } from './method-context';

export function addRewardAndSlashMethods(rpc: RpcServer, mc: MethodContext): void {
  const { ledger, policy, economics: eco, logger } = mc.deps;
  const { reader, mapped } = mc;
  const any = ANY;

  rpc.addMethod(
    M.rewardBlock,
    (req) =>
      mapped(async () => {
        const qc = req.qc;
        if (!qc) throw invalid('qc', 'is required');
        const digest = digestField(qc.blockDigest, 'qc.block_digest');
        const signatures = (qc.signatures ?? []).map((s, i) => ({ validator: ownerField(s.validatorAccountId, `qc.signatures[${i}].validator_account_id`), signature: bytesField(s.signature, `qc.signatures[${i}].signature`) }));
        if (signatures.length === 0) throw invalid('qc.signatures', 'a QC carries signatures');
        const verdict = mc.deps.verifier.verifyQuorumCertificate({ height: parseU64(qc.height, 'qc.height'), view: parseU64(qc.view, 'qc.view'), blockDigest: digest, signatures });
        if (!verdict.ok) throw new RpcError(verdict.unconfigured ? Status.FAILED_PRECONDITION : Status.INVALID_ARGUMENT, `qc: ${verdict.reason}`);
        if (eco.mintAccountId === null) throw new RpcError(Status.FAILED_PRECONDITION, 'Caesar has no mint account configured (caesar serve --mint-account)');
        const weights = verdict.value.map((v) => stakeOf(reader, v).bonded);
        if (weights.every((w) => w === 0n)) throw new RpcError(Status.FAILED_PRECONDITION, 'no signer of this QC has bonded stake: nothing to reward');
        const shares = proportionalShares(eco.rewardPerBlock, weights);
        const payouts = verdict.value.map((account, i) => ({ account, amount: shares[i]! }));
        const events = rewardEvents(digest, payouts, { ledger: eco.staking.ledger, rewardCode: eco.rewardCode, mintAccountId: eco.mintAccountId });
        const results = await ledger.createTransfers(events);
        const outcome = derivedChainOutcome(results);
        logger.info({ block: Buffer.from(digest).toString('hex'), outcome, signers: payouts.length }, 'caesar reward_block');
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
        const validator = ownerField(e.validatorAccountId, 'evidence.validator_account_id');
        const vote = (v: proto.SignedVote | null | undefined, field: string): SignedVote => {
          if (!v) throw invalid(field, 'is required');
          return { height: parseU64(v.height, `${field}.height`), view: parseU64(v.view, `${field}.view`), blockDigest: digestField(v.blockDigest, `${field}.block_digest`), signature: bytesField(v.signature, `${field}.signature`) };
        };
        const verdict = mc.deps.verifier.verifyEquivocation(validator, vote(e.first, 'evidence.first'), vote(e.second, 'evidence.second'));
        if (!verdict.ok) throw new RpcError(verdict.unconfigured ? Status.FAILED_PRECONDITION : Status.INVALID_ARGUMENT, `evidence: ${verdict.reason}`);
        if (eco.burnAccountId === null) throw new RpcError(Status.FAILED_PRECONDITION, 'Caesar has no burn account configured (caesar serve --burn-account)');
        const pending = ledger.getAccountTransfers({ accountId: stakeAccountId(validator), limit: 8190, debits: true, credits: false, code: eco.staking.unbondingCode });
        const statuses = ledger.pendingStatuses(pending.map((t) => t.id));
        const unbonding = pending.filter((t) => statuses.get(t.id) === 'pending');
        const plan = slashEvents(reader, validator, verdict.value, unbonding, { staking: eco.staking, slashCode: eco.slashCode, burnAccountId: eco.burnAccountId, numerator: eco.slashNumerator, denominator: eco.slashDenominator });
        if (plan === 'nothing_to_slash') return { outcome: proto.SlashOutcome.SLASH_NOTHING_TO_SLASH, burnt: '0', results: [] };
        const results = await ledger.createTransfers(plan.events);
        const outcome = derivedChainOutcome(results);
        logger.warn({ validator: String(validator), outcome, burnt: String(plan.amount), by: ctx.peer?.service }, 'caesar slash');
        return {
          outcome: outcome === 'applied' ? proto.SlashOutcome.SLASH_APPLIED : outcome === 'already_applied' ? proto.SlashOutcome.SLASH_ALREADY_APPLIED : proto.SlashOutcome.SLASH_FAILED,
          burnt: outcome === 'applied' ? formatU128(plan.amount) : '0',
          results: results.map(transferResult),
        };
      }),
    any,
  );
}

// caesar/stake, unstake, withdraw, stake_of, attest_stake: staking as ledger transfers built by
// core/staking.ts, only by the owner account's owner (checked when the batch is applied).
import { encodePoStakeProof, signStakeAttestationWith } from '@stoq/four-proof';
import { caesar as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import { LedgerError } from '../errors';
import { encodeStakeAttestation, issueStakeAttestation } from '../core/attestation';
import { stakeAccountId, stakeAccountInput, stakeEvent, stakeOf, unbondingEndsAt, unstakeEvent, withdrawEvent, type StakingResult } from '../core/staking';
import { TransferFlags, type Transfer, type TransferInput } from '../core/types';
import type { LedgerReader, LedgerView } from '../store/durable-ledger';
import type { Caller } from './access-policy';
import { formatU128, invalid, parseU128, parseU64, toU64 } from './wire-integers';
import { ANY, M, STAKING_RESULTS, clientTransferId, ownerField, transferResult, type MethodContext } from './method-context';

export function addStakingMethods(rpc: RpcServer, mc: MethodContext): void {
  const { ledger, policy, economics: eco } = mc.deps;
  const { read, mapped, nowNs } = mc;
  const any = ANY;
  const MAX_NODE_ID_BYTES = 64;
  const U64_MAX = (1n << 64n) - 1n;

  const stakeView = (v: LedgerView, owner: bigint): proto.StakeOf => {
    const s = stakeOf(v, owner);
    return { ownerAccountId: formatU128(owner), stakeAccountId: formatU128(stakeAccountId(owner)), bonded: formatU128(s.bonded), unbonding: formatU128(s.unbonding), total: formatU128(s.total) };
  };
  /** The owner account must be the caller's (checked when the batch is applied). */
  const ownedBy = (owner: bigint, caller: Caller) => (l: LedgerReader) => {
    const a = l.lookupAccount(owner);
    if (a !== undefined && a.userData128 !== caller.tag) throw new LedgerError('PERMISSION_DENIED', `owner_account_id: account ${owner} is not ${caller.service}'s; only its owner may stake, unstake or withdraw its stake`);
  };
  const staked = async (owner: bigint, event: TransferInput | StakingResult, caller: Caller, endsAt?: (t: Transfer) => bigint): Promise<proto.StakeResponse> => {
    if (typeof event === 'string') return { result: STAKING_RESULTS[event], transferResult: proto.CreateTransferResult.CREATE_TRANSFER_OK, stake: await read((v) => stakeView(v, owner)), unbondingEndsAt: toU64(0n) };
    const [r] = await ledger.createTransfers([event], { admit: ownedBy(owner, caller) });
    const ok = r === 'ok' || r === 'exists';
    const { stored, stake } = await read((v) => ({ stored: ok && endsAt ? v.lookupTransfer(event.id) : undefined, stake: stakeView(v, owner) }));
    return {
      result: ok ? proto.StakingResult.STAKING_OK : proto.StakingResult.STAKING_TRANSFER_FAILED,
      transferResult: transferResult(r!),
      stake,
      unbondingEndsAt: toU64(stored && endsAt ? endsAt(stored) : 0n),
    };
  };

  rpc.addMethod(
    M.stake,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const owner = ownerField(req.ownerAccountId);
        const amount = parseU128(req.amount, 'amount');
        const id = clientTransferId(req.transferId);
        const event = stakeEvent(owner, amount, id, eco.staking);
        if (typeof event !== 'string') {
          // Early answers for a missing or foreign owner account (the admission check below is the authoritative one).
          await read((v) => {
            if (!v.lookupAccount(owner)) throw new RpcError(Status.NOT_FOUND, `owner_account_id: no account ${owner}`);
            ownedBy(owner, caller)(v);
          });
          const [created] = await ledger.createAccounts([stakeAccountInput(owner, eco.staking)]);
          if (created !== 'ok' && created !== 'exists') throw new RpcError(Status.FAILED_PRECONDITION, `the stake account of ${owner} could not be created: ${created}`);
        }
        return staked(owner, event, caller);
      }),
    any,
  );

  rpc.addMethod(
    M.unstake,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const owner = ownerField(req.ownerAccountId);
        const id = clientTransferId(req.transferId);
        const amount = parseU128(req.amount, 'amount');
        // A resubmitted unstake answers like the ledger's idempotency, not by the (now smaller) bonded stake.
        const event = await read((v) =>
          v.lookupTransfer(id) ? { id, debitAccountId: stakeAccountId(owner), creditAccountId: owner, amount, ledger: eco.staking.ledger, code: eco.staking.unbondingCode, flags: TransferFlags.pending } : unstakeEvent(v, owner, amount, id, eco.staking),
        );
        return staked(owner, event, caller, (t) => unbondingEndsAt(t, eco.staking));
      }),
    any,
  );

  rpc.addMethod(
    M.withdraw,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const unbondingId = ownerField(req.unbondingTransferId, 'unbonding_transfer_id');
        const id = clientTransferId(req.transferId);
        const unbonding = await read((v) => v.lookupTransfer(unbondingId));
        if (!unbonding) throw new RpcError(Status.NOT_FOUND, `unbonding_transfer_id: no transfer ${unbondingId}`);
        const owner = unbonding.creditAccountId;
        return staked(owner, withdrawEvent(unbonding, id, nowNs(), eco.staking), caller);
      }),
    any,
  );

  rpc.addMethod(M.stakeOf, (req, ctx) => mapped(() => (policy.caller(ctx.peer), read((v) => stakeView(v, ownerField(req.ownerAccountId))))), any);

  rpc.addMethod(
    M.attestStake,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const owner = ownerField(req.ownerAccountId);
        const seconds = parseU64(req.validitySeconds, 'validity_seconds');
        const validityNs = seconds === 0n ? eco.staking.unbondingPeriodNs : seconds * 1_000_000_000n;
        if (validityNs > eco.staking.unbondingPeriodNs) throw invalid('validity_seconds', `at most the unbonding period (${eco.staking.unbondingPeriodNs / 1_000_000_000n} s)`);
        const nodeId = req.nodeId ?? new Uint8Array(0);
        if (nodeId.length > MAX_NODE_ID_BYTES) throw invalid('node_id', `1..${MAX_NODE_ID_BYTES} bytes (a libs/four-proof node id), got ${nodeId.length}`);
        const signer = mc.deps.signer();
        // The checks and the attested amount read one committed state.
        const a = await read((v) => {
          if (stakeOf(v, owner).bonded === 0n) throw new RpcError(Status.FAILED_PRECONDITION, `owner_account_id: account ${owner} has no bonded stake`);
          if (nodeId.length > 0 && caller.role !== 'admin' && v.lookupAccount(owner)?.userData128 !== caller.tag) {
            // Binding stake to a node is a claim "this node is backed by my stake": only the owner makes it.
            throw new RpcError(Status.PERMISSION_DENIED, `owner_account_id: account ${owner} is not ${caller.service}'s; only its owner may bind its stake to a node`);
          }
          return issueStakeAttestation(v, { account: owner, now: nowNs(), validityNs }, eco.staking, signer);
        });
        const fourProofStake =
          nodeId.length === 0
            ? new Uint8Array(0)
            : encodePoStakeProof(
                signStakeAttestationWith(
                  {
                    account: formatU128(a.account),
                    // four-proof amounts are u64: a larger stake is attested as the u64 maximum (a lower bound).
                    amount: a.stakedAmount > U64_MAX ? U64_MAX : a.stakedAmount,
                    nodeId,
                    issuedAtMs: Number(a.validFrom / 1_000_000n),
                    expiresAtMs: Number(a.validUntil / 1_000_000n),
                  },
                  (m) => signer.sign(m),
                ),
              );
        return {
          ledger: a.ledger,
          account: formatU128(a.account),
          stakedAmount: formatU128(a.stakedAmount),
          validFrom: toU64(a.validFrom),
          validUntil: toU64(a.validUntil),
          keyId: a.keyId,
          signature: a.signature,
          encoded: encodeStakeAttestation(a),
          publicKey: signer.publicKey,
          fourProofStake,
        };
      }),
    any,
  );
}

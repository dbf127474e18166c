// The `caesar/*` methods (libs/protos/proto/caesar.proto): decode -> authorize -> durable ledger
// -> encode. Every reply that reports a change is sent after the change is durable (the store's
// group commit resolves only then). docs/caesar-api.md is the reference for callers.
import { caesar as proto } from '@stoq/protos';
import { RpcError, Status, type CallContext, type RpcServer } from '@stoq/rpc';
import type { Logger } from 'pino';
import { LedgerError } from '../errors';
import { encodeStakeAttestation, issueStakeAttestation, type AttestationSigner } from '../core/attestation';
import { derivedChainOutcome, isReservedTransferId } from '../core/derived-ids';
import { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS, type CreateTransferResult } from '../core/results';
import { proportionalShares, rewardEvents } from '../core/rewards';
import { slashEvents } from '../core/slashing';
import { stakeAccountId, stakeAccountInput, stakeEvent, stakeOf, unbondingEndsAt, unstakeEvent, withdrawEvent, type StakingConfig, type StakingResult } from '../core/staking';
import { TransferFlags, type Transfer, type TransferInput } from '../core/types';
import type { DurableLedger, LedgerReader } from '../store/durable-ledger';
import { AccessPolicy, type Caller } from './access-policy';
import { ChangeFeed } from './change-feed';
import type { ProofVerifier, SignedVote } from './proof-verifiers';
import { formatU128, invalid, parseU128, parseU64, toU64 } from './wire-integers';
import { batchOf, decodeFilter, decodeIds, decodeNewAccount, decodeNewTransfer, encodeAccount, encodeBalance, encodeTransfer } from './wire-records';

const M = proto.CaesarMethods;

export interface EconomicsConfig {
  readonly staking: StakingConfig;
  /** Transfer code of block rewards and of slash burns. */
  readonly rewardCode: number;
  readonly slashCode: number;
  /** Minted per rewarded block, split among the signers by bonded stake. */
  readonly rewardPerBlock: bigint;
  /** Share of an offender's stake burnt per offence. */
  readonly slashNumerator: bigint;
  readonly slashDenominator: bigint;
  /** The staking ledger's mint and burn accounts (admin-created); null: reward_block / slash refuse. */
  readonly mintAccountId: bigint | null;
  readonly burnAccountId: bigint | null;
}

export interface CaesarServiceDeps {
  readonly ledger: DurableLedger;
  readonly policy: AccessPolicy;
  readonly feed: ChangeFeed;
  readonly economics: EconomicsConfig;
  readonly verifier: ProofVerifier;
  /** Signs stake attestations (Caesar's FALCON key); read per call, the key may be renewed. */
  readonly signer: () => AttestationSigner & { readonly publicKey: Uint8Array };
  /** Wall clock (ms). */
  readonly now: () => number;
  readonly logger: Logger;
  /** Services allowed to call reward_block (default ['hypermesh']). */
  readonly rewarders?: readonly string[];
  /** Called once when the ledger has stopped after a failed commit (the service should stop serving). */
  readonly onLedgerFailed?: () => void;
}

const accountResult = (r: string): proto.CreateAccountResult => CREATE_ACCOUNT_RESULTS.indexOf(r as (typeof CREATE_ACCOUNT_RESULTS)[number]) as proto.CreateAccountResult;
const transferResult = (r: string): proto.CreateTransferResult => CREATE_TRANSFER_RESULTS.indexOf(r as CreateTransferResult) as proto.CreateTransferResult;

const STAKING_RESULTS: Record<StakingResult, proto.StakingResult> = {
  ok: proto.StakingResult.STAKING_OK,
  reserved_account_id: proto.StakingResult.STAKING_RESERVED_ACCOUNT_ID,
  amount_must_not_be_zero: proto.StakingResult.STAKING_AMOUNT_MUST_NOT_BE_ZERO,
  stake_account_not_found: proto.StakingResult.STAKING_STAKE_ACCOUNT_NOT_FOUND,
  exceeds_bonded_stake: proto.StakingResult.STAKING_EXCEEDS_BONDED_STAKE,
  not_an_unbonding_transfer: proto.StakingResult.STAKING_NOT_AN_UNBONDING_TRANSFER,
  unbonding_not_finished: proto.StakingResult.STAKING_UNBONDING_NOT_FINISHED,
};

/** A store error as the status a caller sees. */
export function rpcErrorOf(err: unknown): unknown {
  if (!(err instanceof LedgerError)) return err;
  switch (err.code) {
    case 'INVALID_ARGUMENT':
    case 'BATCH_TOO_LARGE':
      return new RpcError(Status.INVALID_ARGUMENT, err.message);
    case 'PERMISSION_DENIED':
      return new RpcError(Status.PERMISSION_DENIED, err.message);
    case 'UNAVAILABLE':
      return new RpcError(Status.UNAVAILABLE, err.message);
    default:
      return new RpcError(Status.INTERNAL, `${err.code}: ${err.message}`);
  }
}


export function addCaesarMethods(rpc: RpcServer, deps: CaesarServiceDeps): void {
  const { ledger, policy, feed, economics: eco, logger } = deps;
  const reader: LedgerReader = {
    lookupAccount: (id) => ledger.lookupAccounts([id])[0],
    lookupTransfer: (id) => ledger.lookupTransfers([id])[0],
  };
  const nowNs = (): bigint => BigInt(Math.floor(deps.now())) * 1_000_000n;
  const any = { authorize: 'any-authenticated' } as const;
  let failureReported = false;
  const mapped = async <T>(run: () => Promise<T> | T): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (!failureReported && ledger.status === 'failed') {
        failureReported = true;
        deps.onLedgerFailed?.();
      }
      throw rpcErrorOf(err);
    }
  };

  rpc.addMethod(
    M.createAccounts,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const events = batchOf(req.accounts, 'accounts').map((a, i) => decodeNewAccount(a, `accounts[${i}]`));
        const results = await ledger.createAccounts(policy.prepareAccounts(events, caller));
        return { results: results.map(accountResult) };
      }),
    any,
  );

  rpc.addMethod(
    M.createTransfers,
    (req, ctx) =>
      mapped(async () => {
        const caller = policy.caller(ctx.peer);
        const events = batchOf(req.transfers, 'transfers').map((t, i) => decodeNewTransfer(t, `transfers[${i}]`));
        policy.checkTransfersStatically(events);
        const supplyMoves: number[] = [];
        const results = await ledger.createTransfers(events, { admit: policy.admitTransfers(events, caller, (i) => supplyMoves.push(i)) });
        for (const i of supplyMoves) {
          const t = events[i]!;
          logger.warn({ by: `${caller.service}/${caller.instance}`, transfer: String(t.id), debit: String(t.debitAccountId), credit: String(t.creditAccountId), amount: String(t.amount), result: results[i] }, 'caesar admin supply transfer');
        }
        return { results: results.map(transferResult) };
      }),
    any,
  );

  rpc.addMethod(M.lookupAccounts, (req, ctx) => mapped(() => (policy.caller(ctx.peer), { accounts: ledger.lookupAccounts(decodeIds(req.ids, 'ids')).map(encodeAccount) })), any);
  rpc.addMethod(M.lookupTransfers, (req, ctx) => mapped(() => (policy.caller(ctx.peer), { transfers: ledger.lookupTransfers(decodeIds(req.ids, 'ids')).map(encodeTransfer) })), any);
  rpc.addMethod(M.getAccountTransfers, (req, ctx) => mapped(() => (policy.caller(ctx.peer), { transfers: ledger.getAccountTransfers(decodeFilter(req)).map(encodeTransfer) })), any);
  rpc.addMethod(M.getAccountBalances, (req, ctx) => mapped(() => (policy.caller(ctx.peer), { balances: ledger.getAccountBalances(decodeFilter(req)).map(encodeBalance) })), any);

  rpc.addMethod(
    M.watch,
    (req, ctx: CallContext) => {
      policy.caller(ctx.peer);
      const ids = decodeIds(req.accountIds, 'account_ids');
      return feed.watch(ids.length === 0 ? null : new Set(ids), ledger.lastTimestamp, ctx.signal);
    },
    any,
  );

  rpc.addMethod(
    M.supply,
    (req, ctx) =>
      mapped(() => {
        policy.caller(ctx.peer);
        const ledgerNo = req.ledger ?? 0;
        if (ledgerNo === 0) throw invalid('ledger', 'is required');
        const s = ledger.supply(ledgerNo);
        return { ledger: ledgerNo, minted: formatU128(s.minted), burnt: formatU128(s.burnt), circulating: formatU128(s.circulating) };
      }),
    any,
  );

  rpc.addMethod(
    M.whoAmI,
    (_req, ctx) => {
      const c = policy.caller(ctx.peer);
      return { service: c.service, ownerTag: formatU128(c.tag) };
    },
    any,
  );

  // ------------------------------------------------------------------ staking

  const stakeView = (owner: bigint): proto.StakeOf => {
    const s = stakeOf(reader, owner);
    return { ownerAccountId: formatU128(owner), stakeAccountId: formatU128(stakeAccountId(owner)), bonded: formatU128(s.bonded), unbonding: formatU128(s.unbonding), total: formatU128(s.total) };
  };
  const ownerField = (v: string | null | undefined, field = 'owner_account_id'): bigint => {
    const owner = parseU128(v, field);
    if (owner === 0n) throw invalid(field, 'is required');
    return owner;
  };
  const clientTransferId = (v: string | null | undefined): bigint => {
    const id = parseU128(v, 'transfer_id');
    if (id === 0n) throw invalid('transfer_id', 'is required (client-chosen, for idempotency)');
    if (isReservedTransferId(id)) throw invalid('transfer_id', 'ids with bit 127 set are Caesar\'s; choose an id below 2^127');
    return id;
  };
  /** The owner account must be the caller's (checked when the batch is applied). */
  const ownedBy = (owner: bigint, caller: Caller) => (l: LedgerReader) => {
    const a = l.lookupAccount(owner);
    if (a !== undefined && a.userData128 !== caller.tag) throw new LedgerError('PERMISSION_DENIED', `owner_account_id: account ${owner} is not ${caller.service}'s; only its owner may stake, unstake or withdraw its stake`);
  };
  const staked = async (owner: bigint, event: TransferInput | StakingResult, caller: Caller, endsAt?: (t: Transfer) => bigint): Promise<proto.StakeResponse> => {
    if (typeof event === 'string') return { result: STAKING_RESULTS[event], transferResult: proto.CreateTransferResult.CREATE_TRANSFER_OK, stake: stakeView(owner), unbondingEndsAt: toU64(0n) };
    const [r] = await ledger.createTransfers([event], { admit: ownedBy(owner, caller) });
    const ok = r === 'ok' || r === 'exists';
    const stored = ok && endsAt ? ledger.lookupTransfers([event.id])[0] : undefined;
    return {
      result: ok ? proto.StakingResult.STAKING_OK : proto.StakingResult.STAKING_TRANSFER_FAILED,
      transferResult: transferResult(r!),
      stake: stakeView(owner),
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
          const account = reader.lookupAccount(owner);
          if (!account) throw new RpcError(Status.NOT_FOUND, `owner_account_id: no account ${owner}`);
          ownedBy(owner, caller)(reader);
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
        const existing = ledger.lookupTransfers([id])[0];
        // A resubmitted unstake answers like the ledger's idempotency, not by the (now smaller) bonded stake.
        const event = existing ? { id, debitAccountId: stakeAccountId(owner), creditAccountId: owner, amount: parseU128(req.amount, 'amount'), ledger: eco.staking.ledger, code: eco.staking.unbondingCode, flags: TransferFlags.pending } : unstakeEvent(reader, owner, parseU128(req.amount, 'amount'), id, eco.staking);
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
        const unbonding = ledger.lookupTransfers([unbondingId])[0];
        if (!unbonding) throw new RpcError(Status.NOT_FOUND, `unbonding_transfer_id: no transfer ${unbondingId}`);
        const owner = unbonding.creditAccountId;
        return staked(owner, withdrawEvent(unbonding, id, nowNs(), eco.staking), caller);
      }),
    any,
  );

  rpc.addMethod(M.stakeOf, (req, ctx) => mapped(() => (policy.caller(ctx.peer), stakeView(ownerField(req.ownerAccountId)))), any);

  rpc.addMethod(
    M.attestStake,
    (req, ctx) =>
      mapped(() => {
        policy.caller(ctx.peer);
        const owner = ownerField(req.ownerAccountId);
        const seconds = parseU64(req.validitySeconds, 'validity_seconds');
        const validityNs = seconds === 0n ? eco.staking.unbondingPeriodNs : seconds * 1_000_000_000n;
        if (validityNs > eco.staking.unbondingPeriodNs) throw invalid('validity_seconds', `at most the unbonding period (${eco.staking.unbondingPeriodNs / 1_000_000_000n} s)`);
        if (stakeOf(reader, owner).bonded === 0n) throw new RpcError(Status.FAILED_PRECONDITION, `owner_account_id: account ${owner} has no bonded stake`);
        const signer = deps.signer();
        const a = issueStakeAttestation(reader, { account: owner, now: nowNs(), validityNs }, eco.staking, signer);
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
        };
      }),
    any,
  );

  // ------------------------------------------------------------------ rewards and slashing

  rpc.addMethod(
    M.rewardBlock,
    (req) =>
      mapped(async () => {
        const qc = req.qc;
        if (!qc) throw invalid('qc', 'is required');
        const digest = digestField(qc.blockDigest, 'qc.block_digest');
        const signatures = (qc.signatures ?? []).map((s, i) => ({ validator: ownerField(s.validatorAccountId, `qc.signatures[${i}].validator_account_id`), signature: bytesField(s.signature, `qc.signatures[${i}].signature`) }));
        if (signatures.length === 0) throw invalid('qc.signatures', 'a QC carries signatures');
        const verdict = deps.verifier.verifyQuorumCertificate({ height: parseU64(qc.height, 'qc.height'), view: parseU64(qc.view, 'qc.view'), blockDigest: digest, signatures });
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
    { authorize: deps.rewarders ?? ['hypermesh'] },
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
        const verdict = deps.verifier.verifyEquivocation(validator, vote(e.first, 'evidence.first'), vote(e.second, 'evidence.second'));
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

function bytesField(v: Uint8Array | null | undefined, field: string): Uint8Array {
  if (!v || v.length === 0) throw invalid(field, 'is required');
  if (v.length > 4096) throw invalid(field, `${v.length} bytes; at most 4096`);
  return v;
}

function digestField(v: Uint8Array | null | undefined, field: string): Uint8Array {
  if (!v || v.length !== 32) throw invalid(field, `a block digest is 32 bytes (SHA-256), got ${v?.length ?? 0}`);
  return v;
}

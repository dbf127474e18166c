// What every caesar/* method module shares: the dependencies, a reader of the committed ledger,
// the store-error -> status mapping (which also reports a ledger stopped by a failed commit), and
// decoders of the fields several methods take.
import { caesar as proto } from '@stoq/protos';
import { RpcError, Status } from '@stoq/rpc';
import type { Logger } from 'pino';
import { LedgerError } from '../errors';
import type { AttestationSigner } from '../core/attestation';
import { isReservedTransferId } from '../core/derived-ids';
import { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS, type CreateTransferResult } from '../core/results';
import type { StakingConfig, StakingResult } from '../core/staking';
import type { DurableLedger, LedgerView } from '../store/durable-ledger';
import type { AccessPolicy } from './access-policy';
import type { ChangeFeed } from './change-feed';
import type { ProofVerifier } from './proof-verifiers';
import { invalid, parseU128 } from './wire-integers';

export const M = proto.CaesarMethods;
export const ANY = { authorize: 'any-authenticated' } as const;

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
}

export const accountResult = (r: string): proto.CreateAccountResult => CREATE_ACCOUNT_RESULTS.indexOf(r as (typeof CREATE_ACCOUNT_RESULTS)[number]) as proto.CreateAccountResult;
export const transferResult = (r: string): proto.CreateTransferResult => CREATE_TRANSFER_RESULTS.indexOf(r as CreateTransferResult) as proto.CreateTransferResult;

export const STAKING_RESULTS: Record<StakingResult, proto.StakingResult> = {
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


export interface MethodContext {
  readonly deps: CaesarServiceDeps;
  /**
   * Runs `fn` on the committed ledger in one synchronous step (after a commit in flight, if any:
   * DurableLedger.read), so several reads see one state.
   */
  read<T>(fn: (view: LedgerView) => T): Promise<T>;
  /** Runs a handler body, answering store errors with their status. */
  mapped<T>(run: () => Promise<T> | T): Promise<T>;
  /** The wall clock in ns. */
  nowNs(): bigint;
}

export function methodContext(deps: CaesarServiceDeps): MethodContext {
  const { ledger } = deps;
  return {
    deps,
    read: (fn) => ledger.read(fn),
    nowNs: () => BigInt(Math.floor(deps.now())) * 1_000_000n,
    async mapped<T>(run: () => Promise<T> | T): Promise<T> {
      try {
        return await run();
      } catch (err) {
        throw rpcErrorOf(err);
      }
    },
  };
}

export function ownerField(v: string | null | undefined, field = 'owner_account_id'): bigint {
  const owner = parseU128(v, field);
  if (owner === 0n) throw invalid(field, 'is required');
  return owner;
}

export function clientTransferId(v: string | null | undefined): bigint {
  const id = parseU128(v, 'transfer_id');
  if (id === 0n) throw invalid('transfer_id', 'is required (client-chosen, for idempotency)');
  if (isReservedTransferId(id)) throw invalid('transfer_id', "ids with bit 127 set are Caesar's; choose an id below 2^127");
  return id;
}

export function bytesField(v: Uint8Array | null | undefined, field: string): Uint8Array {
  if (!v || v.length === 0) throw invalid(field, 'is required');
  if (v.length > 4096) throw invalid(field, `${v.length} bytes; at most 4096`);
  return v;
}

export function digestField(v: Uint8Array | null | undefined, field: string): Uint8Array {
  if (!v || v.length !== 32) throw invalid(field, `a block digest is 32 bytes (SHA-256), got ${v?.length ?? 0}`);
  return v;
}

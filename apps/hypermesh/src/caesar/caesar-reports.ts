// The two Caesar calls HyperMesh makes, and what their answers mean for a reporter. Caesar is found
// by name (DNS SRV through TrustChain) with the validator's own identity: reward_block accepts
// only callers of service `hypermesh`.
import type { EquivocationEvidence } from '@stoq/consensus';
import { caesar } from '@stoq/protos';
import { isRpcError, Status, statusName, type RpcClient } from '@stoq/rpc';
import type { ReportAnswer } from './reward-schedule';

export interface CaesarReports {
  rewardBlock(committedBlock: Uint8Array): Promise<caesar.RewardBlockResponse>;
  slash(evidence: caesar.EquivocationEvidence): Promise<caesar.SlashResponse>;
}

/** Calls `caesar/*` through the service's RPC client (resolved by name), each bounded by `timeoutMs`. */
export function caesarOverRpc(client: RpcClient, timeoutMs = 10_000): CaesarReports {
  const M = caesar.CaesarMethods;
  return {
    rewardBlock: (committedBlock) => client.call(M.rewardBlock, { committedBlock }, { timeoutMs }),
    slash: (evidence) => client.call(M.slash, { evidence }, { timeoutMs }),
  };
}

export function evidenceMessage(e: EquivocationEvidence): caesar.EquivocationEvidence {
  const st = (s: EquivocationEvidence['first']): caesar.SignedStatement => ({ height: s.height, blockHash: s.blockHash, signature: s.signature });
  return { kind: e.kind, validator: e.validator, view: e.view, first: st(e.first), second: st(e.second) };
}

export interface Classified {
  answer: ReportAnswer;
  /** APPLIED, ALREADY_APPLIED, NOTHING_TO_SLASH, FAILED, or the status name of an error. */
  outcome: string;
  detail: string;
}

/**
 * INVALID_ARGUMENT is Caesar's verdict that the proof does not verify against its genesis: final.
 * Everything else may change — Caesar down or not in DNS yet, FAILED_PRECONDITION (no genesis,
 * mint/burn account or validator account configured yet), a refused ledger chain — and is retried.
 */
export function classifyError(err: unknown): Classified {
  if (isRpcError(err)) return { answer: err.code === Status.INVALID_ARGUMENT ? 'refused' : 'retry', outcome: statusName(err.code), detail: err.message };
  return { answer: 'retry', outcome: 'ERROR', detail: err instanceof Error ? err.message : String(err) };
}

export function classifyReward(r: caesar.RewardBlockResponse): Classified {
  switch (r.outcome ?? caesar.RewardOutcome.REWARD_APPLIED) {
    case caesar.RewardOutcome.REWARD_APPLIED:
      return { answer: 'settled', outcome: 'APPLIED', detail: '' };
    case caesar.RewardOutcome.REWARD_ALREADY_APPLIED:
      return { answer: 'settled', outcome: 'ALREADY_APPLIED', detail: '' };
    default:
      return { answer: 'retry', outcome: 'FAILED', detail: `the ledger refused the reward chain (results ${JSON.stringify(r.results ?? [])})` };
  }
}

export function classifySlash(r: caesar.SlashResponse): Classified {
  switch (r.outcome ?? caesar.SlashOutcome.SLASH_APPLIED) {
    case caesar.SlashOutcome.SLASH_APPLIED:
      return { answer: 'settled', outcome: 'APPLIED', detail: `burnt ${r.burnt ?? '0'}` };
    case caesar.SlashOutcome.SLASH_ALREADY_APPLIED:
      return { answer: 'settled', outcome: 'ALREADY_APPLIED', detail: '' };
    case caesar.SlashOutcome.SLASH_NOTHING_TO_SLASH:
      return { answer: 'settled', outcome: 'NOTHING_TO_SLASH', detail: 'the offender has no stake' };
    default:
      return { answer: 'retry', outcome: 'FAILED', detail: `the ledger refused the slash chain (results ${JSON.stringify(r.results ?? [])})` };
  }
}

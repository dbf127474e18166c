// One mapping from a submission's outcome to the RPC answer's status, shared by submit,
// validate_* and assets/* (docs/hypermesh-api.md lists the statuses).
import { RpcError, Status } from '@stoq/rpc';
import type { SubmitOutcome } from './validator';

export type Committed = Extract<SubmitOutcome, { kind: 'committed' }>;

/** The committed outcome, or the RpcError the other outcomes mean. */
export function committedOrThrow(out: SubmitOutcome): Committed {
  switch (out.kind) {
    case 'committed':
      return out;
    case 'full':
      throw new RpcError(Status.RESOURCE_EXHAUSTED, 'the mempool is full: retry later (with the same id)');
    case 'too-large':
      throw new RpcError(Status.INVALID_ARGUMENT, 'the operation is larger than a block may carry');
    case 'conflict':
      throw new RpcError(Status.ALREADY_EXISTS, out.detail);
    case 'pruned':
      throw new RpcError(Status.ALREADY_EXISTS, `the operation id was committed at height ${out.height}, a block this validator no longer keeps (its log starts at ${out.oldestKept}): the id is used; submit new work under a new id`);
    case 'stopped':
      throw new RpcError(Status.UNAVAILABLE, 'the validator is stopping: ask another validator');
    case 'refused':
      throw new RpcError(Status.FAILED_PRECONDITION, `the validity check refused the operation: ${out.detail}`);
  }
}

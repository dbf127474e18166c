// hypermesh/consensus/validate_certificate and validate_proofs: the receiving validator verifies
// the four-proof set (proofs/proof-verifier.ts); an invalid set is refused with PERMISSION_DENIED
// naming the failing proof, and nothing is ordered. A valid one is submitted as a typed operation,
// every validator re-verifies it before voting (app/validity.ts), and the answer is its commit:
// height, block hash, QC and the encoded block that carries it.
//
// A set refused only because it is anchored to a block this validator has not committed yet (it
// lags the validator the node took its anchor from) is not refused for good: the request waits up
// to `anchorWaitMs` for the local chain to reach that height and is verified again, or answers
// UNAVAILABLE — retryable, so a caller rotating over validators (TrustChain) asks another one. The vote-time check (app/validity.ts) still refuses
// such a set: a vote is decided on this validator's chain as it is.
import { systemClock, type Clock } from '@stoq/core';
import { hypermesh as proto } from '@stoq/protos';
import { RpcError, Status, type RpcServer } from '@stoq/rpc';
import { qcMessage } from './consensus-service';
import { bodyProblem, operationIdProblem, type Operation, type OperationBody } from './operations';
import type { ProofVerdict, ProofVerifier } from './proofs/proof-verifier';
import { verifyValidation } from './app/validity';
import type { ValidatorStore } from './store/validator-store';
import { committedOrThrow } from './submit-outcome';
import type { Validator } from './validator';

const M = proto.ConsensusMethods;
const bytes = (b: Uint8Array | null | undefined): Uint8Array => (b ? new Uint8Array(b) : new Uint8Array(0));

export interface ValidationServiceDeps {
  validator: Validator;
  store: ValidatorStore;
  /** null: the chain has no four-proof configuration (FAILED_PRECONDITION). */
  verifier: ProofVerifier | null;
  /** Wall-clock ms since the epoch. */
  wallClock(): number;
  /** Timers for the anchor wait (default systemClock). */
  clock?: Clock;
  /** Longest wait for the local chain to commit a set's anchor (default 1,000 ms). */
  anchorWaitMs?: number;
}

export const DEFAULT_ANCHOR_WAIT_MS = 1_000;

/** Resolves true once the validator's committed height reaches `height`, false after `ms` or on abort. */
export function committedHeightReached(validator: Validator, height: number, ms: number, clock: Clock, signal: AbortSignal): Promise<boolean> {
  if (validator.status().committedHeight >= height) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const done = (reached: boolean): void => {
      unsubscribe();
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(reached);
    };
    const onAbort = (): void => done(false);
    const unsubscribe = validator.onCommit((c) => {
      if (c.block.height >= height) done(true);
    });
    const timer = clock.setTimeout(() => done(false), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function addValidationMethods(rpc: RpcServer, d: ValidationServiceDeps): void {
  rpc.addMethod(
    M.validateCertificate,
    (req, ctx) => {
      const requestId = req.requestId ?? '';
      // proof_hash is filled in once the set verified; bodyProblem checks the rest.
      const body: OperationBody = { kind: 'certificate.validate', csrHash: bytes(req.csrHash), keyBinding: bytes(req.keyBinding), proofHash: new Uint8Array(32), proofSet: bytes(req.proofSet) };
      return validate(d, requestId, body, ctx.signal);
    },
    { authorize: 'any-authenticated' },
  );
  rpc.addMethod(
    M.validateProofs,
    (req, ctx) => {
      const requestId = req.requestId ?? '';
      const body: OperationBody = { kind: 'proofs.validate', operation: req.operation ?? '', assetId: req.assetId ?? '', nodeId: bytes(req.nodeId), proofHash: new Uint8Array(32), proofSet: bytes(req.proofSet) };
      return validate(d, requestId, body, ctx.signal);
    },
    { authorize: 'any-authenticated' },
  );
}

async function validate(d: ValidationServiceDeps, requestId: string, body: Extract<OperationBody, { kind: 'certificate.validate' | 'proofs.validate' }>, signal: AbortSignal): Promise<proto.ProofValidation> {
  const problem = operationIdProblem(requestId, 'request_id') ?? bodyProblem(body);
  if (problem) throw new RpcError(Status.INVALID_ARGUMENT, problem);
  if (d.validator.stopped) throw new RpcError(Status.UNAVAILABLE, 'the validator is stopping');
  // A request committed before answers with its commit, whatever the clock says now (the proofs
  // may have aged out of their time window since): idempotent by request id.
  const earlier = d.validator.committedValidation(requestId, body);
  let op: Operation;
  const committedAt = earlier ? null : d.store.operationHeight(requestId);
  if (committedAt !== null) throw new RpcError(Status.ALREADY_EXISTS, `request ${requestId} was committed at height ${committedAt} with another request`);
  if (earlier) op = earlier;
  else {
    const verifyNow = (): ProofVerdict => {
      const s = d.validator.status();
      const v = verifyValidation({ operationId: requestId, body }, d.verifier, d.wallClock(), { height: s.committedHeight + 1, committedHash: (h) => d.validator.replica.committedHash(h) ?? d.store.blockHashAt(h), lastSequence: (n) => d.store.lastSequence(n) });
      if (v === null) throw new Error('unreachable: a validation body has a verdict');
      return v;
    };
    let verdict = verifyNow();
    if (!verdict.valid && verdict.anchorAhead !== undefined) {
      const anchored = verdict.anchorAhead;
      const reached = await committedHeightReached(d.validator, anchored, d.anchorWaitMs ?? DEFAULT_ANCHOR_WAIT_MS, d.clock ?? systemClock, signal);
      if (!reached) throw new RpcError(Status.UNAVAILABLE, `the proofs are anchored to block ${anchored}, which this validator has not committed yet (its committed height is ${d.validator.status().committedHeight}): retry, or ask another validator`);
      verdict = verifyNow();
    }
    if (!verdict.valid) {
      if (verdict.code === 'NOT_CONFIGURED') throw new RpcError(Status.FAILED_PRECONDITION, verdict.detail);
      throw new RpcError(Status.PERMISSION_DENIED, `four-proof set refused: ${verdict.detail}`, { 'four-proof-code': verdict.code, 'four-proof-field': verdict.field });
    }
    op = { operationId: requestId, body: { ...body, proofHash: verdict.proofHash } };
  }
  const out = committedOrThrow(await d.validator.submitOperation(op, signal));
  const encodedBlock = d.store.blockRecord(out.height);
  if (!encodedBlock) throw new RpcError(Status.INTERNAL, `block ${out.height} is not in the block log`);
  // Committed but refused by the state (a replay of the node's sequence, settled in commit order).
  const r = out.result;
  const refused = r !== null && r.outcome === 'refused' && r.code === 'STALE' ? r : null;
  return {
    valid: refused === null,
    code: refused?.code ?? '',
    field: refused?.field ?? '',
    detail: refused?.detail ?? '',
    proofHash: (op.body as { proofHash: Uint8Array }).proofHash,
    height: out.height,
    blockHash: out.blockHash,
    qc: qcMessage(out.qc),
    encodedBlock,
    duplicate: out.duplicate,
  };
}

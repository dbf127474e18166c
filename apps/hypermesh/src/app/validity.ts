// The validity check every validator runs on each operation before it votes for a block that
// carries it, and as leader before proposing it (ReplicaOptions.validateOperation): the bytes must
// be a well-formed typed Operation (operations.ts), and a four-proof validation must verify now,
// against this validator's clock and committed chain (proofs/proof-verifier.ts). The clock only
// decides this validator's vote; applying a committed operation never reads it (app/apply.ts).
import type { OperationCheck } from '@stoq/consensus';
import { parseOperation, type Operation } from '../operations';
import type { ChainView, ProofVerdict, ProofVerifier } from '../proofs/proof-verifier';

export interface ValidityOptions {
  /** null: the chain has no four-proof configuration, and validations are refused. */
  verifier: ProofVerifier | null;
  /** Wall-clock milliseconds since the epoch (PoStake expiry, PoTime window). */
  wallClock(): number;
  /** The node's last validated PoTime sequence in this validator's applied state. */
  lastSequence?(nodeId: Uint8Array): bigint | undefined;
  /** Whether an operation id is already committed (its later copies change nothing when applied). */
  isCommitted?(operationId: string): boolean;
  /**
   * Committed block hashes the replica does not hold (below a snapshot this validator installed:
   * ValidatorStore.blockHashAt), for PoTime anchors.
   */
  blockHashAt?(height: number): string | undefined;
}

/** The four-proof verdict for a validation operation (null for other kinds). */
export function verifyValidation(op: Operation, verifier: ProofVerifier | null, now: number, chain: ChainView): ProofVerdict | null {
  const b = op.body;
  if (b.kind !== 'certificate.validate' && b.kind !== 'proofs.validate') return null;
  if (verifier === null) return { valid: false, code: 'NOT_CONFIGURED', field: 'genesis.fourProof', detail: 'this chain has no four-proof configuration (genesis fourProof)' };
  return b.kind === 'certificate.validate'
    ? verifier.verifyCertificateRequest({ keyBinding: b.keyBinding, proofSet: b.proofSet }, now, chain)
    : verifier.verifyProofs({ operation: b.operation, assetId: b.assetId, nodeId: b.nodeId, proofSet: b.proofSet }, now, chain);
}

export function operationValidity(o: ValidityOptions): OperationCheck {
  return (bytes, ctx) => {
    const op = parseOperation(bytes);
    if ('problem' in op) return { detail: op.problem };
    // A copy of a committed operation (a re-submission, a re-proposed abandoned block) applies as
    // nothing; re-verifying it would refuse it as a replay of its own sequence and cost a view.
    if (o.isCommitted?.(op.operationId)) return null;
    const verdict = verifyValidation(op, o.verifier, o.wallClock(), { height: ctx.height, committedHash: (h) => ctx.committedHash(h) ?? o.blockHashAt?.(h), ...(o.lastSequence ? { lastSequence: o.lastSequence } : {}) });
    if (verdict === null) return null;
    if (!verdict.valid) return { detail: `operation ${op.operationId}: ${verdict.detail}` };
    const b = op.body as { proofHash: Uint8Array };
    // The ordered proof hash is what answers carry and auditors compare: it must be the set's.
    if (!Buffer.from(b.proofHash).equals(Buffer.from(verdict.proofHash))) return { detail: `operation ${op.operationId}: proof_hash is not the hash of its proof set` };
    return null;
  };
}

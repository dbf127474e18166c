// Does a HyperMesh commit approve this certificate request? Pure: the validator set (from the
// genesis file) and a FALCON verifier are passed in.
//
// Nobody's word counts: the evidence is the committed block itself (encodeCommittedBlock bytes)
// whose hash the QC's 2f+1 genesis-validator signatures certify, and that block must contain a
// `certificate_validation` operation for these keys (and, when the checker knows them, this CSR
// and this proof set). TrustChain runs it before issuing; an auditor runs it on a certificate's
// ConsensusApproval with the block fetched back from any validator.
import { createHash } from 'node:crypto';
import { RejectCode, verifyCommittedBlock, type SignatureVerifier, type ValidatorSet } from '@stoq/consensus';
import type { ConsensusApproval } from '@stoq/core';
import { hypermesh } from '@stoq/protos';
import { ApprovalError } from './errors';

export interface ApprovalExpectation {
  /** certificateKeyBinding of the certificate's (or CSR's) TLS SPKI and FALCON key. */
  readonly keyBinding: Uint8Array;
  /** SHA-256 of the CSR DER, when known (TrustChain knows it; a certificate does not carry it). */
  readonly csrHash?: Uint8Array;
  /** fourProofSetHash of the set, when known. */
  readonly proofHash?: Uint8Array;
}

export interface CheckedApproval extends ConsensusApproval {
  readonly committedBlock: Uint8Array;
}

const equal = (a: Uint8Array | null | undefined, b: Uint8Array): boolean => a instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));

/** Throws ApprovalError naming what does not hold. */
export function checkCertificateApproval(encodedBlock: Uint8Array, set: ValidatorSet, verifier: SignatureVerifier, expect: ApprovalExpectation): CheckedApproval {
  const proof = verifyCommittedBlock(encodedBlock, set, verifier);
  if (!proof.ok) {
    const { code, detail } = proof.rejection;
    if (code === RejectCode.MALFORMED || code === RejectCode.OVERSIZED) throw new ApprovalError('NOT_A_COMMITTED_BLOCK', `the encoded block is ${detail}`);
    if (code === RejectCode.INVALID_BLOCK) throw new ApprovalError('QC_MISMATCH', detail);
    throw new ApprovalError('QC_INVALID', `the QC does not verify against the genesis validator set (${code}: ${detail})`);
  }
  const { block, hash } = proof.committed;
  const found = block.payload.some((bytes) => {
    let op: hypermesh.Operation;
    try {
      op = hypermesh.OperationType.decode(bytes) as unknown as hypermesh.Operation;
    } catch {
      return false;
    }
    const v = op.certificateValidation;
    return !!v && equal(v.keyBinding, expect.keyBinding) && (!expect.csrHash || equal(v.csrHash, expect.csrHash)) && (!expect.proofHash || equal(v.proofHash, expect.proofHash));
  });
  if (!found) throw new ApprovalError('REQUEST_NOT_IN_BLOCK', `block ${block.height} holds no certificate validation for these keys${expect.csrHash ? ', this CSR' : ''}${expect.proofHash ? ' and this proof set' : ''}`);
  return {
    blockHeight: block.height,
    blockHash: hash,
    commitHash: createHash('sha256').update(encodedBlock).digest('hex'),
    committedBlock: encodedBlock,
  };
}

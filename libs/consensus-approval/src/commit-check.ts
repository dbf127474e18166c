// Does a HyperMesh commit approve this certificate request? Pure: the validator set (from the
// genesis file TrustChain is configured with) and a FALCON verifier are passed in.
//
// TrustChain trusts no validator's word: the answer must carry the committed block itself
// (encodeCommittedBlock bytes) whose hash the QC's 2f+1 signatures certify, and that block must
// contain a `certificate_validation` operation for exactly this CSR, these keys and this proof
// set. Only then is a certificate issued, with the block height, block hash and the hash of the
// verified bytes in its ConsensusApproval extension, so an auditor can repeat the check.
import { createHash } from 'node:crypto';
import { computeBlockHash, decodeCommittedBlock, verifyQuorumCertificate, type SignatureVerifier, type ValidatorSet } from '@stoq/consensus';
import type { ConsensusApproval } from '@stoq/core';
import { hypermesh } from '@stoq/protos';
import { TrustChainError } from '../core/errors';

export interface ApprovalExpectation {
  readonly csrHash: Uint8Array;
  readonly keyBinding: Uint8Array;
  readonly proofHash: Uint8Array;
}

export interface CheckedApproval extends ConsensusApproval {
  readonly committedBlock: Uint8Array;
}

const equal = (a: Uint8Array | null | undefined, b: Uint8Array): boolean => a instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));

function refused(detail: string): TrustChainError {
  return new TrustChainError('CONSENSUS_UNVERIFIED', `HyperMesh's answer does not prove the approval: ${detail}; no certificate was issued`);
}

/** Throws TrustChainError CONSENSUS_UNVERIFIED naming what does not hold. */
export function checkCertificateApproval(encodedBlock: Uint8Array, set: ValidatorSet, verifier: SignatureVerifier, expect: ApprovalExpectation): CheckedApproval {
  let committed;
  try {
    committed = decodeCommittedBlock(encodedBlock);
  } catch (err) {
    throw refused(`encoded_block is not a committed block (${(err as Error).message})`);
  }
  const { block, qc } = committed;
  const hash = computeBlockHash(set.chainTag, block);
  if (hash !== committed.hash || qc.blockHash !== hash || qc.height !== block.height) {
    throw refused(`the QC certifies block ${qc.height}/${qc.blockHash.slice(0, 16)}, not the block sent (${block.height}/${hash.slice(0, 16)}) of this chain`);
  }
  const verdict = verifyQuorumCertificate(qc, set, verifier);
  if (!verdict.ok) throw refused(`the QC does not verify against the genesis validator set (${verdict.rejection.code}: ${verdict.rejection.detail})`);
  const found = block.payload.some((bytes) => {
    let op: hypermesh.Operation;
    try {
      op = hypermesh.OperationType.decode(bytes) as unknown as hypermesh.Operation;
    } catch {
      return false;
    }
    const v = op.certificateValidation;
    return !!v && equal(v.csrHash, expect.csrHash) && equal(v.keyBinding, expect.keyBinding) && equal(v.proofHash, expect.proofHash);
  });
  if (!found) throw refused(`block ${block.height} holds no certificate validation for this CSR, key binding and proof set`);
  return {
    blockHeight: block.height,
    blockHash: hash,
    commitHash: createHash('sha256').update(encodedBlock).digest('hex'),
    committedBlock: encodedBlock,
  };
}

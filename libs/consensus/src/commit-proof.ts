// A committed block as evidence for other services: its encoding (encodeCommittedBlock, what
// validators serve from `consensus/block` and return from validations), checked against the
// genesis validator set alone. Caesar rewards a block's signers on it; TrustChain and auditors
// check certificate approvals on it.
import type { SignatureVerifier } from './crypto';
import { verifyQuorumCertificate } from './certificates';
import { decodeCommittedBlock, DEFAULT_LIMITS, type ConsensusLimits } from './codec';
import { computeBlockHash } from './signing';
import type { CommittedBlock } from './types';
import type { ValidatorSet } from './validators';
import { reject, RejectCode, type Verdict } from './verdict';

export type CommitProof = { ok: true; committed: CommittedBlock } | Exclude<Verdict, { ok: true }>;

/**
 * The block, when the bytes decode, their hash (with this chain's tag) is the one stored and the
 * one the QC certifies at the same height, and the QC has a quorum of valid signatures of the set.
 */
export function verifyCommittedBlock(encoded: Uint8Array, set: ValidatorSet, verifier: SignatureVerifier, limits: ConsensusLimits = DEFAULT_LIMITS): CommitProof {
  let committed: CommittedBlock;
  try {
    committed = decodeCommittedBlock(encoded, limits);
  } catch (err) {
    return reject(RejectCode.MALFORMED, `not a committed block: ${(err as Error).message}`);
  }
  const { block, qc } = committed;
  const hash = computeBlockHash(set.chainTag, block);
  if (hash !== committed.hash || qc.blockHash !== hash || qc.height !== block.height) {
    return reject(RejectCode.INVALID_BLOCK, `the QC certifies block ${qc.height}/${qc.blockHash.slice(0, 16)}, not the block sent (${block.height}/${hash.slice(0, 16)}) of this chain`);
  }
  const verdict = verifyQuorumCertificate(qc, set, verifier);
  if (!verdict.ok) return verdict;
  return { ok: true, committed };
}

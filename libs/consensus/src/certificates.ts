// Quorum and timeout certificate verification, usable by anyone holding the validator set
// (TrustChain re-checks HyperMesh QCs with verifyQuorumCertificate).
import { verifyAll, type SignatureVerifier, type SignedItem } from './crypto';
import { timeoutSigningBytes, voteSigningBytes } from './signing';
import type { QuorumCertificate, TimeoutCertificate } from './types';
import type { ValidatorSet } from './validators';
import { OK, reject, RejectCode, type Verdict } from './verdict';
import { isBlockHash } from './hash';

/**
 * A QC is valid when its signers are distinct validators, in increasing id order, whose weight
 * reaches the quorum, and every signature verifies over (height, view, blockHash). The genesis QC
 * (view 0, no signatures) is valid for the genesis block only.
 */
export function verifyQuorumCertificate(qc: QuorumCertificate, validatorSet: ValidatorSet, verifier: SignatureVerifier): Verdict {
  return checkQuorumCertificate(qc, validatorSet, verifier, validatorSet.quorumWeight);
}

/** @internal verifyQuorumCertificate with an explicit quorum (the replica's, see Replica mutations). */
export function checkQuorumCertificate(qc: QuorumCertificate, set: ValidatorSet, verifier: SignatureVerifier, quorumWeight: number): Verdict {
  if (qc.view === 0) {
    return set.isGenesisQc(qc) ? OK : reject(RejectCode.INVALID_QC, 'a view-0 QC must be the genesis QC');
  }
  if (!isBlockHash(qc.blockHash) || !Number.isSafeInteger(qc.height) || qc.height < 1) return reject(RejectCode.INVALID_QC, 'malformed QC fields');
  const message = voteSigningBytes(set.chainTag, qc.view, qc.height, qc.blockHash);
  const items: SignedItem[] = [];
  let weight = 0;
  let prev = -1;
  for (const s of qc.signatures) {
    if (!set.has(s.validator)) return reject(RejectCode.INVALID_QC, `QC signer ${s.validator} is not a validator`);
    if (s.validator <= prev) return reject(RejectCode.INVALID_QC, 'QC signers not distinct and ordered');
    prev = s.validator;
    weight += set.weightOf(s.validator);
    items.push({ validator: s.validator, publicKey: set.publicKeyOf(s.validator), message, signature: s.signature });
  }
  if (weight < quorumWeight) return reject(RejectCode.INVALID_QC, `QC weight ${weight} < quorum ${quorumWeight}`);
  const verdicts = verifyAll(verifier, items);
  const bad = verdicts.indexOf(false);
  if (bad >= 0) return reject(RejectCode.INVALID_QC, `QC signature of validator ${items[bad]!.validator} does not verify`);
  return OK;
}

/**
 * A TC for view v is valid when a quorum signed (v, highQcView_i), its highQc is valid, and the
 * highQc is the highest any signer reported (so a proposal justified by it cannot go below it).
 */
export function verifyTimeoutCertificate(tc: TimeoutCertificate, validatorSet: ValidatorSet, verifier: SignatureVerifier): Verdict {
  return checkTimeoutCertificate(tc, validatorSet, verifier, validatorSet.quorumWeight);
}

/** @internal */
export function checkTimeoutCertificate(tc: TimeoutCertificate, set: ValidatorSet, verifier: SignatureVerifier, quorumWeight: number): Verdict {
  if (!Number.isSafeInteger(tc.view) || tc.view < 1) return reject(RejectCode.INVALID_TC, 'TC view must be >= 1');
  let weight = 0;
  let prev = -1;
  let maxHigh = -1;
  const items: SignedItem[] = [];
  for (const s of tc.signatures) {
    if (!set.has(s.validator)) return reject(RejectCode.INVALID_TC, `TC signer ${s.validator} is not a validator`);
    if (s.validator <= prev) return reject(RejectCode.INVALID_TC, 'TC signers not distinct and ordered');
    if (s.highQcView >= tc.view) return reject(RejectCode.INVALID_TC, 'a timeout cannot report a QC from its own view or later');
    prev = s.validator;
    weight += set.weightOf(s.validator);
    maxHigh = Math.max(maxHigh, s.highQcView);
    items.push({ validator: s.validator, publicKey: set.publicKeyOf(s.validator), message: timeoutSigningBytes(set.chainTag, tc.view, s.highQcView), signature: s.signature });
  }
  if (weight < quorumWeight) return reject(RejectCode.INVALID_TC, `TC weight ${weight} < quorum ${quorumWeight}`);
  if (tc.highQc.view !== maxHigh) return reject(RejectCode.INVALID_TC, `TC high QC view ${tc.highQc.view} is not the highest reported (${maxHigh})`);
  const verdicts = verifyAll(verifier, items);
  const bad = verdicts.indexOf(false);
  if (bad >= 0) return reject(RejectCode.INVALID_TC, `TC signature of validator ${items[bad]!.validator} does not verify`);
  const qc = checkQuorumCertificate(tc.highQc, set, verifier, quorumWeight);
  if (!qc.ok) return reject(RejectCode.INVALID_TC, `TC high QC: ${qc.rejection.detail}`);
  return OK;
}

// Auditing an earned certificate offline: its ConsensusApproval names a HyperMesh block; given
// that block's encodeCommittedBlock bytes (from any validator: `hypermesh/consensus/block`, field
// `encoded`) and the genesis, check that it is that block, that 2f+1 genesis validators certified
// it, and that it holds the validation of exactly this certificate's keys.
import type { SignatureVerifier, ValidatorSet } from '@stoq/consensus';
import { parseHybridCertificate, type ConsensusApproval } from '@stoq/core';
import { certificateKeyBinding } from '@stoq/four-proof';
import { checkCertificateApproval } from './commit-check';
import { ApprovalError } from './errors';

/** The approval a certificate claims, or NOT_EARNED. */
export function approvalOf(certificateDer: Uint8Array): ConsensusApproval {
  const cert = parseHybridCertificate(certificateDer);
  if (!cert.consensusApproval) throw new ApprovalError('NOT_EARNED', 'the certificate has no ConsensusApproval extension: it was not issued the earned way (issue_certificate)');
  return cert.consensusApproval;
}

/** Throws ApprovalError unless `encodedBlock` is the certified block that approved this certificate. */
export function auditCertificateApproval(certificateDer: Uint8Array, encodedBlock: Uint8Array, set: ValidatorSet, verifier: SignatureVerifier): ConsensusApproval {
  const cert = parseHybridCertificate(certificateDer);
  const claimed = approvalOf(certificateDer);
  const checked = checkCertificateApproval(encodedBlock, set, verifier, { keyBinding: certificateKeyBinding(cert.spkiDer, cert.falconPublicKey) });
  if (checked.blockHeight !== claimed.blockHeight || checked.blockHash !== claimed.blockHash) {
    throw new ApprovalError('BLOCK_MISMATCH', `the certificate names block ${claimed.blockHeight}/${claimed.blockHash.slice(0, 16)}, the block given is ${checked.blockHeight}/${checked.blockHash.slice(0, 16)}`);
  }
  return claimed;
}

// @stoq/consensus-approval: whether a HyperMesh commit approves a certificate (TrustChain before
// issuing, auditors afterwards). See README.md.
export { checkCertificateApproval, type ApprovalExpectation, type CheckedApproval } from './commit-check';
export { auditCertificateApproval, approvalOf } from './audit';
export { ApprovalError, type ApprovalErrorCode } from './errors';
export { falconSignatureVerifier } from './falcon-verifier';

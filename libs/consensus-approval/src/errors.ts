/** Why a commit does not prove a certificate's approval. */
export type ApprovalErrorCode =
  | 'NOT_A_COMMITTED_BLOCK'
  | 'QC_MISMATCH'
  | 'QC_INVALID'
  | 'REQUEST_NOT_IN_BLOCK'
  /** The certificate has no ConsensusApproval extension (it was not earned). */
  | 'NOT_EARNED'
  /** The block fetched back is not the one the certificate names (height or hash). */
  | 'BLOCK_MISMATCH';

export class ApprovalError extends Error {
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}

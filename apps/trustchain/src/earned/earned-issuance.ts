// trustchain/issue_certificate, the earned path for nodes outside the genesis set:
//   1. the CSR and its FALCON proof (as for enrollment), and the names it asks for;
//   2. the four-proof set decodes and is bound to this CSR's keys (certificateKeyBinding), so a
//      set earned for one key pair cannot certify another;
//   3. HyperMesh (`hypermesh/consensus/validate_certificate`): every validator verifies the set
//      before voting, the validation is committed, the answer carries the committing block;
//   4. that block and its QC are verified against the genesis validator set (@stoq/consensus-approval);
//   5. the leaf is issued with the ConsensusApproval extension, recorded and CT-logged like any
//      other issuance (Issuer).
// Any failure before 5 issues nothing and logs nothing in CT.
import { createHash } from 'node:crypto';
import type { SignatureVerifier, ValidatorSet } from '@stoq/consensus';
import type { ParsedCsr } from '@stoq/core';
import { FourProofError, certificateKeyBinding, checkCertificateRequestContext, decodeFourProofSet, fourProofSetHash } from '@stoq/four-proof';
import type { hypermesh } from '@stoq/protos';
import { RpcError, Status } from '@stoq/rpc';
import type { Logger } from 'pino';
import type { IssueResult, Issuer } from '../ca/issuer';
import { TrustChainError } from '../core/errors';
import { OWN_ADMIN } from '../core/tokens';
import { certificateNames, type CertificateNames } from '../core/issuance-policy';
import { ApprovalError, checkCertificateApproval, type CheckedApproval } from '@stoq/consensus-approval';

/** The refusal issue_certificate answers with while no validator set is configured. */
export const NO_VALIDATOR_SET_MESSAGE = 'no HyperMesh validator set configured (trustchain serve --hypermesh-genesis <file>)';
/** Largest proof_set issue_certificate takes (bytes). */
export const MAX_PROOF_SET_BYTES = 1 << 20;
/** How long HyperMesh has to commit a validation (ms). */
export const DEFAULT_VALIDATION_TIMEOUT_MS = 15_000;

/** What TrustChain needs from HyperMesh. */
export interface CertificateValidationClient {
  validateCertificate(request: hypermesh.ValidateCertificateRequest, timeoutMs: number): Promise<hypermesh.ProofValidation>;
}

export interface EarnedIssuanceOptions {
  readonly issuer: Issuer;
  readonly hypermesh: CertificateValidationClient;
  /**
   * The genesis validator set whose QCs TrustChain accepts, or null while it is not known yet
   * (the genesis file is written after the validators enroll; it is read when it appears).
   */
  readonly validatorSet: () => ValidatorSet | null;
  readonly verifier: SignatureVerifier;
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

export interface EarnedResult extends IssueResult {
  readonly approval: CheckedApproval;
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The names a CSR may earn: its own, checked as for any issuance, and never an administrator or
 * TrustChain's own service (an administrator comes only from TrustChain itself or an explicit
 * admin token).
 */
export function earnedNames(csr: ParsedCsr): CertificateNames {
  const names = certificateNames(csr, csr.service);
  if (names.service === OWN_ADMIN.service || names.service === 'trustchain') {
    throw new TrustChainError('NAME_NOT_ALLOWED', `service "${names.service}" is not earned with proofs (${names.service === 'trustchain' ? "TrustChain's own identity" : 'administrators enroll with an admin token: trustchain token create --admin'})`);
  }
  return names;
}

export class EarnedIssuance {
  constructor(private readonly opts: EarnedIssuanceOptions) {}

  async issue(csrDer: Uint8Array, falconSignature: Uint8Array, proofSet: Uint8Array): Promise<EarnedResult> {
    const { issuer, logger } = this.opts;
    const csr = issuer.checkCsr(csrDer, falconSignature);
    const names = earnedNames(csr);
    checkProofSetSize(proofSet);
    let validatorSet: ValidatorSet | null;
    try {
      validatorSet = this.opts.validatorSet();
    } catch (err) {
      throw new TrustChainError('NO_VALIDATOR_SET', `${NO_VALIDATOR_SET_MESSAGE}: ${(err as Error).message}`, { cause: err });
    }
    if (!validatorSet) throw new TrustChainError('NO_VALIDATOR_SET', `${NO_VALIDATOR_SET_MESSAGE}: the genesis file does not exist yet`);
    const keyBinding = certificateKeyBinding(csr.spkiDer, csr.falconPublicKey);
    let stakeExpiresAt: number;
    try {
      const set = decodeFourProofSet(proofSet, { maxBytes: MAX_PROOF_SET_BYTES });
      checkCertificateRequestContext(set.context, keyBinding);
      stakeExpiresAt = set.stake.attestation.expiresAtMs;
    } catch (err) {
      if (!(err instanceof FourProofError)) throw err;
      if (err.code === 'DECODE' || err.code === 'PROOF_MISSING') throw new TrustChainError('INVALID_ARGUMENT', `proof_set: ${err.message}`, { cause: err });
      throw new TrustChainError('PROOFS_REFUSED', `proof_set: ${err.message}`, { cause: err });
    }
    const csrHash = sha256(csr.der);
    const proofHash = fourProofSetHash(proofSet);
    const request = { requestId: `certificate-${hex(csrHash)}`, csrHash, keyBinding, proofSet };
    let validation: hypermesh.ProofValidation;
    try {
      validation = await this.opts.hypermesh.validateCertificate(request, this.opts.timeoutMs ?? DEFAULT_VALIDATION_TIMEOUT_MS);
    } catch (err) {
      throw consensusFailure(err);
    }
    if (!validation.valid) {
      throw new TrustChainError('PROOFS_REFUSED', `HyperMesh refused the proof set: ${validation.code ?? ''} at ${validation.field ?? ''}: ${validation.detail ?? ''}`);
    }
    let approval: CheckedApproval;
    try {
      approval = checkCertificateApproval(validation.encodedBlock ?? new Uint8Array(0), validatorSet, this.opts.verifier, { csrHash, keyBinding, proofHash });
    } catch (err) {
      if (!(err instanceof ApprovalError)) throw err;
      throw new TrustChainError('CONSENSUS_UNVERIFIED', `HyperMesh's answer does not prove the approval (${err.code}): ${err.message}; no certificate was issued`, { cause: err });
    }
    const issued = await issuer.issueEarned(csr, names, approval, stakeExpiresAt);
    logger.info({ serial: issued.serial, service: names.service, instance: names.instance, height: approval.blockHeight, block: approval.blockHash }, 'earned certificate issued');
    return { ...issued, approval };
  }
}

/** INVALID_ARGUMENT for an empty or oversized proof_set (checked with or without a validator set). */
export function checkProofSetSize(proofSet: Uint8Array): void {
  if (proofSet.length === 0) throw new TrustChainError('INVALID_ARGUMENT', "proof_set is empty: the earned path needs a four-proof set committing to the CSR's keys");
  if (proofSet.length > MAX_PROOF_SET_BYTES) throw new TrustChainError('INVALID_ARGUMENT', `proof_set is ${proofSet.length} bytes; at most ${MAX_PROOF_SET_BYTES}`);
}

function consensusFailure(err: unknown): TrustChainError {
  if (err instanceof RpcError) {
    if (err.code === Status.PERMISSION_DENIED || err.code === Status.INVALID_ARGUMENT) {
      // The validators refused the set; their message names the proof (FourProofError code and field).
      return new TrustChainError('PROOFS_REFUSED', `HyperMesh refused the proof set: ${err.message}`, { cause: err });
    }
    return new TrustChainError('CONSENSUS_UNAVAILABLE', `HyperMesh did not commit the validation (${Status[err.code] ?? err.code}: ${err.message}); no certificate was issued, retry later`, { cause: err });
  }
  return new TrustChainError('CONSENSUS_UNAVAILABLE', `HyperMesh could not be asked: ${(err as Error).message}; no certificate was issued`, { cause: err });
}

// Verifying what reward_block and slash carry, before any money moves. Caesar trusts no caller:
// a committed block or equivocation evidence counts only if HyperMesh's genesis validators signed
// it — the same genesis file the validators start from (`caesar serve --hypermesh-genesis`), the
// same FALCON-1024 signatures and signing bytes as libs/consensus.
//
//   reward_block  the block's encodeCommittedBlock bytes: its hash (with the chain tag) is the one
//                 its QC certifies, and the QC holds a quorum of valid genesis signatures
//                 (verifyCommittedBlock). The QC's signers are rewarded.
//   slash         EquivocationEvidence: two statements of one validator for one view naming
//                 different blocks, both signatures valid (verifyEquivocationEvidence).
//
// Which Caesar account stakes for which validator is the operator's statement
// (`--validator-account <instance>=<account>`): a signer without one is not paid, an offender
// without one cannot be slashed, and Caesar says so. Without a genesis every call is refused
// with FAILED_PRECONDITION naming what is missing.
import { createHash } from 'node:crypto';
import { verifyCommittedBlock, verifyEquivocationEvidence, type EquivocationEvidence, type LoadedGenesis, type SignatureVerifier } from '@stoq/consensus';

export interface ValidatorBook {
  /** The HyperMesh genesis, or null while its file does not exist yet. */
  genesis(): LoadedGenesis | null;
  /** Validator instance name → the Caesar account that stakes for it. */
  readonly accounts: ReadonlyMap<string, bigint>;
}

export interface Signer {
  readonly validator: number;
  readonly instance: string;
  /** Its Caesar staking account, or null when none is configured. */
  readonly account: bigint | null;
}

export interface RewardedBlock {
  readonly height: number;
  /** The block hash (32 bytes): what the reward's transfer ids derive from. */
  readonly hash: Uint8Array;
  readonly signers: readonly Signer[];
}

export interface Offence extends Signer {
  /** Identifies the offence (kind, validator, view): one slash per offence, however reported. */
  readonly digest: Uint8Array;
}

export type ProofVerdict<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string; readonly unconfigured?: boolean };

export interface ProofVerifier {
  verifyCommittedBlock(encoded: Uint8Array): ProofVerdict<RewardedBlock>;
  verifyEquivocation(evidence: EquivocationEvidence): ProofVerdict<Offence>;
}

const NO_GENESIS = 'Caesar has no HyperMesh genesis (caesar serve --hypermesh-genesis FILE), so no QC or evidence can be verified (and none is taken on trust)';

export class GenesisVerifier implements ProofVerifier {
  constructor(
    private readonly book: ValidatorBook | null,
    private readonly verifier: SignatureVerifier,
  ) {}

  verifyCommittedBlock(encoded: Uint8Array): ProofVerdict<RewardedBlock> {
    const g = this.book?.genesis() ?? null;
    if (!g) return { ok: false, reason: NO_GENESIS, unconfigured: true };
    const proof = verifyCommittedBlock(encoded, g.validatorSet, this.verifier);
    if (!proof.ok) return { ok: false, reason: `${proof.rejection.code}: ${proof.rejection.detail}` };
    const { block, hash, qc } = proof.committed;
    return { ok: true, value: { height: block.height, hash: Uint8Array.from(Buffer.from(hash, 'hex')), signers: qc.signatures.map((s) => this.signer(g, s.validator)) } };
  }

  verifyEquivocation(evidence: EquivocationEvidence): ProofVerdict<Offence> {
    const g = this.book?.genesis() ?? null;
    if (!g) return { ok: false, reason: NO_GENESIS, unconfigured: true };
    const verdict = verifyEquivocationEvidence(evidence, g.validatorSet, this.verifier);
    if (!verdict.ok) return { ok: false, reason: `${verdict.rejection.code}: ${verdict.rejection.detail}` };
    const id = Buffer.alloc(12);
    id.writeUInt32BE(evidence.validator, 0);
    id.writeBigUInt64BE(BigInt(evidence.view), 4);
    const digest = createHash('sha256').update('caesar equivocation v2\0').update(g.sha256).update(evidence.kind).update(id).digest();
    return { ok: true, value: { ...this.signer(g, evidence.validator), digest: new Uint8Array(digest) } };
  }

  private signer(g: LoadedGenesis, validator: number): Signer {
    const instance = g.validators[validator]?.instance ?? `validator-${validator}`;
    return { validator, instance, account: this.book?.accounts.get(instance) ?? null };
  }
}

// The one place HyperMesh verifies four-proof sets (libs/four-proof). Everything a verdict
// depends on comes in: the chain's four-proof configuration from genesis (ledger key, minimum
// parameters, anchor window), the verifier's clock, and a view of the committed chain for PoTime's
// anchor. Used with the same rules by the validator that takes the request (to refuse an invalid
// set with its reason before ordering anything) and by every validator's validity check before it
// proposes or votes for a block carrying the request (app/validity.ts). A set this verifier has
// verified before (the same bytes for the same binding: verified-sets.ts) is not verified again;
// the rules that depend on the clock and the chain are checked again on every use.
import {
  checkCertificateRequestContext,
  decodeFourProofSet,
  DEFAULT_PARAMS,
  FourProofError,
  resolveParams,
  verifyFourProofSet,
  type BlockAnchor,
  type FourProofParams,
  type FourProofSet,
  type LedgerPublicKey,
} from '@stoq/four-proof';
import type { ValidationBody } from '../app/apply';
import { verifiedSetKey, VerifiedSets, type SetBinding, type VerifiedSet } from './verified-sets';

export interface ProofVerifierConfig {
  /** Caesar's stake-attestation key: { algorithm: 'falcon-1024', publicKey }, or a P-256/Ed25519 SPKI. */
  ledgerPublicKey: LedgerPublicKey;
  /** Minimums the chain enforces (default: the library's DEFAULT_PARAMS). */
  params?: Partial<FourProofParams>;
  /**
   * PoTime must be anchored to a block this many heights below the block that orders it, at most
   * (and that block must be committed here with the anchored hash). 0: anchors are not required.
   */
  maxAnchorAgeBlocks: number;
}

/** The committed chain as the verifier sees it. */
export interface ChainView {
  /** Height of the block that would order the validation (committed tip + 1 at request time). */
  height: number;
  /** Hash (hex) of the committed block at `height`, if this validator has it. */
  committedHash(height: number): string | undefined;
  /** The node's last validated PoTime sequence (applied state); a set must carry a higher one. */
  lastSequence?(nodeId: Uint8Array): bigint | undefined;
}

export type ProofVerdict =
  | { valid: true; proofHash: Uint8Array; sequence: bigint }
  /**
   * code and field are FourProofError's (e.g. POSPACE_INVALID at space.openings[3].block).
   * anchorAhead: refused because PoTime is anchored to this height, not committed here yet
   * (another validator may have it; this one may reach it soon).
   */
  | { valid: false; code: string; field: string; detail: string; anchorAhead?: number };

export interface CertificateRequestProofs {
  /** SHA-256 binding of the CSR's TLS SPKI and FALCON key (certificateKeyBinding). */
  keyBinding: Uint8Array;
  proofSet: Uint8Array;
}

export interface OperationProofs {
  operation: string;
  assetId: string;
  nodeId: Uint8Array;
  proofSet: Uint8Array;
}

export class ProofVerifier {
  private readonly params: FourProofParams;
  /** Sets verified under this verifier's rules (one verifier, one validator). */
  readonly verified: VerifiedSets;
  readonly counters = { verified: 0, remembered: 0 };

  constructor(
    private readonly config: ProofVerifierConfig,
    o: { verifiedSets?: number } = {},
  ) {
    this.params = resolveParams(config.params);
    this.verified = new VerifiedSets(o.verifiedSets);
  }

  /**
   * The node id and sequence of a validation's set this verifier verified (app/apply.ts KnownSet).
   * Only for sets within the library's default size limit, the one applying decodes with: a
   * longer set must be refused there exactly as on a validator that never saw it.
   */
  knownSet(body: ValidationBody): { nodeId: Uint8Array; sequence: bigint } | undefined {
    if (body.proofSet.length > DEFAULT_PARAMS.maxEncodedBytes) return undefined;
    const binding: SetBinding = body.kind === 'certificate.validate' ? { kind: 'certificate', keyBinding: body.keyBinding } : { kind: 'operation', operation: body.operation, assetId: body.assetId, nodeId: body.nodeId };
    const v = this.verified.get(verifiedSetKey(binding, body.proofSet));
    return v && { nodeId: v.nodeId, sequence: v.sequence };
  }

  /** A set earned for a certificate request: bound to exactly these keys (checkCertificateRequestContext). */
  verifyCertificateRequest(r: CertificateRequestProofs, now: number, chain: ChainView): ProofVerdict {
    return this.verify({ kind: 'certificate', keyBinding: r.keyBinding }, r.proofSet, now, chain, (set) => checkCertificateRequestContext(set.context, r.keyBinding));
  }

  /** A set for an operation on an asset: its context must be exactly (operation, asset id, node id). */
  verifyProofs(r: OperationProofs, now: number, chain: ChainView): ProofVerdict {
    return this.verify({ kind: 'operation', operation: r.operation, assetId: r.assetId, nodeId: r.nodeId }, r.proofSet, now, chain, (set) => {
      const c = set.context;
      if (c.operation !== r.operation) throw new FourProofError('OPERATION_MISMATCH', 'context.operation', `the proofs are for "${c.operation}", not "${r.operation}"`);
      if (c.assetId !== r.assetId) throw new FourProofError('OPERATION_MISMATCH', 'context.assetId', `the proofs are for asset "${c.assetId}", not "${r.assetId}"`);
      if (!Buffer.from(c.nodeId).equals(Buffer.from(r.nodeId))) throw new FourProofError('OPERATION_MISMATCH', 'context.nodeId', 'the proofs are for another node');
    });
  }

  private verify(binding: SetBinding, bytes: Uint8Array, now: number, chain: ChainView, checkContext: (set: FourProofSet) => void): ProofVerdict {
    const key = verifiedSetKey(binding, bytes);
    const known = this.verified.get(key);
    if (known !== undefined) {
      this.counters.remembered++;
      return this.recheck(known, now, chain);
    }
    this.counters.verified++;
    let anchorAhead: number | undefined;
    try {
      const set = decodeFourProofSet(bytes, { maxBytes: this.params.maxEncodedBytes });
      checkContext(set);
      const lastSequence = chain.lastSequence?.(set.context.nodeId);
      const ok = verifyFourProofSet(set, {
        ledgerPublicKey: this.config.ledgerPublicKey,
        now,
        ...(lastSequence !== undefined ? { lastSequence } : {}),
        ...(this.config.params ? { params: this.config.params } : {}),
        ...(this.config.maxAnchorAgeBlocks > 0
          ? {
              checkAnchor: (a: BlockAnchor | undefined) => {
                anchorAhead = aheadOf(a, chain);
                return this.anchorProblem(a, chain);
              },
            }
          : {}),
      });
      const a = set.stake.attestation;
      this.verified.add(key, { proofHash: ok.proofHash, nodeId: set.context.nodeId, sequence: ok.sequence, timestampMs: set.time.timestampMs, stakeIssuedAtMs: a.issuedAtMs, stakeExpiresAtMs: a.expiresAtMs, anchor: set.time.anchor });
      return { valid: true, proofHash: ok.proofHash, sequence: ok.sequence };
    } catch (err) {
      if (err instanceof FourProofError) return refusal(err, anchorAhead);
      throw err;
    }
  }

  /**
   * The rules of verifyFourProofSet that depend on the moment, in its order, for a set whose
   * bytes verified: PoStake's validity window, PoTime's timestamp tolerance, the node's sequence
   * and the anchor (the same messages; proof-verifier.test.ts compares both paths).
   */
  private recheck(v: VerifiedSet, now: number, chain: ChainView): ProofVerdict {
    const tolerance = this.params.timeToleranceMs;
    if (!Number.isSafeInteger(now) || now < 0) return refusal(new FourProofError('INVALID_ARGUMENT', 'now', 'must be a non-negative safe integer (ms)'));
    if (v.stakeExpiresAtMs <= now) return refusal(new FourProofError('POSTAKE_EXPIRED', 'stake.attestation.expiresAtMs', `expired ${now - v.stakeExpiresAtMs} ms ago`));
    if (v.stakeIssuedAtMs > now + tolerance) return refusal(new FourProofError('POSTAKE_INVALID', 'stake.attestation.issuedAtMs', `issued ${v.stakeIssuedAtMs - now} ms in the future`));
    const skew = v.timestampMs - now;
    if (Math.abs(skew) > tolerance) return refusal(new FourProofError('STALE', 'time.timestampMs', `${Math.abs(skew)} ms ${skew < 0 ? 'in the past' : 'in the future'}, tolerance ${tolerance} ms`));
    const last = chain.lastSequence?.(v.nodeId);
    if (last !== undefined && v.sequence <= last) return refusal(new FourProofError('STALE', 'time.sequence', `sequence ${v.sequence} is not greater than the last seen ${last}`));
    if (this.config.maxAnchorAgeBlocks > 0) {
      const problem = this.anchorProblem(v.anchor, chain);
      if (problem !== null) return refusal(new FourProofError('STALE', 'time.anchor', problem), aheadOf(v.anchor, chain));
    }
    return { valid: true, proofHash: v.proofHash, sequence: v.sequence };
  }

  /** null when the anchor is a recent block of this validator's committed chain, else why not. */
  private anchorProblem(a: BlockAnchor | undefined, chain: ChainView): string | null {
    if (a === undefined) return 'PoTime must be anchored to a recent committed HyperMesh block';
    if (a.height >= BigInt(chain.height)) return `block ${a.height} is not committed yet (ordering at height ${chain.height})`;
    const height = Number(a.height);
    if (height + this.config.maxAnchorAgeBlocks < chain.height) return `block ${height} is ${chain.height - height} blocks old (at most ${this.config.maxAnchorAgeBlocks})`;
    const hash = chain.committedHash(height);
    if (hash === undefined) return `block ${height} is not in this validator's committed chain`;
    if (hash !== Buffer.from(a.hash).toString('hex')) return `the anchor names another block than the committed block ${height}`;
    return null;
  }
}

function refusal(err: FourProofError, anchorAhead?: number): ProofVerdict {
  return { valid: false, code: err.code, field: err.field, detail: err.message, ...(anchorAhead !== undefined ? { anchorAhead } : {}) };
}

/** The anchor's height if it is above this validator's committed chain (and a safe integer), else undefined. */
function aheadOf(a: BlockAnchor | undefined, chain: ChainView): number | undefined {
  return a !== undefined && a.height >= BigInt(chain.height) && a.height <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a.height) : undefined;
}

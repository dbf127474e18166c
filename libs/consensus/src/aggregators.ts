// Collect verified votes into QCs and verified timeouts into TCs. Signatures are checked before
// anything reaches these; each validator counts once per view (the equivocation detector turns
// a second, conflicting vote into evidence before it gets here).
import type { BlockHash, QuorumCertificate, TimeoutCertificate, TimeoutSignature, ValidatorId, ValidatorSignature } from './types';

interface Tally {
  height: number;
  weight: number;
  signatures: Map<ValidatorId, Uint8Array>;
  certified: boolean;
}

export class VoteAggregator {
  private readonly byView = new Map<number, Map<BlockHash, Tally>>();

  /** Adds a vote; returns the tally's weight afterwards, or -1 if this voter was already counted. */
  add(view: number, height: number, blockHash: BlockHash, voter: ValidatorId, weight: number, signature: Uint8Array): number {
    let blocks = this.byView.get(view);
    if (!blocks) this.byView.set(view, (blocks = new Map()));
    // Keyed by hash and height: a bogus height in one vote must not block the honest tally.
    const key = `${blockHash}:${height}`;
    let t = blocks.get(key);
    if (!t) blocks.set(key, (t = { height, weight: 0, signatures: new Map(), certified: false }));
    if (t.signatures.has(voter)) return -1;
    t.signatures.set(voter, signature);
    t.weight += weight;
    return t.weight;
  }

  /** A QC if the votes for (view, blockHash) reach `quorum` and none was formed yet. */
  tryCertify(view: number, height: number, blockHash: BlockHash, quorum: number): QuorumCertificate | null {
    const t = this.byView.get(view)?.get(`${blockHash}:${height}`);
    if (!t || t.certified || t.weight < quorum) return null;
    t.certified = true;
    const signatures: ValidatorSignature[] = [...t.signatures].sort((a, b) => a[0] - b[0]).map(([validator, signature]) => ({ validator, signature }));
    return { view, height: t.height, blockHash, signatures };
  }

  prune(minView: number): void {
    for (const v of this.byView.keys()) if (v < minView) this.byView.delete(v);
  }
}

interface TimeoutTally {
  weight: number;
  signatures: Map<ValidatorId, TimeoutSignature>;
  highQc: QuorumCertificate;
  certified: boolean;
}

export class TimeoutAggregator {
  private readonly byView = new Map<number, TimeoutTally>();

  /** Adds a timeout; returns the view's weight afterwards, or -1 if this signer was already counted. */
  add(view: number, sig: TimeoutSignature, highQc: QuorumCertificate, weight: number): number {
    let t = this.byView.get(view);
    if (!t) this.byView.set(view, (t = { weight: 0, signatures: new Map(), highQc, certified: false }));
    if (t.signatures.has(sig.validator)) return -1;
    t.signatures.set(sig.validator, sig);
    t.weight += weight;
    if (highQc.view > t.highQc.view) t.highQc = highQc;
    return t.weight;
  }

  weight(view: number): number {
    return this.byView.get(view)?.weight ?? 0;
  }

  has(view: number, validator: ValidatorId): boolean {
    return this.byView.get(view)?.signatures.has(validator) ?? false;
  }

  tryCertify(view: number, quorum: number): TimeoutCertificate | null {
    const t = this.byView.get(view);
    if (!t || t.certified || t.weight < quorum) return null;
    t.certified = true;
    const signatures = [...t.signatures.values()].sort((a, b) => a.validator - b.validator);
    return { view, highQc: t.highQc, signatures };
  }

  prune(minView: number): void {
    for (const v of this.byView.keys()) if (v < minView) this.byView.delete(v);
  }
}

// Equivocation: one validator signing two different blocks for one view, as a vote or as a
// proposal. Both statements are signed, so the evidence convinces anyone holding the validator
// set, without trusting whoever reports it (Caesar slashes on it).
import type { SignatureVerifier } from './crypto';
import { proposalSigningBytes, voteSigningBytes } from './signing';
import type { BlockHash, ValidatorId } from './types';
import type { ValidatorSet } from './validators';
import { OK, reject, RejectCode, type Verdict } from './verdict';
import { isBlockHash } from './hash';

export interface SignedStatement {
  height: number;
  blockHash: BlockHash;
  signature: Uint8Array;
}

export interface EquivocationEvidence {
  /** Which signing domain both statements are from. */
  kind: 'vote' | 'proposal';
  validator: ValidatorId;
  view: number;
  first: SignedStatement;
  second: SignedStatement;
}

function signingBytes(set: ValidatorSet, kind: EquivocationEvidence['kind'], view: number, s: SignedStatement): Uint8Array {
  return kind === 'vote' ? voteSigningBytes(set.chainTag, view, s.height, s.blockHash) : proposalSigningBytes(set.chainTag, view, s.height, s.blockHash);
}

/** Valid when both statements are for the same view, name different blocks, and both signatures verify. */
export function verifyEquivocationEvidence(evidence: EquivocationEvidence, validatorSet: ValidatorSet, verifier: SignatureVerifier): Verdict {
  const { kind, validator, view, first, second } = evidence;
  if (kind !== 'vote' && kind !== 'proposal') return reject(RejectCode.MALFORMED, `unknown evidence kind ${String(kind)}`);
  if (!validatorSet.has(validator)) return reject(RejectCode.NOT_VALIDATOR, `validator ${validator} is not in the set`);
  if (!Number.isSafeInteger(view) || view < 1) return reject(RejectCode.MALFORMED, 'evidence view must be >= 1');
  for (const s of [first, second]) {
    if (!isBlockHash(s.blockHash) || !Number.isSafeInteger(s.height) || s.height < 1) return reject(RejectCode.MALFORMED, 'malformed statement');
  }
  if (first.blockHash === second.blockHash && first.height === second.height) return reject(RejectCode.MALFORMED, 'the two statements are the same; no equivocation');
  const publicKey = validatorSet.publicKeyOf(validator);
  for (const s of [first, second]) {
    if (!verifier.verify({ validator, publicKey, message: signingBytes(validatorSet, kind, view, s), signature: s.signature })) {
      return reject(RejectCode.BAD_SIGNATURE, `a ${kind} statement of validator ${validator} does not verify`);
    }
  }
  return OK;
}

/**
 * Remembers the first signed statement per (kind, validator, view) for a window of recent views.
 * Callers hand it statements whose signatures they have already verified.
 */
export class EquivocationDetector {
  private readonly seen = new Map<string, SignedStatement>();
  private readonly reported = new Set<string>();
  private readonly byView = new Map<number, string[]>();
  private prunedBelow = 0;

  /** 'new' the first time, 'duplicate' for the same statement again, evidence for a conflicting one. */
  observe(kind: EquivocationEvidence['kind'], validator: ValidatorId, view: number, s: SignedStatement): 'new' | 'duplicate' | 'already-reported' | EquivocationEvidence {
    const key = `${kind}:${view}:${validator}`;
    const first = this.seen.get(key);
    if (!first) {
      this.seen.set(key, s);
      let keys = this.byView.get(view);
      if (!keys) this.byView.set(view, (keys = []));
      keys.push(key);
      return 'new';
    }
    if (first.blockHash === s.blockHash && first.height === s.height) return 'duplicate';
    if (this.reported.has(key)) return 'already-reported';
    this.reported.add(key);
    return { kind, validator, view, first, second: s };
  }

  /**
   * Whether exactly this statement (same block, height and signature bytes) was recorded: a copy
   * needs no signature check, since only verified statements are recorded.
   */
  isRecorded(kind: EquivocationEvidence['kind'], validator: ValidatorId, view: number, s: SignedStatement): boolean {
    const first = this.seen.get(`${kind}:${view}:${validator}`);
    return first !== undefined && first.blockHash === s.blockHash && first.height === s.height && sameBytes(first.signature, s.signature);
  }

  /** Forget views below `minView` (bounded memory). */
  prune(minView: number): void {
    if (minView < this.prunedBelow + 16) return; // in steps: each prune walks the map
    this.prunedBelow = minView;
    for (const [view, keys] of this.byView) {
      if (view >= minView) continue;
      for (const k of keys) {
        this.seen.delete(k);
        this.reported.delete(k);
      }
      this.byView.delete(view);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

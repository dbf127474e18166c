// Verifying what reward_block and slash carry, before any money moves. Caesar trusts no caller:
// a QC or equivocation evidence counts only if its signatures verify against a VALIDATOR SET Caesar
// was given (account id -> public key), with an injected signature scheme.
//
// What exists today (docs/caesar-api.md, "reward_block and slash: what is verified"):
//   - the vote a validator signs is Caesar's encoding `voteSigningBytes` (below); HyperMesh
//     (libs/consensus) does not yet expose its vote encoding, its validator set or FALCON
//     signatures to other services, so no production validator set exists yet;
//   - `caesar serve` starts with NO validator set: every reward_block / slash is refused with
//     FAILED_PRECONDITION naming what is missing. Tests inject a set with real Ed25519 keys;
//   - QC: every signature must verify, signers distinct and in the set, and more than 2/3 of the
//     set's members must have signed (equal weights, as HotStuff's quorum);
//   - evidence: both votes signed by the offender for the same height and view, different
//     digests, both signatures verify.
import { createHash } from 'node:crypto';

export interface SignatureScheme {
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

export interface ValidatorSet {
  /** Validator owner account id -> public key. */
  readonly keys: ReadonlyMap<bigint, Uint8Array>;
  readonly scheme: SignatureScheme;
}

export interface Vote {
  readonly height: bigint;
  readonly view: bigint;
  readonly blockDigest: Uint8Array;
}

export interface SignedVote extends Vote {
  readonly signature: Uint8Array;
}

export interface QuorumCertificate extends Vote {
  readonly signatures: ReadonlyArray<{ readonly validator: bigint; readonly signature: Uint8Array }>;
}

export type ProofVerdict<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string; readonly unconfigured?: boolean };

const VOTE_CONTEXT = Buffer.from('caesar vote v1\0', 'latin1');

/** The bytes a validator signs for a vote: context || height u64 BE || view u64 BE || digest (32). */
export function voteSigningBytes(v: Vote): Uint8Array {
  const b = Buffer.alloc(VOTE_CONTEXT.length + 16 + 32);
  VOTE_CONTEXT.copy(b, 0);
  b.writeBigUInt64BE(v.height, VOTE_CONTEXT.length);
  b.writeBigUInt64BE(v.view, VOTE_CONTEXT.length + 8);
  Buffer.from(v.blockDigest).copy(b, VOTE_CONTEXT.length + 16);
  return b;
}

export interface ProofVerifier {
  /** The signers of a valid QC (validator owner account ids, in QC order). */
  verifyQuorumCertificate(qc: QuorumCertificate): ProofVerdict<bigint[]>;
  /** The digest of a valid offence (order-independent: the same two votes give the same digest). */
  verifyEquivocation(validator: bigint, a: SignedVote, b: SignedVote): ProofVerdict<Uint8Array>;
}

const NO_SET = 'Caesar has no validator set: HyperMesh does not publish one to Caesar yet, so no QC or evidence can be verified (and none is taken on trust)';

export class ValidatorSetVerifier implements ProofVerifier {
  constructor(private readonly set: ValidatorSet | null) {}

  verifyQuorumCertificate(qc: QuorumCertificate): ProofVerdict<bigint[]> {
    if (this.set === null || this.set.keys.size === 0) return { ok: false, reason: NO_SET, unconfigured: true };
    const message = voteSigningBytes(qc);
    const seen = new Set<bigint>();
    for (const [i, s] of qc.signatures.entries()) {
      const key = this.set.keys.get(s.validator);
      if (key === undefined) return { ok: false, reason: `signatures[${i}]: ${s.validator} is not in the validator set` };
      if (seen.has(s.validator)) return { ok: false, reason: `signatures[${i}]: ${s.validator} signed twice` };
      if (!this.set.scheme.verify(key, message, s.signature)) return { ok: false, reason: `signatures[${i}]: the signature of ${s.validator} does not verify` };
      seen.add(s.validator);
    }
    const n = this.set.keys.size;
    if (3 * seen.size <= 2 * n) return { ok: false, reason: `${seen.size} of ${n} validators signed; a quorum is more than two thirds` };
    return { ok: true, value: [...seen] };
  }

  verifyEquivocation(validator: bigint, a: SignedVote, b: SignedVote): ProofVerdict<Uint8Array> {
    if (this.set === null || this.set.keys.size === 0) return { ok: false, reason: NO_SET, unconfigured: true };
    const key = this.set.keys.get(validator);
    if (key === undefined) return { ok: false, reason: `validator_account_id: ${validator} is not in the validator set` };
    if (a.height !== b.height || a.view !== b.view) return { ok: false, reason: 'the two votes are for different heights or views: not an equivocation' };
    if (Buffer.from(a.blockDigest).equals(Buffer.from(b.blockDigest))) return { ok: false, reason: 'the two votes are for the same block: not an equivocation' };
    if (!this.set.scheme.verify(key, voteSigningBytes(a), a.signature)) return { ok: false, reason: 'first.signature does not verify' };
    if (!this.set.scheme.verify(key, voteSigningBytes(b), b.signature)) return { ok: false, reason: 'second.signature does not verify' };
    const [x, y] = Buffer.compare(Buffer.from(a.blockDigest), Buffer.from(b.blockDigest)) < 0 ? [a, b] : [b, a];
    const id = Buffer.alloc(16);
    id.writeBigUInt64BE(validator >> 64n, 0);
    id.writeBigUInt64BE(validator & 0xffff_ffff_ffff_ffffn, 8);
    const digest = createHash('sha256').update('caesar equivocation v1\0').update(id).update(voteSigningBytes(x)).update(voteSigningBytes(y)).digest();
    return { ok: true, value: new Uint8Array(digest) };
  }
}

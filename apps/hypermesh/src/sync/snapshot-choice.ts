// Which peer snapshot a validator that fell behind may install (pure: no I/O, no clock).
//
// A snapshot's bytes are not committed to by any block (blocks carry no application-state hash),
// so trust comes from the validators: each signs a manifest of its newest snapshot (height, block
// hash, digest, size) with its genesis FALCON key. A manifest that validators of more than the
// faulty weight f signed was signed by at least one honest validator, and honest validators that
// committed the same blocks write the same bytes (store/snapshot-format.ts): so its digest is the
// state at that height. The block hash, checked against a QC when the block is fetched, anchors
// the chain from there on.
import type { SignatureVerifier, ValidatorSet } from '@stoq/consensus';

export const MANIFEST_DOMAIN = 'hypermesh-snapshot/1';

export interface SignedManifest {
  /** 0: the validator holds no snapshot. */
  height: number;
  blockHash: string;
  digest: string;
  size: number;
  chunkSize: number;
  validator: number;
  signature: Uint8Array;
}

export interface SnapshotChoice {
  height: number;
  blockHash: string;
  digest: string;
  size: number;
  /** Validators whose valid signed manifests name exactly this snapshot (download sources). */
  vouchers: number[];
  /** Their chunk sizes, by validator. */
  chunkSizes: Map<number, number>;
}

/** The bytes a validator signs for its manifest (the chunk size is not signed: it is transport). */
export function manifestSigningBytes(chainTag: Uint8Array, m: Pick<SignedManifest, 'height' | 'blockHash' | 'digest' | 'size'>): Uint8Array {
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(BigInt(m.height), 0);
  head.writeBigUInt64BE(BigInt(m.size), 8);
  return Buffer.concat([Buffer.from(MANIFEST_DOMAIN, 'utf8'), Buffer.from(chainTag), head, Buffer.from(m.blockHash, 'utf8'), Buffer.from([0]), Buffer.from(m.digest, 'utf8')]);
}

/**
 * The highest snapshot that validators of more than the faulty weight vouch for, if it is at
 * least `minGap` above `ownHeight` (below that, replaying blocks is cheaper and needs no trust
 * in peers); else null. Manifests with a bad signature, from non-validators, or repeated by one
 * validator are ignored.
 */
export function chooseSnapshot(manifests: readonly SignedManifest[], set: ValidatorSet, verifier: SignatureVerifier, ownHeight: number, minGap: number): SnapshotChoice | null {
  const groups = new Map<string, { m: SignedManifest; vouchers: Set<number>; chunkSizes: Map<number, number> }>();
  const seen = new Set<number>();
  for (const m of manifests) {
    if (m.height < 1 || !set.has(m.validator) || seen.has(m.validator)) continue;
    if (!Number.isSafeInteger(m.size) || m.size < 1 || !Number.isSafeInteger(m.chunkSize) || m.chunkSize < 1) continue;
    const ok = verifier.verify({ validator: m.validator, publicKey: set.publicKeyOf(m.validator), message: manifestSigningBytes(set.chainTag, m), signature: m.signature });
    if (!ok) continue;
    seen.add(m.validator);
    const key = `${m.height}:${m.blockHash}:${m.digest}:${m.size}`;
    const g = groups.get(key) ?? { m, vouchers: new Set<number>(), chunkSizes: new Map<number, number>() };
    g.vouchers.add(m.validator);
    g.chunkSizes.set(m.validator, m.chunkSize);
    groups.set(key, g);
  }
  let best: SnapshotChoice | null = null;
  for (const g of groups.values()) {
    let weight = 0;
    for (const v of g.vouchers) weight += set.weightOf(v);
    if (weight <= set.faultyWeight) continue;
    if (g.m.height < ownHeight + minGap) continue;
    if (best === null || g.m.height > best.height) {
      best = { height: g.m.height, blockHash: g.m.blockHash, digest: g.m.digest, size: g.m.size, vouchers: [...g.vouchers].sort((a, b) => a - b), chunkSizes: g.chunkSizes };
    }
  }
  return best;
}

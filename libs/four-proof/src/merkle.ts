import { fail, type FourProofErrorCode } from './errors';
import { sha256 } from './hash';

/**
 * Binary SHA-256 Merkle tree over a power-of-two number of leaves, with RFC 6962-style domain
 * separation: leaf = SHA-256(0x00 ‖ block), node = SHA-256(0x01 ‖ left ‖ right).
 */

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

export function leafHash(block: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, block);
}

const nodeScratch = new Uint8Array(65);
nodeScratch[0] = 0x01;

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== 32 || right.length !== 32) return sha256(NODE_PREFIX, left, right);
  // Hot in verification: reuse one preimage buffer instead of concatenating.
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 33);
  return sha256(nodeScratch);
}

/** All levels of the tree, each one contiguous buffer of 32-byte hashes; levels[0] = leaves. */
export class MerkleTree {
  private constructor(private readonly levels: readonly Uint8Array[]) {}

  /** `leaves` is `count` concatenated 32-byte leaf hashes; `count` must be a power of two >= 2. */
  static fromLeafHashes(leaves: Uint8Array, count: number): MerkleTree {
    if (leaves.length !== count * 32) throw new RangeError(`expected ${count * 32} bytes of leaf hashes, got ${leaves.length}`);
    const levels: Uint8Array[] = [leaves];
    let level = leaves;
    const scratch = new Uint8Array(65);
    scratch[0] = 0x01;
    for (let width = count; width > 1; width >>>= 1) {
      const next = new Uint8Array((width >>> 1) * 32);
      for (let i = 0; i < width; i += 2) {
        scratch.set(level.subarray(i * 32, i * 32 + 64), 1);
        next.set(sha256(scratch), (i >>> 1) * 32);
      }
      levels.push(next);
      level = next;
    }
    return new MerkleTree(levels);
  }

  get root(): Uint8Array {
    return this.levels[this.levels.length - 1]!.slice(0, 32);
  }

  get depth(): number {
    return this.levels.length - 1;
  }

  /** Sibling hashes from the leaf level up to (not including) the root. */
  path(index: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = index;
    for (let h = 0; h < this.depth; h++) {
      const sibling = i ^ 1;
      out.push(this.levels[h]!.slice(sibling * 32, sibling * 32 + 32));
      i >>>= 1;
    }
    return out;
  }
}

/** Recomputes the root from a leaf hash and its path; validates the path's shape. */
export function rootFromPath(
  leaf: Uint8Array,
  index: number,
  path: readonly Uint8Array[],
  field: string,
  code: FourProofErrorCode,
): Uint8Array {
  let hash = leaf;
  let i = index;
  for (let h = 0; h < path.length; h++) {
    const sibling = path[h]!;
    if (sibling.length !== 32) fail(code, `${field}[${h}]`, `sibling hash must be 32 bytes, got ${sibling.length}`);
    hash = (i & 1) === 0 ? nodeHash(hash, sibling) : nodeHash(sibling, hash);
    i >>>= 1;
  }
  return hash;
}

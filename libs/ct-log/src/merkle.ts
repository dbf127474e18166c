// RFC 6962 §2.1 Merkle Hash Trees: an append-only tree with roots, inclusion proofs and
// consistency proofs at any past size, and the RFC 9162 §2.1.3.2 / §2.1.4.2 verifiers.
// Pure and sans-I/O: no disk, no clock. Sizes and indices are JS numbers (safe integers, < 2^53).
import { timingSafeEqual } from 'node:crypto';
import { HASH_SIZE, type Hasher, sha256Hasher } from './hasher';

/**
 * Perfect subtrees cached level by level: level k holds the hash of every complete, aligned
 * subtree of 2^k leaves (level 0 = the leaf hashes), packed 32 bytes apiece in one growable buffer.
 * Memory is ~64 bytes per leaf; any MTH(D[a:b]) then costs O(log n) hashes at most.
 */
class LevelCache {
  private readonly levels: Buffer[] = [];
  private readonly counts: number[] = [];

  count(level: number): number {
    return this.counts[level] ?? 0;
  }

  get(level: number, index: number): Uint8Array {
    const buf = this.levels[level]!;
    return buf.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  push(level: number, hash: Uint8Array): void {
    const buf = this.room(level, 1);
    const n = this.counts[level]!;
    buf.set(hash, n * HASH_SIZE);
    this.counts[level] = n + 1;
  }

  /** All of `level` packed (a view, valid until the level next grows). */
  view(level: number): Buffer {
    return (this.levels[level] ?? Buffer.alloc(0)).subarray(0, this.count(level) * HASH_SIZE);
  }

  /**
   * Appends leaves [first, first + count) and the parents they complete from a post-order
   * stream, copying 32-bit words (one Buffer.copy per hash costs ~10x more at a million leaves).
   */
  restore(data: Buffer, first: number, count: number): void {
    const src = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
    const words = new Int32Array(src.buffer, src.byteOffset, src.length / 4);
    const dst: Int32Array[] = [];
    const at: number[] = [];
    for (let level = 0, c = first + count; c >= 1; level++, c = Math.floor(c / 2)) {
      const buf = this.room(level, Math.max(0, c - this.count(level)));
      if (buf.byteOffset % 4 !== 0) throw new Error('level buffer is not word-aligned');
      dst.push(new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4));
      at.push(this.count(level) * 8);
    }
    let p = 0;
    for (let i = first, end = first + count; i < end; i++) {
      let level = 0;
      for (let pos = i; ; pos = (pos - 1) / 2) {
        const d = dst[level]!;
        let q = at[level]!;
        for (let w = 0; w < 8; w++) d[q++] = words[p++]!;
        at[level] = q;
        if (pos % 2 !== 1) break;
        level += 1;
      }
    }
    for (let level = 0; level < at.length; level++) this.counts[level] = at[level]! / 8;
  }

  /** Makes room for `extra` more hashes at `level` (doubling, so appends stay amortised O(1)). */
  room(level: number, extra: number): Buffer {
    while (this.levels.length <= level) {
      this.levels.push(Buffer.allocUnsafe(HASH_SIZE * 64));
      this.counts.push(0);
    }
    let buf = this.levels[level]!;
    const n = this.counts[level]!;
    if ((n + extra) * HASH_SIZE > buf.length) {
      let cap = buf.length;
      while ((n + extra) * HASH_SIZE > cap) cap *= 2;
      const grown = Buffer.allocUnsafe(cap);
      buf.copy(grown, 0, 0, n * HASH_SIZE);
      this.levels[level] = buf = grown;
    }
    return buf;
  }
}

/** Number of 1 bits of a non-negative safe integer. */
function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/**
 * How many hashes a tree of n leaves stores: every leaf and every complete interior node,
 * 2n - popcount(n). In post-order (each leaf followed by the parents it completes, the layout
 * Go's golang.org/x/mod/sumdb/tlog uses) leaf i's group starts at storedHashCount(i).
 */
export function storedHashCount(n: number): number {
  return 2 * n - popcount(n);
}

/** Largest power of two strictly smaller than n (n >= 2), the RFC 6962 split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** An append-only RFC 6962 Merkle tree over leaf hashes. */
export class MerkleTree {
  private readonly cache = new LevelCache();

  constructor(readonly hasher: Hasher = sha256Hasher) {}

  /** Number of leaves. */
  get size(): number {
    return this.cache.count(0);
  }

  /** Appends one leaf by its leaf hash (hasher.hashLeaf of the leaf input). */
  appendLeafHash(leafHash: Uint8Array): number {
    if (leafHash.length !== HASH_SIZE) {
      throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes, got ${leafHash.length}`);
    }
    const index = this.size;
    this.cache.push(0, leafHash);
    // Completing a right child completes its parent: climb while the new node is a right child.
    let level = 0;
    let pos = index;
    while (pos % 2 === 1) {
      const parent = this.hasher.hashChildren(this.cache.get(level, pos - 1), this.cache.get(level, pos));
      level += 1;
      pos = (pos - 1) / 2;
      this.cache.push(level, parent);
    }
    return index;
  }

  /**
   * The stored hashes of leaves [from, to) in post-order: leaf i, then the parents leaf i
   * completes (one per trailing 1 bit of i, lowest level first). Append-only across sizes, so a
   * side file of them grows by appending; 32 × (storedHashCount(to) - storedHashCount(from)) bytes.
   */
  storedHashes(from: number, to: number): Buffer {
    checkSize('from', from);
    this.checkTreeSize('to', to);
    if (from > to) throw new RangeError(`from ${from} exceeds to ${to}`);
    const out = Buffer.allocUnsafe((storedHashCount(to) - storedHashCount(from)) * HASH_SIZE);
    let p = 0;
    for (let i = from; i < to; i++) {
      out.set(this.cache.get(0, i), p);
      p += HASH_SIZE;
      let level = 0;
      for (let pos = i; pos % 2 === 1; pos = (pos - 1) / 2) {
        level += 1;
        out.set(this.cache.get(level, Math.floor(i / 2 ** level)), p);
        p += HASH_SIZE;
      }
    }
    return out;
  }

  /**
   * Appends `count` leaves from their stored hashes (the storedHashes layout, starting at the
   * current size) without hashing anything. The caller vouches for the bytes (checkpoint CRC);
   * rootAt on the result is how it checks them against a recorded root.
   */
  restoreStoredHashes(data: Buffer, count: number): void {
    checkSize('count', count);
    const want = (storedHashCount(this.size + count) - storedHashCount(this.size)) * HASH_SIZE;
    if (data.length !== want) throw new RangeError(`${count} leaves need ${want} bytes of stored hashes, got ${data.length}`);
    this.cache.restore(data, this.size, count);
  }

  /** Reserves room for `n` leaves in total, so restoring or appending does not regrow buffers. */
  reserve(n: number): void {
    checkSize('n', n);
    for (let level = 0, c = n; c >= 1; level++, c = Math.floor(c / 2)) {
      this.cache.room(level, Math.max(0, c - this.cache.count(level)));
    }
  }

  /** Leaf hash at index as a view of the tree's own storage (no copy; callers must not write to it). */
  leafHashView(index: number): Uint8Array {
    if (!(Number.isSafeInteger(index) && index >= 0 && index < this.size)) throw new RangeError(`leaf index ${index} is past the tree size ${this.size}`);
    return this.cache.get(0, index);
  }

  /** Every leaf hash, packed 32 bytes apiece: a view valid until the next append (do not write to it). */
  leafHashesView(): Buffer {
    return this.cache.view(0);
  }

  /** Appends a leaf given its leaf input (hashes it with 0x00 prefix). */
  appendLeaf(leaf: Uint8Array): number {
    return this.appendLeafHash(this.hasher.hashLeaf(leaf));
  }

  /** Leaf hash at index. */
  leafHash(index: number): Uint8Array {
    checkSize('leaf index', index);
    if (index >= this.size) throw new RangeError(`leaf index ${index} is past the tree size ${this.size}`);
    return Buffer.from(this.cache.get(0, index));
  }

  /** MTH of the first `size` leaves (the root the tree had at that size). */
  rootAt(size: number = this.size): Uint8Array {
    this.checkTreeSize('tree size', size);
    if (size === 0) return this.hasher.emptyRoot();
    return Buffer.from(this.subtreeHash(0, size));
  }

  /** RFC 6962 §2.1.1 PATH(index, D[0:size]), ordered from the leaf upward. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    this.checkTreeSize('tree size', size);
    checkSize('leaf index', index);
    if (index >= size) throw new RangeError(`leaf index ${index} must be less than tree size ${size}`);
    const proof: Uint8Array[] = [];
    this.path(index, 0, size, proof);
    return proof.map((h) => Buffer.from(h));
  }

  /** RFC 6962 §2.1.2 PROOF(size1, D[0:size2]); empty when size1 is 0 or equals size2. */
  consistencyProof(size1: number, size2: number): Uint8Array[] {
    this.checkTreeSize('second tree size', size2);
    checkSize('first tree size', size1);
    if (size1 > size2) throw new RangeError(`first tree size ${size1} exceeds second tree size ${size2}`);
    const proof: Uint8Array[] = [];
    if (size1 > 0 && size1 < size2) this.subproof(size1, 0, size2, true, proof);
    return proof.map((h) => Buffer.from(h));
  }

  private checkTreeSize(name: string, size: number): void {
    checkSize(name, size);
    if (size > this.size) throw new RangeError(`${name} ${size} exceeds the tree size ${this.size}`);
  }

  /** MTH(D[start:end]) for end > start, from cached perfect subtrees where aligned. */
  private subtreeHash(start: number, end: number): Uint8Array {
    const n = end - start;
    if (isPowerOfTwo(n) && start % n === 0) {
      return this.cache.get(Math.log2(n), start / n);
    }
    const k = splitPoint(n);
    return this.hasher.hashChildren(this.subtreeHash(start, start + k), this.subtreeHash(start + k, end));
  }

  private path(m: number, start: number, end: number, out: Uint8Array[]): void {
    const n = end - start;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      this.path(m, start, start + k, out);
      out.push(this.subtreeHash(start + k, end));
    } else {
      this.path(m - k, start + k, end, out);
      out.push(this.subtreeHash(start, start + k));
    }
  }

  private subproof(m: number, start: number, end: number, whole: boolean, out: Uint8Array[]): void {
    const n = end - start;
    if (m === n) {
      if (!whole) out.push(this.subtreeHash(start, end));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.subproof(m, start, start + k, whole, out);
      out.push(this.subtreeHash(start + k, end));
    } else {
      this.subproof(m - k, start + k, end, false, out);
      out.push(this.subtreeHash(start, start + k));
    }
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const half = (x: number): number => Math.floor(x / 2);
const lsb = (x: number): boolean => x % 2 === 1;

/**
 * RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or a reason it is malformed.
 * Returns a string (the reason) when the proof cannot be evaluated.
 */
export function rootFromInclusionProof(
  hasher: Hasher,
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array | string {
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) return `tree size ${String(treeSize)} is not a valid size`;
  if (!Number.isSafeInteger(leafIndex) || leafIndex < 0) return `leaf index ${String(leafIndex)} is not a valid index`;
  if (leafIndex >= treeSize) return `leaf index ${leafIndex} is not less than tree size ${treeSize}`;
  if (leafHash.length !== HASH_SIZE) return `leaf hash is ${leafHash.length} bytes, want ${HASH_SIZE}`;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Uint8Array = leafHash;
  for (let i = 0; i < proof.length; i++) {
    const p = proof[i]!;
    if (p.length !== HASH_SIZE) return `proof[${i}] is ${p.length} bytes, want ${HASH_SIZE}`;
    if (sn === 0) return `proof has ${proof.length} hashes, too many for leaf ${leafIndex} of ${treeSize}`;
    if (lsb(fn) || fn === sn) {
      r = hasher.hashChildren(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hasher.hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return `proof has ${proof.length} hashes, too few for leaf ${leafIndex} of ${treeSize}`;
  return r;
}

/** Why an inclusion proof fails, or null when it proves leafHash at leafIndex under root. */
export function explainInclusion(
  hasher: Hasher,
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): string | null {
  const got = rootFromInclusionProof(hasher, leafIndex, treeSize, leafHash, proof);
  if (typeof got === 'string') return got;
  return equalBytes(got, root) ? null : 'computed root does not match the expected root';
}

/** True when `proof` shows leafHash is leaf leafIndex of the tree of treeSize with this root. */
export function verifyInclusion(
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  hasher: Hasher = sha256Hasher,
): boolean {
  return explainInclusion(hasher, leafIndex, treeSize, leafHash, proof, root) === null;
}

/** Why a consistency proof fails, or null when it proves the size1 tree is a prefix of size2's. */
export function explainConsistency(
  hasher: Hasher,
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): string | null {
  if (!Number.isSafeInteger(size1) || size1 < 0) return `first size ${String(size1)} is not a valid size`;
  if (!Number.isSafeInteger(size2) || size2 < 0) return `second size ${String(size2)} is not a valid size`;
  if (size2 < size1) return `second size ${size2} is smaller than first size ${size1}`;
  if (size1 === size2) {
    if (proof.length > 0) return `proof must be empty for equal sizes, has ${proof.length} hashes`;
    return equalBytes(root1, root2) ? null : 'roots differ for equal tree sizes';
  }
  if (size1 === 0) {
    // The empty tree is a prefix of every tree; RFC 9162 defines no proof for it.
    return proof.length === 0 ? null : `proof must be empty from size 0, has ${proof.length} hashes`;
  }
  if (root1.length !== HASH_SIZE) return `first root is ${root1.length} bytes, want ${HASH_SIZE}`;
  if (root2.length !== HASH_SIZE) return `second root is ${root2.length} bytes, want ${HASH_SIZE}`;
  if (proof.length === 0) return `empty proof for sizes ${size1} < ${size2}`;
  for (let i = 0; i < proof.length; i++) {
    if (proof[i]!.length !== HASH_SIZE) return `proof[${i}] is ${proof[i]!.length} bytes, want ${HASH_SIZE}`;
  }
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return `proof has ${proof.length} hashes, too many for sizes ${size1} -> ${size2}`;
    if (lsb(fn) || fn === sn) {
      fr = hasher.hashChildren(c, fr);
      sr = hasher.hashChildren(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hasher.hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return `proof has ${proof.length} hashes, too few for sizes ${size1} -> ${size2}`;
  if (!equalBytes(fr, root1)) return 'proof does not lead to the first root';
  if (!equalBytes(sr, root2)) return 'proof does not lead to the second root';
  return null;
}

/** True when `proof` shows the tree (size1, root1) is a prefix of the tree (size2, root2). */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
  hasher: Hasher = sha256Hasher,
): boolean {
  return explainConsistency(hasher, size1, size2, proof, root1, root2) === null;
}

export { equalBytes };

// get-proof-by-hash lookup: leaf hash -> first index holding it. An open-addressing table of
// uint32 slots (index + 1; 0 = empty) keyed by the hash's first 4 bytes (SHA-256 output, so
// uniform), with the hashes themselves left in the tree's level 0. 4-8 bytes per leaf, no
// per-leaf objects, so building it at open is a tight loop instead of a million Map inserts.
import { HASH_SIZE } from './hasher';
import type { MerkleTree } from './merkle';

const MIN_SLOTS = 1024;
const MAX_INDEX = 0xfffffffe; // slot values are index + 1 in a Uint32Array

/** Whether leaf `i` in the packed `leaves` equals `hash` (no per-leaf views). */
function same(leaves: Buffer, i: number, hash: Uint8Array): boolean {
  const at = i * HASH_SIZE;
  for (let k = 0; k < HASH_SIZE; k++) if (leaves[at + k] !== hash[k]) return false;
  return true;
}

export class LeafHashIndex {
  private slots = new Uint32Array(MIN_SLOTS);
  /** Leaves [0, indexed) are in the table. */
  private indexed = 0;

  constructor(private readonly tree: MerkleTree) {}

  /** Indexes every leaf the tree holds that is not indexed yet (in index order: first wins). */
  catchUp(): void {
    const size = this.tree.size;
    if (size - 1 > MAX_INDEX) throw new RangeError(`tree of ${size} leaves exceeds the index limit`);
    const leaves = this.tree.leafHashesView();
    this.ensure(size, leaves);
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = this.indexed; i < size; i++) {
      const key = leaves.readUInt32BE(i * HASH_SIZE);
      for (let s = key & mask; ; s = (s + 1) & mask) {
        const v = slots[s]!;
        if (v === 0) {
          slots[s] = i + 1;
          break;
        }
        // Same first word: compare the rest; a duplicate keeps the first index.
        if (leaves.readUInt32BE((v - 1) * HASH_SIZE) === key && same(leaves, v - 1, leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) break;
      }
    }
    this.indexed = size;
  }

  /** First index whose leaf hash is `hash`, or undefined. */
  find(hash: Uint8Array): number | undefined {
    if (hash.length !== HASH_SIZE) return undefined;
    const leaves = this.tree.leafHashesView();
    const key = ((hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!) >>> 0;
    const mask = this.slots.length - 1;
    for (let s = key & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s]!;
      if (v === 0) return undefined;
      if (same(leaves, v - 1, hash)) return v - 1;
    }
  }

  /** Keeps the load factor at or below 1/2 for `n` entries, rehashing by doubling. */
  private ensure(n: number, leaves: Buffer): void {
    if (n * 2 <= this.slots.length) return;
    let len = this.slots.length;
    while (n * 2 > len) len *= 2;
    const old = this.slots;
    const slots = new Uint32Array(len);
    const mask = len - 1;
    for (const v of old) {
      if (v === 0) continue;
      let s = leaves.readUInt32BE((v - 1) * HASH_SIZE) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = v;
    }
    this.slots = slots;
  }
}

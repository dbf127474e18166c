// RFC 6962 leaf hashing in batches by @stoq/native (`merkleLeafHashes`, native/src/hot/merkle.rs).
// Only `hashLeaves` moves: one native call for a whole group commit measured ~2.5–3.5× faster than
// node:crypto per leaf, while single 65-byte node hashes are as fast or faster in node:crypto
// (one-shot `crypto.hash`) than through an addon call, so those stay with the base hasher.
import type { Hasher } from './hasher';

const HASH_SIZE = 32;

/** The slice of the @stoq/native API used here (see native/README.md, "Hot paths"). */
export interface NativeMerkleBindings {
  merkleLeafHashes(leaves: Uint8Array[]): Uint8Array;
}

/** `base` with hashLeaves replaced by the native batch (identical output, cross-checked in tests). */
export function createNativeHasher(addon: NativeMerkleBindings, base: Hasher): Hasher {
  return Object.freeze({
    hashLeaf: (leaf: Uint8Array) => base.hashLeaf(leaf),
    hashChildren: (left: Uint8Array, right: Uint8Array) => base.hashChildren(left, right),
    emptyRoot: () => base.emptyRoot(),
    hashLeaves(leaves: readonly Uint8Array[]): Uint8Array[] {
      if (leaves.length === 0) return [];
      const all = addon.merkleLeafHashes(leaves as Uint8Array[]);
      if (all.length !== leaves.length * HASH_SIZE) {
        throw new Error(`merkleLeafHashes returned ${all.length} bytes for ${leaves.length} leaves`);
      }
      const out = new Array<Uint8Array>(leaves.length);
      for (let i = 0; i < leaves.length; i++) out[i] = all.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      return out;
    },
  });
}

/** The native-backed hasher if @stoq/native is built and exports `merkleLeafHashes`, else null. */
export function loadNativeHasher(base: Hasher): Hasher | null {
  let addon: Partial<NativeMerkleBindings>;
  try {
    addon = require('@stoq/native') as Partial<NativeMerkleBindings>;
  } catch {
    return null; // not built: the node:crypto hasher remains the default
  }
  return typeof addon.merkleLeafHashes === 'function' ? createNativeHasher(addon as NativeMerkleBindings, base) : null;
}

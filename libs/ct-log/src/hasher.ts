// RFC 6962 §2.1 hashing behind a small interface, so the batch leaf hashing can run in native code
// (@stoq/native `merkleLeafHashes`, see native-hasher.ts) with the node:crypto one as reference.
import * as nodeCrypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { loadNativeHasher } from './native-hasher';

/** Size in bytes of every hash in an RFC 6962 SHA-256 tree. */
export const HASH_SIZE = 32;

export interface Hasher {
  /** SHA-256(0x00 ‖ leaf): the hash of one leaf. */
  hashLeaf(leaf: Uint8Array): Uint8Array;
  /** SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. */
  hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array;
  /** hashLeaf over many leaves at once (the hot path of a batch append). */
  hashLeaves(leaves: readonly Uint8Array[]): Uint8Array[];
  /** Root of the empty tree: SHA-256 of the empty string. */
  emptyRoot(): Uint8Array;
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
const EMPTY_ROOT = createHash('sha256').digest();

// One-shot crypto.hash (Node >= 20.12) is markedly cheaper than createHash().update().digest()
// for the 65-byte node inputs; fall back where it is missing.
type OneShot = (algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;
const sha256: (data: Uint8Array) => Buffer = oneShot
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => createHash('sha256').update(data).digest();

/** The TypeScript reference hasher: node:crypto SHA-256 (pure computation, no I/O). */
export const referenceHasher: Hasher = Object.freeze<Hasher>({
  hashLeaf(leaf) {
    return sha256(Buffer.concat([LEAF_PREFIX, leaf]));
  },
  hashChildren(left, right) {
    return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  },
  hashLeaves(leaves) {
    return leaves.map((leaf) => sha256(Buffer.concat([LEAF_PREFIX, leaf])));
  },
  emptyRoot() {
    return Buffer.from(EMPTY_ROOT);
  },
});

/** referenceHasher with hashLeaves done by @stoq/native, or null when the addon is not built. */
export const nativeHasher: Hasher | null = loadNativeHasher(referenceHasher);

/**
 * The default hasher (what CtLog and MerkleTree use unless given one): native batch leaf hashing
 * when the addon loads, else the reference. Both produce identical hashes.
 */
export const sha256Hasher: Hasher = nativeHasher ?? referenceHasher;

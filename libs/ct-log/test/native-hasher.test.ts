// The native batch leaf hashing (@stoq/native merkleLeafHashes) against the node:crypto reference
// on random leaves, and the default wiring. Skipped until the addon is built.
import fc from 'fast-check';
import { MerkleTree, nativeHasher, referenceHasher, sha256Hasher } from '../src';

const native = nativeHasher;
const maybe = native ? test : test.skip;
if (!native) console.warn('native-hasher tests skipped: @stoq/native is not built or lacks merkleLeafHashes');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('native RFC 6962 leaf hashing', () => {
  maybe('is the default hasher when the addon loads; the reference stays selectable', () => {
    expect(sha256Hasher).toBe(native);
    expect(referenceHasher).not.toBe(native);
  });

  maybe('hashLeaves equals the reference for random batches (including empty leaves and batches)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { minLength: 0, maxLength: 64 }), (leaves) => {
        const got = native!.hashLeaves(leaves);
        const want = referenceHasher.hashLeaves(leaves);
        expect(got.map(hex)).toEqual(want.map(hex));
        got.forEach((h, i) => expect(hex(h)).toBe(hex(referenceHasher.hashLeaf(leaves[i]!))));
      }),
      { numRuns: 200 },
    );
  });

  maybe('trees built with either hasher have the same roots and proofs', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 100 }), (leaves) => {
        const a = new MerkleTree(native!);
        const b = new MerkleTree(referenceHasher);
        native!.hashLeaves(leaves).forEach((h) => a.appendLeafHash(h));
        leaves.forEach((l) => b.appendLeaf(l));
        const size = leaves.length;
        expect(hex(a.rootAt(size))).toBe(hex(b.rootAt(size)));
        expect(a.inclusionProof(size - 1, size).map(hex)).toEqual(b.inclusionProof(size - 1, size).map(hex));
      }),
      { numRuns: 50 },
    );
  });
});

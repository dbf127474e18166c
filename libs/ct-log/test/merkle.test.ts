import fc from 'fast-check';
import { MerkleTree, sha256Hasher, verifyConsistency, verifyInclusion, explainInclusion, explainConsistency } from '../src';
import * as v from './fixtures/rfc6962-vectors';
import { refLeafHash, refMth, refPath, refProof } from './reference';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const toHex = (h: Uint8Array): string => Buffer.from(h).toString('hex');

function vectorTree(): MerkleTree {
  const t = new MerkleTree();
  for (const l of v.leaves) t.appendLeaf(hex(l));
  return t;
}

describe('RFC 6962 hasher (transparency-dev vectors)', () => {
  it('hashes the empty tree, leaves and nodes', () => {
    expect(toHex(sha256Hasher.emptyRoot())).toBe(v.hasherVectors.emptyRoot);
    expect(toHex(sha256Hasher.hashLeaf(new Uint8Array()))).toBe(v.hasherVectors.emptyLeafHash);
    expect(toHex(sha256Hasher.hashLeaf(Buffer.from(v.hasherVectors.leafL123456.leaf)))).toBe(v.hasherVectors.leafL123456.hash);
    const n = v.hasherVectors.nodeN123N456;
    expect(toHex(sha256Hasher.hashChildren(Buffer.from(n.left), Buffer.from(n.right)))).toBe(n.hash);
    expect(sha256Hasher.hashLeaves([Buffer.from('L123456')]).map(toHex)).toEqual([v.hasherVectors.leafL123456.hash]);
  });
});

describe('MerkleTree against the 8-leaf reference vectors', () => {
  const tree = vectorTree();

  it('has the published root at every size', () => {
    expect(toHex(tree.rootAt(0))).toBe(v.hasherVectors.emptyRoot);
    for (let size = 1; size <= 8; size++) expect(toHex(tree.rootAt(size))).toBe(v.roots[size - 1]);
  });

  it('generates the published inclusion proofs and they verify', () => {
    for (const p of v.inclusionProofs) {
      const proof = tree.inclusionProof(p.leaf - 1, p.size);
      expect(proof.map(toHex)).toEqual(p.proof);
      const leafHash = sha256Hasher.hashLeaf(hex(v.leaves[p.leaf - 1]!));
      expect(verifyInclusion(p.leaf - 1, p.size, leafHash, proof, hex(v.roots[p.size - 1]!))).toBe(true);
    }
    expect(tree.inclusionProof(0, 1)).toEqual([]);
  });

  it('generates the published consistency proofs and they verify', () => {
    for (const p of v.consistencyProofs) {
      const proof = tree.consistencyProof(p.size1, p.size2);
      expect(proof.map(toHex)).toEqual(p.proof);
      expect(verifyConsistency(p.size1, p.size2, proof, hex(v.roots[p.size1 - 1]!), hex(v.roots[p.size2 - 1]!))).toBe(true);
    }
  });

  it.each(v.inclusionProbes.map((p) => [p.desc, p] as const))('inclusion probe: %s', (_d, p) => {
    const idx = typeof p.leafIdx === 'string' ? Number(p.leafIdx) : p.leafIdx;
    const ok = verifyInclusion(idx, p.treeSize, b64(p.leafHash), p.proof.map(b64), b64(p.root));
    expect(ok).toBe(!p.wantErr);
  });

  it.each(v.consistencyProbes.map((p) => [p.desc, p] as const))('consistency probe: %s', (_d, p) => {
    const ok = verifyConsistency(p.size1, p.size2, p.proof.map(b64), b64(p.root1), b64(p.root2));
    expect(ok).toBe(!p.wantErr);
  });

  it('explains why a proof fails', () => {
    const leaf = sha256Hasher.hashLeaf(hex(v.leaves[0]!));
    const proof = tree.inclusionProof(0, 8);
    expect(explainInclusion(sha256Hasher, 0, 8, leaf, proof.slice(0, 2), tree.rootAt(8))).toMatch(/too few/);
    expect(explainInclusion(sha256Hasher, 8, 8, leaf, proof, tree.rootAt(8))).toMatch(/leaf index 8 is not less than tree size 8/);
    expect(explainConsistency(sha256Hasher, 5, 3, [], tree.rootAt(5), tree.rootAt(3))).toMatch(/second size 3 is smaller than first size 5/);
  });

  it('rejects out-of-range requests with errors naming the values', () => {
    expect(() => tree.rootAt(9)).toThrow('tree size 9 exceeds the tree size 8');
    expect(() => tree.inclusionProof(5, 5)).toThrow('leaf index 5 must be less than tree size 5');
    expect(() => tree.consistencyProof(6, 3)).toThrow('first tree size 6 exceeds second tree size 3');
    expect(() => tree.inclusionProof(-1, 3)).toThrow(/leaf index must be a non-negative safe integer, got -1/);
    expect(() => tree.appendLeafHash(new Uint8Array(31))).toThrow('leaf hash must be 32 bytes, got 31');
  });
});

describe('special-case verification (RFC 9162 edge cases)', () => {
  const some = hex('abacaba000000000000000000000000000000000000000000060061e00123456');
  const empty = hex(v.hasherVectors.emptyRoot);
  it('single-entry tree: root equals leaf hash, empty proof', () => {
    const h = sha256Hasher.hashLeaf(Buffer.from('data'));
    expect(verifyInclusion(0, 1, h, [], h)).toBe(true);
    expect(verifyInclusion(0, 1, new Uint8Array(), [], h)).toBe(false);
    expect(verifyInclusion(0, 1, h, [], new Uint8Array())).toBe(false);
  });
  it.each([[0, 0], [0, 1], [1, 0], [2, 1]])('index %d in size %d with empty proof never verifies', (i, n) => {
    expect(verifyInclusion(i, n, some, [], new Uint8Array())).toBe(false);
    expect(verifyInclusion(i, n, new Uint8Array(), [], empty)).toBe(false);
    expect(verifyInclusion(i, n, some, [], empty)).toBe(false);
  });
  it('consistency: trivial sizes and time travel', () => {
    const r1 = Buffer.from("don't care 1");
    const r2 = Buffer.from("don't care 2");
    expect(verifyConsistency(0, 0, [], r1, r1)).toBe(true);
    expect(verifyConsistency(0, 1, [], r1, r2)).toBe(true);
    expect(verifyConsistency(1, 1, [], r2, r2)).toBe(true);
    expect(verifyConsistency(0, 0, [], r1, r2)).toBe(false);
    expect(verifyConsistency(1, 1, [], r1, r2)).toBe(false);
    expect(verifyConsistency(1, 0, [], r1, r2)).toBe(false);
    expect(verifyConsistency(2, 1, [], r1, r2)).toBe(false);
    expect(verifyConsistency(1, 2, [], r1, r2)).toBe(false);
    expect(verifyConsistency(0, 0, [empty], empty, empty)).toBe(false);
    expect(verifyConsistency(0, 1, [empty], empty, empty)).toBe(false);
    expect(verifyConsistency(1, 1, [empty], empty, empty)).toBe(false);
  });
});

// Property tests: the efficient tree matches the naive RFC 6962 recursion and its proofs verify;
// every kind of mutation makes verification fail.
const leavesArb = fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 70 });

function build(leaves: readonly Uint8Array[]): MerkleTree {
  const t = new MerkleTree();
  for (const l of leaves) t.appendLeaf(l);
  return t;
}

function flipBit(proof: Uint8Array[], which: number, bit: number): Uint8Array[] {
  return proof.map((h, i) => {
    if (i !== which) return h;
    const c = Buffer.from(h);
    c[bit >> 3]! ^= 1 << (bit & 7);
    return c;
  });
}

describe('MerkleTree property tests against the naive reference', () => {
  it('roots match MTH at every size', () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const t = build(leaves);
        for (let n = 0; n <= leaves.length; n++) expect(toHex(t.rootAt(n))).toBe(toHex(refMth(leaves.slice(0, n))));
        expect(toHex(t.leafHash(leaves.length - 1))).toBe(toHex(refLeafHash(leaves[leaves.length - 1]!)));
      }),
      { numRuns: 60 },
    );
  });

  it('inclusion proofs match PATH, verify, and fail when mutated', () => {
    const arb = leavesArb.chain((leaves) =>
      fc.record({
        leaves: fc.constant(leaves),
        size: fc.integer({ min: 1, max: leaves.length }),
        seed: fc.nat(),
        bit: fc.integer({ min: 0, max: 255 }),
      }).chain((r) => fc.record({ r: fc.constant(r), index: fc.integer({ min: 0, max: r.size - 1 }) })),
    );
    fc.assert(
      fc.property(arb, ({ r: { leaves, size, seed, bit }, index }) => {
        const t = build(leaves);
        const proof = t.inclusionProof(index, size);
        const prefix = leaves.slice(0, size);
        expect(proof.map(toHex)).toEqual(refPath(index, prefix).map(toHex));
        const root = refMth(prefix);
        const leafHash = refLeafHash(leaves[index]!);
        expect(verifyInclusion(index, size, leafHash, proof, root)).toBe(true);
        if (proof.length > 0) {
          expect(verifyInclusion(index, size, leafHash, flipBit(proof, seed % proof.length, bit), root)).toBe(false);
          expect(verifyInclusion(index, size, leafHash, proof.slice(0, -1), root)).toBe(false); // truncated
        }
        expect(verifyInclusion(index, size, leafHash, [...proof, root], root)).toBe(false); // extended
        expect(verifyInclusion(index, size, Buffer.from(flipBit([leafHash], 0, bit)[0]!), proof, root)).toBe(false);
        // Wrong index: fails unless that index happens to hold an identical leaf hash.
        const other = (index + 1 + (seed % size)) % size;
        if (other !== index && toHex(refLeafHash(leaves[other]!)) !== toHex(leafHash)) {
          expect(verifyInclusion(other, size, leafHash, proof, root)).toBe(false);
        }
        // Wrong size, checked against the real root at that size: verifies only if the reference
        // proof at that size is this very proof (a Merkle root does not commit to its size; the STH does).
        const size2 = index + 1 + (seed % (leaves.length - index));
        if (size2 !== size) {
          const expected = refPath(index, leaves.slice(0, size2)).map(toHex).join() === proof.map(toHex).join();
          expect(verifyInclusion(index, size2, leafHash, proof, refMth(leaves.slice(0, size2)))).toBe(expected);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('consistency proofs match PROOF, verify, and fail when mutated', () => {
    const arb = leavesArb.chain((leaves) =>
      fc.record({
        leaves: fc.constant(leaves),
        size2: fc.integer({ min: 1, max: leaves.length }),
        seed: fc.nat(),
        bit: fc.integer({ min: 0, max: 255 }),
      }).chain((r) => fc.record({ r: fc.constant(r), size1: fc.integer({ min: 0, max: r.size2 }) })),
    );
    fc.assert(
      fc.property(arb, ({ r: { leaves, size2, seed, bit }, size1 }) => {
        const t = build(leaves);
        const proof = t.consistencyProof(size1, size2);
        expect(proof.map(toHex)).toEqual(refProof(size1, leaves.slice(0, size2)).map(toHex));
        const root1 = refMth(leaves.slice(0, size1));
        const root2 = refMth(leaves.slice(0, size2));
        expect(verifyConsistency(size1, size2, proof, root1, root2)).toBe(true);
        if (size1 === 0 || size1 === size2) return;
        expect(verifyConsistency(size1, size2, flipBit(proof, seed % proof.length, bit), root1, root2)).toBe(false);
        expect(verifyConsistency(size1, size2, proof.slice(0, -1), root1, root2)).toBe(false); // truncated
        expect(verifyConsistency(size1, size2, [...proof, root2], root1, root2)).toBe(false); // extended
        // Wrong sizes, checked against the real roots at those sizes (see the inclusion case).
        const same = (a: Uint8Array[], b: Uint8Array[]): boolean => a.map(toHex).join() === b.map(toHex).join();
        const otherSize2 = size1 + 1 + (seed % (leaves.length - size1));
        if (otherSize2 !== size2) {
          const d = leaves.slice(0, otherSize2);
          expect(verifyConsistency(size1, otherSize2, proof, root1, refMth(d))).toBe(same(proof, refProof(size1, d)));
        }
        const otherSize1 = 1 + (seed % (size2 - 1));
        if (otherSize1 !== size1) {
          const d = leaves.slice(0, size2);
          const r1 = refMth(leaves.slice(0, otherSize1));
          expect(verifyConsistency(otherSize1, size2, proof, r1, root2)).toBe(same(proof, refProof(otherSize1, d)));
        }
        expect(verifyConsistency(size1, size2, proof, root2, root1)).toBe(false); // swapped roots
      }),
      { numRuns: 150 },
    );
  });
});

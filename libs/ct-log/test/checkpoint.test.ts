// The pure pieces behind checkpointed open: the checkpoint.bin codec, the tree's post-order
// stored hashes (what tree.idx holds) and the compact leaf-hash index.
import fc from 'fast-check';
import {
  CHECKPOINT_BYTES,
  CorruptionError,
  crc32c,
  decodeCheckpoint,
  encodeCheckpoint,
  LeafHashIndex,
  MerkleTree,
  sha256Hasher,
  storedHashCount,
  type Checkpoint,
} from '../src';
import { refMth } from './reference';

const FILE = '/data/checkpoint.bin';
const sample: Checkpoint = {
  treeSize: 1_000_000,
  entriesEnd: 1_300_000_123,
  entriesMtimeNs: 1_763_700_000_123_456_789n,
  lastFrameOffset: 1_299_000_000,
  lastFrameCrc: 0xdeadbeef,
  lastTimestamp: 1_763_700_000_000,
  treeIdxCrc: 0x01020304,
  offsetsIdxCrc: 0xfffffffe,
  root: Buffer.alloc(32, 7),
};

function decodeError(data: Uint8Array): CorruptionError {
  try {
    decodeCheckpoint(data, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).code).toBe('CORRUPT');
    expect((err as CorruptionError).file).toBe(FILE);
    return err as CorruptionError;
  }
  throw new Error('decoded');
}

/** Re-seals a tampered body so only the field check (not the CRC) can reject it. */
function resealed(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf.subarray(12)), 8);
  return buf;
}

describe('checkpoint.bin codec', () => {
  it('round-trips every field at a fixed 96-byte layout', () => {
    const enc = encodeCheckpoint(sample);
    expect(enc.length).toBe(CHECKPOINT_BYTES);
    expect(enc.subarray(0, 8).toString('hex')).toBe('4354434b00010054'); // "CTCK", version 1, body 84
    expect(enc.readBigUInt64BE(12)).toBe(1_000_000n);
    const dec = decodeCheckpoint(enc, FILE);
    expect({ ...dec, root: Buffer.from(dec.root) }).toEqual({ ...sample, root: Buffer.from(sample.root) });
  });

  it('round-trips arbitrary values (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.record({
          treeSize: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          entriesEnd: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          entriesMtimeNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          lastFrameCrc: fc.integer({ min: 0, max: 0xffffffff }),
          lastTimestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          treeIdxCrc: fc.integer({ min: 0, max: 0xffffffff }),
          offsetsIdxCrc: fc.integer({ min: 0, max: 0xffffffff }),
          root: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (r, f) => {
          const cp: Checkpoint = { ...r, lastFrameOffset: Math.floor(f * (r.entriesEnd - 1)) };
          const dec = decodeCheckpoint(encodeCheckpoint(cp), FILE);
          expect({ ...dec, root: Buffer.from(dec.root) }).toEqual({ ...cp, root: Buffer.from(cp.root) });
        },
      ),
    );
  });

  it('rejects a bad magic', () => {
    const enc = encodeCheckpoint(sample);
    enc[0] = 0x58;
    expect(decodeError(enc).message).toBe(`${FILE}: corrupt at byte offset 0: bad magic`);
  });

  it('rejects an unsupported version', () => {
    const enc = encodeCheckpoint(sample);
    enc.writeUInt16BE(2, 4);
    expect(decodeError(enc).message).toBe(`${FILE}: corrupt at byte offset 4: unsupported version 2 (want 1)`);
  });

  it('rejects a bad CRC, wherever the body was damaged', () => {
    for (let at = 12; at < CHECKPOINT_BYTES; at += 7) {
      const enc = encodeCheckpoint(sample);
      enc[at]! ^= 0x10;
      expect(decodeError(enc).message).toBe(`${FILE}: corrupt at byte offset 12: CRC mismatch`);
    }
    const enc = encodeCheckpoint(sample);
    enc[9]! ^= 1; // the stored CRC itself
    expect(decodeError(enc).message).toMatch(/CRC mismatch$/);
  });

  it('rejects a truncated or extended file at every length', () => {
    const enc = encodeCheckpoint(sample);
    for (let len = 0; len < CHECKPOINT_BYTES; len++) {
      const msg = decodeError(enc.subarray(0, len)).message;
      if (len < 12) expect(msg).toBe(`${FILE}: corrupt at byte offset 0: file is ${len} bytes, shorter than its 12-byte header`);
      else expect(msg).toBe(`${FILE}: corrupt at byte offset 6: body length field 84 and file size ${len} do not match the 84-byte body`);
    }
    expect(decodeError(Buffer.concat([enc, Buffer.alloc(1)])).message).toMatch(/file size 97/);
  });

  it('rejects fields that cannot describe a real log, even under a valid CRC', () => {
    const empty = encodeCheckpoint({ ...sample, treeSize: 1 });
    empty.writeBigUInt64BE(0n, 12);
    expect(decodeError(resealed(empty)).message).toMatch(/checkpoint of an empty tree$/);
    const huge = encodeCheckpoint(sample);
    huge.writeBigUInt64BE(2n ** 60n, 12);
    expect(decodeError(resealed(huge)).message).toMatch(/tree_size 1152921504606846976 is not a safe integer$/);
    expect(decodeError(encodeCheckpoint({ ...sample, lastFrameOffset: sample.entriesEnd })).message).toMatch(/last frame offset 1300000123 is not below entries_end 1300000123$/);
  });

  it('refuses to encode values it could not decode', () => {
    expect(() => encodeCheckpoint({ ...sample, root: Buffer.alloc(31) })).toThrow('root must be 32 bytes, got 31');
    expect(() => encodeCheckpoint({ ...sample, treeSize: -1 })).toThrow(/treeSize must be a non-negative safe integer/);
  });
});

function treeOf(n: number, seed = 0): MerkleTree {
  const t = new MerkleTree(sha256Hasher);
  for (let i = 0; i < n; i++) t.appendLeaf(Buffer.from(`leaf ${seed} ${i}`));
  return t;
}

describe('MerkleTree stored hashes (tree.idx layout)', () => {
  it('stores 2n - popcount(n) hashes in post-order', () => {
    expect([0, 1, 2, 3, 4, 5, 7, 8, 1000].map(storedHashCount)).toEqual([0, 1, 3, 4, 7, 8, 11, 15, 1994]);
    const t = treeOf(4);
    const h = (i: number): string => Buffer.from(t.leafHash(i)).toString('hex');
    const s = t.storedHashes(0, 4);
    const at = (k: number): string => s.subarray(k * 32, k * 32 + 32).toString('hex');
    // leaf0, leaf1, node(0,1), leaf2, leaf3, node(2,3), root(0..3)
    expect([at(0), at(1), at(3), at(4)]).toEqual([h(0), h(1), h(2), h(3)]);
    expect(at(2)).toBe(Buffer.from(t.rootAt(2)).toString('hex'));
    expect(at(6)).toBe(Buffer.from(t.rootAt(4)).toString('hex'));
    expect(s.length).toBe(7 * 32);
  });

  it('restores, in any chunking, a tree with identical roots and proofs (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 10 }), (n, cuts) => {
        const t = treeOf(n, n);
        const r = new MerkleTree(sha256Hasher);
        r.reserve(n);
        let a = 0;
        for (const c of [...cuts, n]) {
          const b = Math.min(n, a + c);
          r.restoreStoredHashes(t.storedHashes(a, b), b - a);
          a = b;
        }
        expect(r.size).toBe(n);
        expect(r.storedHashes(0, n).equals(t.storedHashes(0, n))).toBe(true);
        for (const s of [0, 1, Math.floor(n / 2), n]) if (s <= n) expect(Buffer.from(r.rootAt(s))).toEqual(Buffer.from(t.rootAt(s)));
        if (n > 0) {
          expect(Buffer.from(r.rootAt(n))).toEqual(Buffer.from(refMth(Array.from({ length: n }, (_, i) => Buffer.from(`leaf ${n} ${i}`)))));
          expect(r.inclusionProof(n - 1, n)).toEqual(t.inclusionProof(n - 1, n));
        }
        r.appendLeaf(Buffer.from('after'));
        t.appendLeaf(Buffer.from('after'));
        expect(Buffer.from(r.rootAt(n + 1))).toEqual(Buffer.from(t.rootAt(n + 1)));
      }),
      { numRuns: 60 },
    );
  });

  it('rejects a stored-hash buffer of the wrong length', () => {
    const t = treeOf(5);
    expect(() => new MerkleTree().restoreStoredHashes(t.storedHashes(0, 5), 4)).toThrow('4 leaves need 224 bytes of stored hashes, got 256');
  });
});

describe('LeafHashIndex', () => {
  it('finds the first index of every leaf hash across growth, and nothing else', () => {
    const t = new MerkleTree(sha256Hasher);
    const idx = new LeafHashIndex(t);
    for (let i = 0; i < 3000; i++) t.appendLeaf(Buffer.from(`x${i % 2500}`)); // 500 duplicates
    idx.catchUp();
    for (let i = 0; i < 3000; i++) expect(idx.find(t.leafHash(i))).toBe(i % 2500);
    expect(idx.find(sha256Hasher.hashLeaf(Buffer.from('absent')))).toBeUndefined();
    expect(idx.find(new Uint8Array(5))).toBeUndefined();
    t.appendLeaf(Buffer.from('late'));
    expect(idx.find(sha256Hasher.hashLeaf(Buffer.from('late')))).toBeUndefined(); // not caught up yet
    idx.catchUp();
    expect(idx.find(sha256Hasher.hashLeaf(Buffer.from('late')))).toBe(3000);
  });
});

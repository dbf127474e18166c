import fc from 'fast-check';
import {
  FourProofError,
  MerkleTree,
  createPlot,
  deriveBlock,
  formatIpv6,
  generatePoSpace,
  leafHash,
  parseIpv6,
  plotGenerate,
  resolveParams,
  verifyPoSpace,
} from '../src';
import { rootFromPath } from '../src/merkle';
import { CONTEXT, NODE_ID } from './fixtures';

describe('IPv6 location', () => {
  test.each([
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::42', '20010db8000000000000000000000042'],
    ['2001:DB8:0:0:8:800:200C:417A', '20010db80000000000080800200c417a'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
  ])('parses %s', (text, hex) => {
    expect(Buffer.from(parseIpv6(text)).toString('hex')).toBe(hex);
  });

  test.each(['::ffff:192.0.2.1', '::', '192.0.2.1', 'fe80::1%eth0', 'not-an-address', '1:2:3:4:5:6:7:8:9'])('rejects %s', (text) => {
    expect(() => parseIpv6(text)).toThrow(FourProofError);
  });

  test('format/parse round trip (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
        if (mapped || bytes.every((b) => b === 0)) return;
        expect(Buffer.from(parseIpv6(formatIpv6(bytes)))).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 300, seed: 1 },
    );
  });
});

describe('plot and Merkle commitment', () => {
  test('plotGenerate leaves are the Merkle leaf hashes of deriveBlock', () => {
    const leaves = plotGenerate(NODE_ID, 16, 96);
    for (let i = 0; i < 16; i++) {
      expect(Buffer.from(leaves.subarray(i * 32, i * 32 + 32))).toEqual(Buffer.from(leafHash(deriveBlock(NODE_ID, i, 96))));
    }
    // Blocks differ per node, per index and per block size.
    expect(Buffer.from(deriveBlock(NODE_ID, 0, 64))).not.toEqual(Buffer.from(deriveBlock(NODE_ID, 1, 64)));
    expect(Buffer.from(deriveBlock(NODE_ID, 0, 64))).not.toEqual(Buffer.from(deriveBlock(Uint8Array.of(1), 0, 64)));
    expect(Buffer.from(deriveBlock(NODE_ID, 0, 96).subarray(0, 64))).not.toEqual(Buffer.from(deriveBlock(NODE_ID, 0, 64)));
  });

  test('every Merkle path leads to the root, and only for its own index', () => {
    const leaves = plotGenerate(NODE_ID, 32, 64);
    const tree = MerkleTree.fromLeafHashes(leaves, 32);
    for (let i = 0; i < 32; i++) {
      const leaf = leaves.subarray(i * 32, i * 32 + 32);
      expect(Buffer.from(rootFromPath(leaf, i, tree.path(i), 'p', 'POSPACE_INVALID'))).toEqual(Buffer.from(tree.root));
      expect(Buffer.from(rootFromPath(leaf, i ^ 1, tree.path(i), 'p', 'POSPACE_INVALID'))).not.toEqual(Buffer.from(tree.root));
    }
  });

  test('PoSpace proof with a non-default plot and block size verifies against matching minimums', () => {
    const plot = createPlot(NODE_ID, { plotBlocks: 256, blockSize: 4096 });
    expect(plot.committedBytes).toBe(1 << 20);
    const proof = generatePoSpace({ plot, context: CONTEXT, ipv6Address: '2001:db8::7', challenges: 20 });
    expect(proof.openings).toHaveLength(20);
    expect(proof.openings[0]!.path).toHaveLength(8);
    expect(() => verifyPoSpace(proof, CONTEXT, resolveParams({ plotBlocks: 256, blockSize: 4096, spaceChallenges: 20 }))).not.toThrow();
    expect(() => verifyPoSpace(proof, CONTEXT, resolveParams({ plotBlocks: 512, blockSize: 4096 }))).toThrow(/POSPACE_INSUFFICIENT/);
  });

  test('a plugged-in plotGenerate is used; a wrong one yields proofs that fail, a mis-sized one is refused', () => {
    let calls = 0;
    const counting = (n: Uint8Array, b: number, s: number): Uint8Array => {
      calls++;
      return plotGenerate(n, b, s);
    };
    const good = createPlot(NODE_ID, { plotBlocks: 64, plotGenerate: counting });
    expect(calls).toBe(1);
    const params = resolveParams({ plotBlocks: 64 });
    verifyPoSpace(generatePoSpace({ plot: good, context: CONTEXT, ipv6Address: '::1', challenges: 16 }), CONTEXT, params);
    const wrong = createPlot(NODE_ID, { plotBlocks: 64, plotGenerate: (n, b, s) => plotGenerate(Uint8Array.of(...n, 0), b, s) });
    expect(() => verifyPoSpace(generatePoSpace({ plot: wrong, context: CONTEXT, ipv6Address: '::1', challenges: 16 }), CONTEXT, params)).toThrow(/POSPACE_INVALID/);
    expect(() => createPlot(NODE_ID, { plotBlocks: 64, plotGenerate: () => new Uint8Array(10) })).toThrow(/INVALID_ARGUMENT/);
  });

  test('plot parameters are validated', () => {
    expect(() => createPlot(NODE_ID, { plotBlocks: 100 })).toThrow(/INVALID_ARGUMENT at plotBlocks/);
    expect(() => createPlot(NODE_ID, { blockSize: 48 })).toThrow(/INVALID_ARGUMENT at blockSize/);
    expect(() => createPlot(new Uint8Array(0))).toThrow(/INVALID_ARGUMENT at nodeId/);
  });
});

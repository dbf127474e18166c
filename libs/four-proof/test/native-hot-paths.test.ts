// Cross-checks every native hot path (@stoq/native, native/src/hot/) against its TypeScript
// reference on random inputs, and the default wiring. Runs once the addon is built; until then it
// is reported as skipped (the references are then the default and the other suites cover them).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  RSA2048_MODULUS,
  canonicalElement,
  challengePrime,
  createPlot,
  defaultHotPaths,
  generateFourProofSet,
  nativeHotPaths,
  referenceHotPaths,
  encodeFourProofSet,
  generatePoSpace,
  resolveParams,
  signStakeAttestation,
  vdfInput,
  verifyFourProofSet,
  verifyPoSpace,
  wesolowskiProve,
  wesolowskiVerify,
} from '../src';
import { FourProofError } from '../src/errors';
import { leadingZeroBits, powHash } from '../src/pow-search';
import type { OperationContext, PoSpaceProof } from '../src/types';

const native = nativeHotPaths;
const maybe = native ? test : test.skip;
if (!native) console.warn('native hot-path tests skipped: @stoq/native is not built or lacks the hot-path exports');
const ref = referenceHotPaths;

/** Random odd modulus of 2..256 bytes (>= 3). */
const oddModulus = fc.uint8Array({ minLength: 1, maxLength: 256 }).map((b) => {
  const v = BigInt('0x' + Buffer.from(b).toString('hex')) | 1n;
  return v < 3n ? 3n : v;
});

describe('native hot paths equal the TypeScript references', () => {
  maybe('defaults to native when the addon loads, and the reference stays selectable', () => {
    expect(defaultHotPaths).toBe(native);
    expect(ref.vdfEvaluate).not.toBe(native!.vdfEvaluate);
  });

  maybe('vdfEvaluate on random moduli, bases and T', () => {
    fc.assert(
      fc.property(oddModulus, fc.bigInt({ min: 0n, max: (1n << 2100n) }), fc.integer({ min: 0, max: 300 }), (n, x, T) => {
        expect(native!.vdfEvaluate(x, T, n)).toBe(ref.vdfEvaluate(x, T, n));
      }),
      { numRuns: 150 },
    );
  });

  maybe('vdfProve on random moduli, bases, T and ℓ', () => {
    fc.assert(
      fc.property(oddModulus, fc.bigInt({ min: 0n, max: 1n << 2048n }), fc.integer({ min: 0, max: 300 }), fc.bigInt({ min: 2n, max: (1n << 256n) - 1n }), (n, x, T, ell) => {
        expect(native!.vdfProve(x, T, ell, n)).toBe(ref.vdfProve(x, T, ell, n));
      }),
      { numRuns: 150 },
    );
  });

  maybe('Wesolowski proofs over RSA-2048 are byte-identical, canonical and verify', () => {
    for (let i = 0; i < 3; i++) {
      const x = vdfInput(randomBytes(32), 1_700_000_000_000 + i, BigInt(i), 0);
      const T = 500 + 97 * i;
      const viaNative = wesolowskiProve(x, T, RSA2048_MODULUS, native!);
      const viaTs = wesolowskiProve(x, T, RSA2048_MODULUS, ref);
      expect(viaNative).toEqual(viaTs);
      expect(canonicalElement(viaNative.y, RSA2048_MODULUS)).toBe(viaNative.y);
      expect(wesolowskiVerify(x, viaNative.y, viaNative.pi, T, RSA2048_MODULUS)).toBe(true);
      // ℓ as the verifier derives it: the raw outputs agree before canonicalisation too.
      const ell = challengePrime(x, viaTs.y, T, RSA2048_MODULUS);
      expect(native!.vdfProve(x, T, ell, RSA2048_MODULUS)).toBe(ref.vdfProve(x, T, ell, RSA2048_MODULUS));
    }
  });

  maybe('inputs outside the native domain fall back to the reference (even modulus, huge ℓ)', () => {
    expect(native!.vdfEvaluate(5n, 3, 20n)).toBe(ref.vdfEvaluate(5n, 3, 20n));
    expect(native!.vdfProve(5n, 9, 1n << 300n, 253n)).toBe(ref.vdfProve(5n, 9, 1n << 300n, 253n));
    expect(native!.vdfEvaluate(7n, 2, (1n << 2048n) + 1n)).toBe(ref.vdfEvaluate(7n, 2, (1n << 2048n) + 1n));
  });

  maybe('powSearch finds the same (smallest) nonce from random starts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.integer({ min: 0, max: 11 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 5000n }), (challenge, difficulty, start) => {
        // Near the top of the nonce space a search may run out of nonces: then both must throw
        // RangeError; otherwise both must find the same nonce.
        const outcome = (search: () => bigint) => {
          try {
            return search();
          } catch (err) {
            expect(err).toBeInstanceOf(RangeError);
            return 'exhausted';
          }
        };
        const nonce = outcome(() => native!.powSearch(challenge, difficulty, start));
        expect(nonce).toBe(outcome(() => ref.powSearch(challenge, difficulty, start)));
        if (nonce !== 'exhausted') expect(leadingZeroBits(powHash(challenge, nonce))).toBeGreaterThanOrEqual(difficulty);
      }),
      { numRuns: 100 },
    );
  });

  maybe('powSearch at the top of the nonce space behaves like the reference', () => {
    const top = (1n << 64n) - 1n;
    expect(native!.powSearch(new Uint8Array([1]), 0, top)).toBe(top);
    expect(() => native!.powSearch(new Uint8Array([1]), 200, top - 3n)).toThrow(RangeError);
    expect(() => ref.powSearch(new Uint8Array([1]), 200, top - 3n)).toThrow(RangeError);
  });

  maybe('plotGenerate is byte-identical for random node ids and shapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 8 }), (nodeId, blocks, size32) => {
        const a = native!.plotGenerate(nodeId, blocks, size32 * 32);
        const b = ref.plotGenerate(nodeId, blocks, size32 * 32);
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  maybe('a large plot (multi-threaded natively) matches the reference', () => {
    const nodeId = randomBytes(32);
    const a = native!.plotGenerate(nodeId, 2048, 4096); // 8 MiB of blocks: the threaded path
    const b = ref.plotGenerate(nodeId, 2048, 4096);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  maybe('a set generated natively verifies and equals the TypeScript-generated one', () => {
    const ledger = generateKeyPairSync('ed25519');
    const nodeId = randomBytes(16);
    const now = 1_763_700_000_000;
    const stake = signStakeAttestation({ account: 'a', amount: 10n, nodeId, issuedAtMs: now - 1, expiresAtMs: now + 60_000 }, ledger.privateKey);
    const input = { context: { operation: 'op/x', assetId: 'asset', nodeId }, ipv6Address: '2001:db8::7', stake, now, sequence: 3n };
    const nativeSet = generateFourProofSet({ ...input, plot: createPlot(nodeId) });
    const tsSet = generateFourProofSet({ ...input, plot: createPlot(nodeId, { plotGenerate: ref.plotGenerate }), hotPaths: ref });
    expect(nativeSet).toEqual(tsSet);
    expect(verifyFourProofSet(nativeSet, { ledgerPublicKey: ledger.publicKey, now }).ok).toBe(true);
  });

  maybe('hashToPrime is identical on random digests and at the edges of the 128-bit range', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 64 }), (digest) => {
        expect(native!.hashToPrime(digest)).toBe(ref.hashToPrime(digest));
      }),
      { numRuns: 300 },
    );
    const be = (v: bigint) => Buffer.from(v.toString(16).padStart(32, '0'), 'hex');
    const top = 1n << 128n;
    for (const start of [0n, (1n << 127n) + 1n, top - 159n - 300n, top - 159n, top - 157n, top - 1n]) {
      // top − 157 and above: the first prime is past 2^128 (native declines, the reference answers).
      expect(native!.hashToPrime(be(start))).toBe(ref.hashToPrime(be(start)));
    }
    expect(ref.hashToPrime(be(top - 1n))).toBe(top + 51n);
    expect(() => native!.hashToPrime(new Uint8Array(15))).toThrow(RangeError);
    expect(() => ref.hashToPrime(new Uint8Array(15))).toThrow(RangeError);
  });

  maybe('vdfVerify agrees with the reference on arbitrary (mostly invalid) inputs', () => {
    fc.assert(
      fc.property(
        oddModulus,
        fc.bigInt({ min: -5n, max: 1n << 2050n }),
        fc.bigInt({ min: -5n, max: 1n << 2050n }),
        fc.bigInt({ min: -5n, max: 1n << 2050n }),
        fc.integer({ min: 0, max: 5000 }),
        fc.bigInt({ min: 1n, max: (1n << 260n) }),
        (n, x, y, pi, T, ell) => {
          // Fold into range often enough that the equation itself, not just the range check, is compared.
          const fold = (v: bigint) => (v > 0n && v % 3n !== 0n ? canonicalElement(v % n, n) : v);
          const args = [fold(x), fold(y), fold(pi), T, ell, n] as const;
          expect(native!.vdfVerify(...args)).toBe(ref.vdfVerify(...args));
        },
      ),
      { numRuns: 300 },
    );
  });

  maybe('vdfVerify accepts exactly the proofs the reference accepts (valid and tampered, small moduli)', () => {
    fc.assert(
      fc.property(oddModulus, fc.bigInt({ min: 2n, max: 1n << 2048n }), fc.integer({ min: 0, max: 400 }), fc.bigInt({ min: 3n, max: (1n << 130n) }), (n, x0, T, ell0) => {
        const ell = ell0 | 1n;
        const x = canonicalElement(x0 % n, n);
        const y = canonicalElement(ref.vdfEvaluate(x, T, n), n);
        const pi = canonicalElement(ref.vdfProve(x, T, ell, n), n);
        for (const [xx, yy, pp, tt] of [
          [x, y, pi, T], [x, y, pi, T + 1], [x, (y + 1n) % n, pi, T], [x, n - y, pi, T], [x, y, n - pi, T],
          [x, y, (pi + 1n) % n, T], [x, 0n, pi, T], [x, y, 0n, T], [0n, y, pi, T], [x + n, y, pi, T],
        ] as const) {
          const want = ref.vdfVerify(xx, yy, pp, tt, ell, n);
          expect(native!.vdfVerify(xx, yy, pp, tt, ell, n)).toBe(want);
        }
        if (x >= 1n && y >= 1n && pi >= 1n) expect(native!.vdfVerify(x, y, pi, T, ell, n)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  maybe('vdfVerify over RSA-2048: real proofs accepted, tampered ones and foreign ℓ rejected like the reference', () => {
    const N = RSA2048_MODULUS;
    for (let i = 0; i < 3; i++) {
      const x = vdfInput(randomBytes(32), 1_700_000_000_000 + i, BigInt(i), 0);
      const T = 300 + 211 * i;
      const { y, pi } = wesolowskiProve(x, T, N, native!);
      const ell = challengePrime(x, y, T, N, ref.hashToPrime);
      expect(challengePrime(x, y, T, N, native!.hashToPrime)).toBe(ell);
      const cases: [bigint, bigint, bigint, number, bigint][] = [
        [x, y, pi, T, ell], [x, y, pi, T + 1, ell], [x, y, pi, T, ell + 2n], [x, N - y, pi, T, ell], [x, y, N - pi, T, ell],
        [x, y ^ 1n, pi, T, ell], [x, y, pi ^ 4n, T, ell], [x, y, pi, T, 2n], [x, y, pi, T, 1n], [x, y, pi, T, 1n << 300n],
        [x, y, N + pi, T, ell], [x, y, pi, T, ell * 2n],
      ];
      for (const [xx, yy, pp, tt, ll] of cases) expect(native!.vdfVerify(xx, yy, pp, tt, ll, N)).toBe(ref.vdfVerify(xx, yy, pp, tt, ll, N));
      expect(native!.vdfVerify(x, y, pi, T, ell, N)).toBe(true);
      expect(wesolowskiVerify(x, y, pi, T, N, undefined, native!)).toBe(true);
      expect(wesolowskiVerify(x, y, pi, T, N, undefined, ref)).toBe(true);
    }
    // Out of the native domain: the reference's own errors.
    expect(() => native!.vdfVerify(2n, 2n, 2n, 1.5, 5n, N)).toThrow(RangeError);
    expect(() => ref.vdfVerify(2n, 2n, 2n, 1.5, 5n, N)).toThrow(RangeError);
    expect(() => native!.vdfVerify(2n, 2n, 2n, 3, 0n, N)).toThrow(RangeError);
  });

  maybe('set verification rejects tampered PoTime with the same error natively and in TypeScript', () => {
    const ledger = generateKeyPairSync('ed25519');
    const nodeId = randomBytes(16);
    const now = 1_763_700_000_000;
    const stake = signStakeAttestation({ account: 'a', amount: 10n, nodeId, issuedAtMs: now - 1, expiresAtMs: now + 60_000 }, ledger.privateKey);
    const set = generateFourProofSet({ context: { operation: 'op/x', assetId: 'asset', nodeId }, ipv6Address: '2001:db8::7', stake, now, sequence: 3n, plot: createPlot(nodeId) });
    const outcome = (s: typeof set, hotPaths: typeof ref) => {
      try {
        return verifyFourProofSet(encodeFourProofSet(s), { ledgerPublicKey: ledger.publicKey, now, hotPaths }).ok;
      } catch (e) {
        expect(e).toBeInstanceOf(FourProofError);
        return `${(e as FourProofError).code} ${(e as FourProofError).field}`;
      }
    };
    expect(outcome(set, native!)).toBe(true);
    expect(outcome(set, ref)).toBe(true);
    const flip = (b: Uint8Array, i: number) => { const c = new Uint8Array(b); c[i]! ^= 1; return c; };
    const tampered = [
      { ...set, time: { ...set.time, output: flip(set.time.output, 255) } },
      { ...set, time: { ...set.time, proof: flip(set.time.proof, 200) } },
      { ...set, time: { ...set.time, proof: new Uint8Array(256) } },
      { ...set, time: { ...set.time, output: new Uint8Array(Buffer.from((RSA2048_MODULUS - BigInt('0x' + Buffer.from(set.time.output).toString('hex'))).toString(16).padStart(512, '0'), 'hex')) } },
      { ...set, time: { ...set.time, iterations: set.time.iterations + 1 } },
    ];
    for (const t of tampered) {
      expect(outcome(t, native!)).toBe('POTIME_INVALID time.proof');
      expect(outcome(t, ref)).toBe(outcome(t, native!));
    }
    // The hotPaths option is honoured: a verifier that rejects everything fails the set.
    expect(outcome(set, { ...ref, vdfVerify: () => false })).toBe('POTIME_INVALID time.proof');
  });

  describe('pospaceVerifyOpenings', () => {
    // Small plots so each run builds a fresh tree quickly; sizes cover depth 1 and multi-chunk blocks.
    const shapes = [
      { plotBlocks: 2, blockSize: 64 },
      { plotBlocks: 16, blockSize: 64 },
      { plotBlocks: 64, blockSize: 96 },
    ];
    const fixtures = shapes.map(({ plotBlocks, blockSize }, s) => {
      const nodeId = randomBytes(8 + s * 9);
      const context: OperationContext = { operation: 'op/space', assetId: `asset-${s}`, nodeId };
      const proof = generatePoSpace({ plot: createPlot(nodeId, { plotBlocks, blockSize }), context, ipv6Address: '2001:db8::5', challenges: 6 });
      return { proof, context, params: resolveParams({ plotBlocks, blockSize, spaceChallenges: 6 }) };
    });
    const outcome = (proof: PoSpaceProof, context: OperationContext, params: ReturnType<typeof resolveParams>, impl: typeof ref) => {
      try {
        verifyPoSpace(proof, context, params, 'space', impl.pospaceVerifyOpenings);
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(FourProofError);
        const err = e as FourProofError;
        return `${err.code} ${err.field} ${err.message}`;
      }
    };
    /** The hot-path arguments of a proof, as verifyPoSpace passes them. */
    const args = (proof: PoSpaceProof) => {
      const depth = Math.log2(proof.plotBlocks);
      const blocks = new Uint8Array(proof.openings.length * proof.blockSize);
      const paths = new Uint8Array(proof.openings.length * depth * 32);
      proof.openings.forEach((o, j) => {
        blocks.set(o.block, j * proof.blockSize);
        o.path.forEach((sibling, h) => paths.set(sibling, (j * depth + h) * 32));
      });
      return { root: new Uint8Array(proof.merkleRoot), indices: proof.openings.map((o) => o.index), blocks, paths };
    };
    type Target = 'blocks' | 'paths' | 'root' | 'indices';

    maybe('accepts honest proofs like the reference, and is the default', () => {
      for (const { proof, context, params } of fixtures) {
        expect(outcome(proof, context, params, native!)).toBe('ok');
        expect(outcome(proof, context, params, ref)).toBe('ok');
        const a = args(proof);
        expect(native!.pospaceVerifyOpenings(a.root, proof.nodeId, proof.blockSize, proof.plotBlocks, a.indices, a.blocks, a.paths)).toBe(-1);
        expect(ref.pospaceVerifyOpenings(a.root, proof.nodeId, proof.blockSize, proof.plotBlocks, a.indices, a.blocks, a.paths)).toBe(-1);
      }
      expect(defaultHotPaths.pospaceVerifyOpenings).toBe(native!.pospaceVerifyOpenings);
    });

    maybe('any single mutated byte or index is rejected at the same opening as the reference', () => {
      fc.assert(
        fc.property(
          fc.nat(fixtures.length - 1),
          fc.constantFrom<Target>('blocks', 'paths', 'root', 'indices'),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          (f, target, at, xor) => {
            const { proof } = fixtures[f]!;
            const a = args(proof);
            if (target === 'indices') a.indices[at % a.indices.length]! ^= xor % proof.plotBlocks || 1;
            else a[target][at % a[target].length]! ^= xor;
            const call = (impl: typeof ref) => impl.pospaceVerifyOpenings(a.root, proof.nodeId, proof.blockSize, proof.plotBlocks, a.indices, a.blocks, a.paths);
            const want = call(ref);
            expect(want).toBeGreaterThanOrEqual(0);
            expect(call(native!)).toBe(want);
          },
        ),
        { numRuns: 400 },
      );
    });

    maybe('verifyPoSpace throws the same FourProofError (code, field, message) natively and in TypeScript', () => {
      fc.assert(
        fc.property(
          fc.nat(fixtures.length - 1),
          fc.constantFrom<Target>('blocks', 'paths', 'root', 'indices'),
          fc.nat(),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          (f, target, j0, at, xor) => {
            const { proof, context, params } = fixtures[f]!;
            const j = j0 % proof.openings.length;
            const openings = proof.openings.map((o) => ({ index: o.index, block: new Uint8Array(o.block), path: o.path.map((p) => new Uint8Array(p)) }));
            let root = proof.merkleRoot;
            const o = openings[j]!;
            if (target === 'blocks') o.block[at % o.block.length]! ^= xor;
            else if (target === 'paths') o.path[at % o.path.length]![at % 32]! ^= xor;
            else if (target === 'indices') o.index ^= xor % proof.plotBlocks || 1;
            else {
              root = new Uint8Array(root);
              root[at % 32]! ^= xor;
            }
            const mutated: PoSpaceProof = { ...proof, merkleRoot: root, openings };
            const got = outcome(mutated, context, params, native!);
            expect(got).toMatch(/^POSPACE_INVALID space\.openings\[\d+\]\.(index|block|path) /);
            expect(got).toBe(outcome(mutated, context, params, ref));
          },
        ),
        { numRuns: 300 },
      );
    });

    maybe('malformed arguments fall back to the reference and its RangeError', () => {
      const { proof } = fixtures[1]!;
      const a = args(proof);
      expect(() => native!.pospaceVerifyOpenings(a.root, proof.nodeId, proof.blockSize, proof.plotBlocks, a.indices, a.blocks.subarray(1), a.paths)).toThrow(RangeError);
      expect(() => native!.pospaceVerifyOpenings(a.root, proof.nodeId, proof.blockSize, 12, a.indices, a.blocks, a.paths)).toThrow(RangeError);
      // A 31-byte root is out of the native domain; the reference simply never matches it.
      expect(native!.pospaceVerifyOpenings(a.root.subarray(1), proof.nodeId, proof.blockSize, proof.plotBlocks, a.indices, a.blocks, a.paths)).toBe(0);
    });
  });
});

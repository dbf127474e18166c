import {
  DEFAULT_PARAMS,
  FourProofError,
  createPlot,
  generateFourProofSet,
  generatePoWork,
  leadingZeroBits,
  powChallenge,
  powHash,
  powSearch,
  referenceHotPaths,
  resolveParams,
  verifyFourProofSet,
  verifyPoWork,
} from '../src';
import { CONTEXT, NOW, NODE_ID, plotFor, stakeFor, verifyOptions } from './fixtures';

describe('PoWork', () => {
  test('leadingZeroBits', () => {
    expect(leadingZeroBits(Uint8Array.of(0x80))).toBe(0);
    expect(leadingZeroBits(Uint8Array.of(0x01, 0xff))).toBe(7);
    expect(leadingZeroBits(Uint8Array.of(0x00, 0x00, 0x10))).toBe(19);
    expect(leadingZeroBits(new Uint8Array(4))).toBe(32);
  });

  test('powSearch returns the smallest nonce meeting the difficulty', () => {
    const challenge = powChallenge(new Uint8Array(32).fill(9), 8);
    const nonce = powSearch(challenge, 8, 0n);
    expect(leadingZeroBits(powHash(challenge, nonce))).toBeGreaterThanOrEqual(8);
    for (let n = 0n; n < nonce; n++) expect(leadingZeroBits(powHash(challenge, n))).toBeLessThan(8);
    expect(powSearch(challenge, 8, nonce + 1n)).toBeGreaterThan(nonce);
  });

  test('difficulty is bound into the challenge: raising the claim on an existing proof fails', () => {
    const proof = generatePoWork(CONTEXT, { difficulty: 10 });
    const params = resolveParams({ powDifficulty: 10 });
    expect(() => verifyPoWork(proof, CONTEXT, params)).not.toThrow();
    let failures = 0;
    for (const d of [11, 12, 13, 14, 15, 16]) {
      try {
        verifyPoWork({ ...proof, difficulty: d }, CONTEXT, params);
      } catch (e) {
        expect((e as FourProofError).code).toBe('POWORK_INVALID');
        failures++;
      }
    }
    expect(failures).toBeGreaterThanOrEqual(5); // each survives only with probability 2^-d
  });

  test('a plugged-in powSearch returning a bad nonce is refused', () => {
    expect(() => generatePoWork(CONTEXT, { difficulty: 16, powSearch: () => 0n })).toThrow(/INVALID_ARGUMENT at powSearch/);
  });
});

describe('hot paths are pluggable', () => {
  test('alternative implementations are called and produce a verifying set', () => {
    const called = new Set<string>();
    const set = generateFourProofSet({
      context: CONTEXT,
      plot: plotFor(NODE_ID),
      ipv6Address: '2001:db8::1',
      stake: stakeFor(NODE_ID),
      now: NOW,
      sequence: 1n,
      hotPaths: {
        powSearch: (c, d, s) => (called.add('powSearch'), referenceHotPaths.powSearch(c, d, s)),
        vdfEvaluate: (x, t, n) => (called.add('vdfEvaluate'), referenceHotPaths.vdfEvaluate(x, t, n)),
        vdfProve: (x, t, l, n) => (called.add('vdfProve'), referenceHotPaths.vdfProve(x, t, l, n)),
      },
    });
    expect([...called].sort()).toEqual(['powSearch', 'vdfEvaluate', 'vdfProve']);
    expect(verifyFourProofSet(set, verifyOptions).ok).toBe(true);
  });

  test('a wrong VDF implementation yields a set that fails with POTIME_INVALID', () => {
    const set = generateFourProofSet({
      context: CONTEXT,
      plot: createPlot(NODE_ID),
      ipv6Address: '2001:db8::1',
      stake: stakeFor(NODE_ID),
      now: NOW,
      sequence: 1n,
      hotPaths: { vdfEvaluate: (x, t, n) => referenceHotPaths.vdfEvaluate(x, t - 1, n) },
    });
    expect(() => verifyFourProofSet(set, verifyOptions)).toThrow(/POTIME_INVALID/);
  });
});

describe('parameters', () => {
  test('defaults are the documented test-sized values', () => {
    expect(DEFAULT_PARAMS).toMatchObject({ plotBlocks: 1024, spaceChallenges: 16, powDifficulty: 12, vdfIterations: 4096 });
    expect(resolveParams()).toEqual(DEFAULT_PARAMS);
  });

  test.each([
    [{ plotBlocks: 1000 }, 'params.plotBlocks'],
    [{ blockSize: 100 }, 'params.blockSize'],
    [{ spaceChallenges: 0 }, 'params.spaceChallenges'],
    [{ powDifficulty: 65 }, 'params.powDifficulty'],
    [{ vdfIterations: 0 }, 'params.vdfIterations'],
    [{ timeToleranceMs: -1 }, 'params.timeToleranceMs'],
    [{ maxEncodedBytes: 0 }, 'params.maxEncodedBytes'],
    [{ minStake: -1n }, 'params.minStake'],
  ])('%o is rejected naming %s', (partial, field) => {
    try {
      resolveParams(partial);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(FourProofError);
      expect((e as FourProofError).field).toBe(field);
    }
  });
});

import { createHash } from 'node:crypto';
import {
  FourProofError,
  decodeFourProofSet,
  encodeFourProofSet,
  fourProofSetHash,
  generateFourProofSet,
  verifyFourProofSet,
  type FourProofErrorCode,
  type FourProofSet,
} from '../src';
import { CONTEXT, IPV6, NOW, NODE_ID, OTHER_NODE_ID, ecdsaLedger, ed25519Ledger, makeSet, plotFor, stakeFor, validSet, verifyOptions } from './fixtures';

function expectError(fn: () => unknown, code: FourProofErrorCode, field?: string | RegExp): FourProofError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FourProofError);
  const err = caught as FourProofError;
  expect(err.code).toBe(code);
  if (field !== undefined) expect(err.field).toMatch(field);
  expect(err.message).toContain(err.field);
  return err;
}

function withChange(set: FourProofSet, change: (s: Record<string, any>) => void): FourProofSet {
  const copy = structuredClone(set) as unknown as Record<string, any>;
  change(copy);
  return copy as unknown as FourProofSet;
}

describe('FourProofSet round trip', () => {
  test('a generated set verifies, from the object and from its canonical encoding, with the same proof hash', () => {
    const { set, bytes } = validSet();
    const fromObject = verifyFourProofSet(set, verifyOptions);
    const fromBytes = verifyFourProofSet(bytes, verifyOptions);
    expect(fromObject.ok).toBe(true);
    expect(fromObject.sequence).toBe(7n);
    const expected = createHash('sha256').update(bytes).digest();
    expect(Buffer.from(fromObject.proofHash).equals(expected)).toBe(true);
    expect(Buffer.from(fromBytes.proofHash).equals(expected)).toBe(true);
    expect(Buffer.from(fourProofSetHash(set)).equals(expected)).toBe(true);
  });

  test('encode(decode(bytes)) == bytes and the decoded set equals the generated one', () => {
    const { set, bytes } = validSet();
    const decoded = decodeFourProofSet(bytes);
    expect(Buffer.from(encodeFourProofSet(decoded)).equals(Buffer.from(bytes))).toBe(true);
    expect(decoded).toEqual(set);
  });

  test('all four proofs are bound to the same operation context', () => {
    const { set } = validSet();
    expect(Buffer.from(set.space.operationHash)).toEqual(Buffer.from(set.work.operationHash));
    expect(Buffer.from(set.time.operationHash)).toEqual(Buffer.from(set.work.operationHash));
    expect(Buffer.from(set.stake.attestation.nodeId)).toEqual(Buffer.from(NODE_ID));
  });

  test('Ed25519 ledger keys work as well as ECDSA P-256, and PEM keys are accepted', () => {
    const set = makeSet({ stake: stakeFor(NODE_ID, ed25519Ledger.privateKey) });
    expect(verifyFourProofSet(set, { ledgerPublicKey: ed25519Ledger.publicKey, now: NOW }).ok).toBe(true);
    const pem = ecdsaLedger.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyFourProofSet(validSet().bytes, { ledgerPublicKey: pem, now: NOW }).ok).toBe(true);
  });

  test('generation with default parameters takes well under a second', () => {
    const start = process.hrtime.bigint();
    makeSet({ sequence: 99n });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(ms).toBeLessThan(1000);
  });

  test('sequence: a newer sequence is accepted, the same or older is STALE', () => {
    const { bytes } = validSet();
    expect(verifyFourProofSet(bytes, { ...verifyOptions, lastSequence: 6n }).ok).toBe(true);
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, lastSequence: 7n }), 'STALE', 'time.sequence');
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, lastSequence: 100n }), 'STALE', 'time.sequence');
  });

  test('timestamp outside the tolerance window is STALE (past and future)', () => {
    const { bytes } = validSet();
    expect(verifyFourProofSet(bytes, { ...verifyOptions, now: NOW + 30_000 }).ok).toBe(true);
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, now: NOW + 30_001 }), 'STALE', 'time.timestampMs');
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, now: NOW - 30_001 }), 'STALE', 'time.timestampMs');
    expect(verifyFourProofSet(bytes, { ...verifyOptions, now: NOW + 50_000, params: { timeToleranceMs: 60_000 } }).ok).toBe(true);
  });
});

describe('FourProofSet failure modes', () => {
  test.each(['context', 'space', 'stake', 'work', 'time'] as const)('missing %s -> PROOF_MISSING', (key) => {
    const set = withChange(validSet().set, (s) => delete s[key]);
    expectError(() => verifyFourProofSet(set, verifyOptions), 'PROOF_MISSING', key);
    expectError(() => encodeFourProofSet(set), 'PROOF_MISSING', key);
  });

  test('a set generated for another operation, asset or node does not verify under this context', () => {
    const { set } = validSet();
    for (const context of [{ ...CONTEXT, operation: 'trustchain/revoke' }, { ...CONTEXT, assetId: 'cert:other' }]) {
      expectError(() => verifyFourProofSet({ ...set, context }, verifyOptions), 'OPERATION_MISMATCH', /operationHash/);
    }
  });

  test('proofs mixed from two operations -> OPERATION_MISMATCH naming the foreign proof', () => {
    const a = validSet().set;
    const b = makeSet({ context: { ...CONTEXT, operation: 'hypermesh/register_asset' } });
    expectError(() => verifyFourProofSet({ ...a, work: b.work }, verifyOptions), 'OPERATION_MISMATCH', 'work.operationHash');
    expectError(() => verifyFourProofSet({ ...a, time: b.time }, verifyOptions), 'OPERATION_MISMATCH', 'time.operationHash');
    expectError(() => verifyFourProofSet({ ...a, space: b.space }, verifyOptions), 'OPERATION_MISMATCH', 'space.operationHash');
  });

  test('stake attested for another node -> OPERATION_MISMATCH', () => {
    const set = makeSet({ stake: stakeFor(OTHER_NODE_ID) });
    expectError(() => verifyFourProofSet(set, verifyOptions), 'OPERATION_MISMATCH', 'stake.attestation.nodeId');
  });

  test('expired stake -> POSTAKE_EXPIRED', () => {
    const set = makeSet({ stake: stakeFor(NODE_ID, ecdsaLedger.privateKey, { expiresAtMs: NOW + 1_000 }) });
    expect(verifyFourProofSet(set, verifyOptions).ok).toBe(true);
    expectError(() => verifyFourProofSet(set, { ...verifyOptions, now: NOW + 1_000 }), 'POSTAKE_EXPIRED', 'stake.attestation.expiresAtMs');
  });

  test('stake below the minimum -> POSTAKE_INSUFFICIENT', () => {
    expectError(() => verifyFourProofSet(validSet().bytes, { ...verifyOptions, params: { minStake: 5_001n } }), 'POSTAKE_INSUFFICIENT', 'stake.attestation.amount');
  });

  test('stake signed by another key, or tampered, or of another algorithm -> POSTAKE_INVALID', () => {
    const { set } = validSet();
    expectError(() => verifyFourProofSet(set, { ...verifyOptions, ledgerPublicKey: ed25519Ledger.publicKey }), 'POSTAKE_INVALID', 'stake.algorithm');
    const otherEcdsa = stakeFor(NODE_ID, require('node:crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    expectError(() => verifyFourProofSet({ ...set, stake: otherEcdsa }, verifyOptions), 'POSTAKE_INVALID', 'stake.signature');
    const inflated = withChange(set, (s) => (s.stake.attestation.amount = 10n ** 12n));
    expectError(() => verifyFourProofSet(inflated, verifyOptions), 'POSTAKE_INVALID', 'stake.signature');
  });

  test('high-S ECDSA signatures are rejected (non-malleable proof hash)', () => {
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const set = validSet().set;
    const sig = set.stake.signature;
    const s = BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex'));
    const highS = Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex');
    const mutated = withChange(set, (x) => x.stake.signature.set(highS, 32));
    expectError(() => verifyFourProofSet(mutated, verifyOptions), 'POSTAKE_INVALID', 'stake.signature');
  });

  test('difficulty below the verifier minimum -> POWORK_INSUFFICIENT; a wrong nonce -> POWORK_INVALID', () => {
    const { set, bytes } = validSet();
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, params: { powDifficulty: 13 } }), 'POWORK_INSUFFICIENT', 'work.difficulty');
    const wrong = withChange(set, (s) => (s.work.nonce = s.work.nonce + 1n)); // the search returns the smallest valid nonce; +1 fails w.p. 1 - 2^-12
    expectError(() => verifyFourProofSet(wrong, verifyOptions), 'POWORK_INVALID', 'work.nonce');
  });

  test('tampered VDF output, proof or iterations -> POTIME_INVALID', () => {
    const { set } = validSet();
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.time.output[100] ^= 1)), verifyOptions), 'POTIME_INVALID', 'time.proof');
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.time.proof[255] ^= 1)), verifyOptions), 'POTIME_INVALID', 'time.proof');
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.time.iterations += 1)), verifyOptions), 'POTIME_INVALID', 'time.proof');
    expectError(() => verifyFourProofSet(set, { ...verifyOptions, params: { vdfIterations: 8192 } }), 'POTIME_INVALID', 'time.iterations');
  });

  test('a changed timestamp or sequence breaks the VDF binding -> POTIME_INVALID', () => {
    const { set } = validSet();
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.time.timestampMs += 1)), verifyOptions), 'POTIME_INVALID', 'time.proof');
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.time.sequence += 1n)), verifyOptions), 'POTIME_INVALID', 'time.proof');
  });

  test('tampered plot openings -> POSPACE_INVALID; too little storage or too few openings -> POSPACE_INSUFFICIENT', () => {
    const { set, bytes } = validSet();
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.space.openings[3].block[5] ^= 1)), verifyOptions), 'POSPACE_INVALID', 'space.openings[3].block');
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.space.openings[2].path[4][0] ^= 1)), verifyOptions), 'POSPACE_INVALID', 'space.openings[2].path');
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.space.openings[0].index ^= 1)), verifyOptions), 'POSPACE_INVALID', 'space.openings[0].index');
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.space.merkleRoot[0] ^= 1)), verifyOptions), 'POSPACE_INVALID', /space\.openings\[\d+\]/);
    expectError(() => verifyFourProofSet(withChange(set, (s) => s.space.openings.pop()), verifyOptions), 'POSPACE_INSUFFICIENT', 'space.openings');
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, params: { plotBlocks: 2048 } }), 'POSPACE_INSUFFICIENT', 'space.plotBlocks');
  });

  test('PoSpace claims an IPv6 location: IPv4-mapped and changed addresses fail', () => {
    const { set } = validSet();
    const mapped = withChange(set, (s) => s.space.ipv6Address.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]));
    expectError(() => verifyFourProofSet(mapped, verifyOptions), 'POSPACE_INVALID', 'space.ipv6Address');
    // Another (valid) address changes the Fiat–Shamir seed, so the openings no longer answer the challenges.
    const moved = withChange(set, (s) => (s.space.ipv6Address[15] ^= 1));
    expectError(() => verifyFourProofSet(moved, verifyOptions), 'POSPACE_INVALID', /space\.openings\[\d+\]\.index/);
    expectError(
      () => generateFourProofSet({ context: CONTEXT, plot: plotFor(NODE_ID), ipv6Address: '::ffff:192.0.2.1', stake: stakeFor(NODE_ID), now: NOW, sequence: 1n }),
      'INVALID_ARGUMENT',
      'ipv6Address',
    );
  });

  test('a plot of another node cannot be used', () => {
    expectError(
      () => generateFourProofSet({ context: CONTEXT, plot: plotFor(OTHER_NODE_ID), ipv6Address: IPV6, stake: stakeFor(NODE_ID), now: NOW, sequence: 1n }),
      'INVALID_ARGUMENT',
      'plot.nodeId',
    );
    const { set } = validSet();
    expectError(() => verifyFourProofSet(withChange(set, (s) => (s.space.nodeId = OTHER_NODE_ID)), verifyOptions), 'OPERATION_MISMATCH', 'space.nodeId');
  });

  test('unsupported version and oversized input -> DECODE', () => {
    const { set, bytes } = validSet();
    expectError(() => verifyFourProofSet({ ...set, version: 2 }, verifyOptions), 'DECODE', 'version');
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, params: { maxEncodedBytes: bytes.length - 1 } }), 'DECODE', 'FourProofSet');
  });

  test('bad verifier inputs are INVALID_ARGUMENT', () => {
    const { bytes } = validSet();
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, now: -1 }), 'INVALID_ARGUMENT', 'now');
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, params: { plotBlocks: 1000 } }), 'INVALID_ARGUMENT', 'params.plotBlocks');
    expectError(() => verifyFourProofSet(bytes, { ...verifyOptions, ledgerPublicKey: 'not a key' }), 'INVALID_ARGUMENT', 'ledgerPublicKey');
  });
});

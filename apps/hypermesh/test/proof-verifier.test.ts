// ProofVerifier remembers the sets it verified (proofs/verified-sets.ts): a remembered set gets
// the verdict a full verification would give at that moment and on that chain (compared, field by
// field, over the clock and chain conditions that can change), bytes or bindings it did not verify
// are verified in full, refusals are not remembered, and the memory is bounded. Applying a
// committed validation with what it remembers gives the results and state decoding gives.
import { nativeFalcon } from '@stoq/core';
import { certificateKeyBinding, certificateRequestContext, decodeFourProofSet, DEFAULT_PARAMS, encodeFourProofSet, generateFourProofSet, signStakeAttestationWith, type BlockAnchor, type FourProofSet, type OperationContext, type PoStakeProof } from '@stoq/four-proof';
import { applyOperation, type AppState, type KnownSet, type OperationResult, type ValidationBody } from '../src/app/apply';
import type { Operation } from '../src/operations';
import { ProofVerifier, type ChainView } from '../src/proofs/proof-verifier';
import { verifiedSetKey, VerifiedSets, type VerifiedSet } from '../src/proofs/verified-sets';
import { caesarKeys, LEDGER_KEY, NODE_ID, nodePlot, stake } from './service-harness';

const KEYS = certificateKeyBinding(new Uint8Array([0x30, 0x59, 1]), new Uint8Array(64).fill(3));
const OTHER_KEYS = certificateKeyBinding(new Uint8Array([0x30, 0x59, 2]), new Uint8Array(64).fill(3));
const ANCHOR: BlockAnchor = { height: 10n, hash: new Uint8Array(32).fill(0xa1) };
const T0 = Date.now();
const TOL = DEFAULT_PARAMS.timeToleranceMs;

function makeSet(o: { context?: OperationContext; sequence?: bigint; issuedAtMs?: number; expiresAtMs?: number } = {}): FourProofSet {
  return generateFourProofSet({
    context: o.context ?? certificateRequestContext(KEYS, NODE_ID),
    plot: nodePlot(),
    ipv6Address: '2001:db8::42',
    stake: o.issuedAtMs === undefined ? stake({ expiresAtMs: o.expiresAtMs ?? T0 + 3_600_000 }) : issuedAt(o.issuedAtMs),
    now: T0,
    sequence: o.sequence ?? 5n,
    anchor: ANCHOR,
  });
}

/** An attestation issued at `ms` (stake() issues a minute before now), signed by the ledger key. */
function issuedAt(ms: number): PoStakeProof {
  return signStakeAttestationWith({ account: '1001', amount: 5_000n, nodeId: NODE_ID, issuedAtMs: ms, expiresAtMs: ms + 3_600_000 }, (m) => nativeFalcon.sign(caesarKeys.secretKey, m));
}

function chain(o: { height?: number; hash?: Uint8Array | null; last?: bigint } = {}): ChainView {
  const hash = o.hash === undefined ? ANCHOR.hash : o.hash;
  return {
    height: o.height ?? 11,
    committedHash: (h) => (h === 10 && hash !== null ? Buffer.from(hash).toString('hex') : undefined),
    ...(o.last !== undefined ? { lastSequence: () => o.last } : {}),
  };
}

const newVerifier = (verifiedSets?: number): ProofVerifier => new ProofVerifier({ ledgerPublicKey: LEDGER_KEY, maxAnchorAgeBlocks: 100 }, verifiedSets !== undefined ? { verifiedSets } : {});

describe('a remembered set gets the verdict a full verification gives', () => {
  const sets = { plain: encodeFourProofSet(makeSet()) };
  // [condition, clock, chain, the verdict: 'valid' or the start of the refusal]
  const conditions: Array<[string, number, ChainView, string]> = [
    ['valid at once', T0, chain(), 'valid'],
    ['valid near the end of the tolerance', T0 + TOL, chain(), 'valid'],
    ['timestamp too old', T0 + TOL + 1, chain(), 'STALE at time.timestampMs'],
    ['timestamp too far ahead (clock set back)', T0 - TOL - 1, chain(), 'STALE at time.timestampMs'],
    ['stake expired', T0 + 3_600_000, chain(), 'POSTAKE_EXPIRED at stake.attestation.expiresAtMs'],
    ['sequence replayed (equal)', T0, chain({ last: 5n }), 'STALE at time.sequence'],
    ['sequence below the last one', T0, chain({ last: 9n }), 'STALE at time.sequence'],
    ['sequence above the last one', T0, chain({ last: 4n }), 'valid'],
    ['anchor not committed yet', T0, chain({ height: 10 }), 'STALE at time.anchor'],
    ['anchor too old', T0, chain({ height: 111 }), 'STALE at time.anchor'],
    ['anchor at the oldest allowed', T0, chain({ height: 110 }), 'valid'],
    ['anchor names another block', T0, chain({ hash: new Uint8Array(32).fill(0xbb) }), 'STALE at time.anchor'],
    ['anchor block not in this chain', T0, chain({ hash: null }), 'STALE at time.anchor'],
    ['a clock that is not a safe integer', Number.NaN, chain(), 'INVALID_ARGUMENT at now'],
    ['stale timestamp and replayed sequence: the first rule in order', T0 + TOL + 5, chain({ last: 7n }), 'STALE at time.timestampMs'],
  ];
  const warm = newVerifier();
  beforeAll(() => {
    expect(warm.verifyCertificateRequest({ keyBinding: KEYS, proofSet: sets.plain }, T0, chain())).toMatchObject({ valid: true });
  });
  test.each(conditions)('%s', (_name, now, c, expected) => {
    const before = warm.counters.verified;
    const full = newVerifier().verifyCertificateRequest({ keyBinding: KEYS, proofSet: sets.plain }, now, c);
    const remembered = warm.verifyCertificateRequest({ keyBinding: KEYS, proofSet: sets.plain }, now, c);
    expect(warm.counters.verified).toBe(before); // not verified again
    expect(full.valid ? 'valid' : full.detail).toMatch(new RegExp(`^${expected.replace(/\./g, '\\.')}`));
    expect(remembered).toEqual(full);
  });

  test('stake issued ahead of a clock set back, and the first of two moment rules (stake before time)', () => {
    const ahead = encodeFourProofSet(makeSet({ issuedAtMs: T0 + TOL, sequence: 6n }));
    const v = newVerifier();
    expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: ahead }, T0, chain())).toMatchObject({ valid: true });
    for (const now of [T0 - 1, T0 - TOL - 5_000]) {
      const full = newVerifier().verifyCertificateRequest({ keyBinding: KEYS, proofSet: ahead }, now, chain());
      expect(full).toMatchObject({ valid: false, code: 'POSTAKE_INVALID', field: 'stake.attestation.issuedAtMs' });
      expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: ahead }, now, chain())).toEqual(full);
    }
    expect(v.counters).toEqual({ verified: 1, remembered: 2 });
  });
});

test('bytes or a binding it did not verify are verified in full: a verdict for X is never used for Y', () => {
  const v = newVerifier();
  const good = makeSet();
  const x = encodeFourProofSet(good);
  expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: x }, T0, chain())).toMatchObject({ valid: true });
  // Y: the same set with one byte of the VDF proof changed.
  const y = encodeFourProofSet({ ...good, time: { ...good.time, proof: good.time.proof.map((b, i) => (i === 100 ? b ^ 1 : b)) } });
  expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: y }, T0, chain())).toMatchObject({ valid: false, code: 'POTIME_INVALID' });
  // X for another CSR's keys.
  expect(v.verifyCertificateRequest({ keyBinding: OTHER_KEYS, proofSet: x }, T0, chain())).toMatchObject({ valid: false, code: 'OPERATION_MISMATCH' });
  // X as an operation's proofs (another binding kind): its context is a certificate request's.
  expect(v.verifyProofs({ operation: 'trustchain/certificate', assetId: Buffer.from(KEYS).toString('hex'), nodeId: NODE_ID, proofSet: x }, T0, chain())).toMatchObject({ valid: false });
  expect(v.counters).toEqual({ verified: 4, remembered: 0 });
  expect(v.verified.size).toBe(1);
});

test('keys: the binding and the bytes are length-prefixed, so no two inputs share a key', () => {
  const set = new Uint8Array([1, 2, 3]);
  const keys = [
    verifiedSetKey({ kind: 'operation', operation: 'ab', assetId: 'c', nodeId: new Uint8Array([1]) }, set),
    verifiedSetKey({ kind: 'operation', operation: 'a', assetId: 'bc', nodeId: new Uint8Array([1]) }, set),
    verifiedSetKey({ kind: 'operation', operation: 'a', assetId: 'b', nodeId: new Uint8Array([1, 1]) }, set.subarray(1)),
    verifiedSetKey({ kind: 'certificate', keyBinding: new Uint8Array([1, 2]) }, new Uint8Array([3])),
    verifiedSetKey({ kind: 'certificate', keyBinding: new Uint8Array([1]) }, new Uint8Array([2, 3])),
  ];
  expect(new Set(keys).size).toBe(keys.length);
});

test('refusals are not remembered: a set refused for the moment verifies later, a bad one is verified (and refused) each time', () => {
  const v = newVerifier();
  const set = encodeFourProofSet(makeSet());
  // The anchor is not committed here yet (ordering at height 10), then it is.
  expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: set }, T0, chain({ height: 10 }))).toMatchObject({ valid: false, code: 'STALE', field: 'time.anchor', anchorAhead: 10 });
  expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: set }, T0, chain())).toMatchObject({ valid: true });
  expect(v.counters).toEqual({ verified: 2, remembered: 0 });
  const forged = encodeFourProofSet(generateFourProofSet({ context: certificateRequestContext(KEYS, NODE_ID), plot: nodePlot(), ipv6Address: '2001:db8::42', stake: stake({ secretKey: nativeFalcon.keypair().secretKey }), now: T0, sequence: 5n, anchor: ANCHOR }));
  for (let i = 0; i < 2; i++) expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: forged }, T0, chain())).toMatchObject({ valid: false, code: 'POSTAKE_INVALID', field: 'stake.signature' });
  expect(v.counters).toEqual({ verified: 4, remembered: 0 });
  expect(v.verified.size).toBe(1);
});

test('bounded: the least recently used set goes first, and is verified in full when it comes back', () => {
  const v = newVerifier(2);
  const sets = [7n, 8n, 9n].map((sequence) => encodeFourProofSet(makeSet({ sequence })));
  const check = (i: number): void => expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: sets[i]! }, T0, chain())).toMatchObject({ valid: true });
  check(0);
  check(1);
  check(0); // remembered; now the most recently used
  check(2); // evicts 1
  expect(v.verified.size).toBe(2);
  expect(v.counters).toEqual({ verified: 3, remembered: 1 });
  check(0);
  check(1); // verified again
  expect(v.counters).toEqual({ verified: 4, remembered: 2 });
  expect(v.verified.size).toBe(2);
});

test('VerifiedSets holds at most its capacity, whatever is added', () => {
  const facts: VerifiedSet = { proofHash: new Uint8Array(32), nodeId: NODE_ID, sequence: 1n, timestampMs: T0, stakeIssuedAtMs: T0, stakeExpiresAtMs: T0 + 1, anchor: undefined };
  const s = new VerifiedSets(100);
  for (let i = 0; i < 10_000; i++) s.add(`k${i}`, facts);
  expect(s.size).toBe(100);
  expect(s.get('k9999')).toBe(facts);
  expect(s.get('k9899')).toBeUndefined();
  expect(() => new VerifiedSets(0)).toThrow(RangeError);
});

describe('applying a committed validation with the sets this validator decoded (knownSet)', () => {
  class Sequences implements AppState {
    readonly sequences = new Map<string, bigint>();
    lastSequence = (n: Uint8Array): bigint | undefined => this.sequences.get(Buffer.from(n).toString('hex'));
    putSequence = (n: Uint8Array, s: bigint): void => void this.sequences.set(Buffer.from(n).toString('hex'), s);
    getAsset = (): undefined => undefined;
    putAsset = (): void => undefined;
  }
  const validation = (requestId: string, proofSet: Uint8Array, keyBinding = KEYS): Operation => ({ operationId: requestId, body: { kind: 'certificate.validate', csrHash: new Uint8Array(32), keyBinding, proofHash: new Uint8Array(32), proofSet } });

  test('gives what decoding gives, and the same results and state as a validator that decodes', () => {
    const v = newVerifier();
    const sets = [11n, 12n, 11n].map((sequence) => encodeFourProofSet(makeSet({ sequence })));
    for (const s of sets.slice(0, 2)) expect(v.verifyCertificateRequest({ keyBinding: KEYS, proofSet: s }, T0, chain())).toMatchObject({ valid: true });
    const d = decodeFourProofSet(sets[0]!);
    expect(v.knownSet(validation('a', sets[0]!).body as ValidationBody)).toEqual({ nodeId: d.context.nodeId, sequence: d.time.sequence });
    // Not verified here (another binding, other bytes): nothing known.
    expect(v.knownSet(validation('a', sets[0]!, OTHER_KEYS).body as ValidationBody)).toBeUndefined();
    expect(v.knownSet(validation('a', new Uint8Array([1, 2, 3])).body as ValidationBody)).toBeUndefined();
    // The same committed operations: applied, applied, a replay of sequence 11 (STALE), and bytes that are no set.
    const ops = [validation('a', sets[0]!), validation('b', sets[1]!), validation('c', sets[2]!), validation('d', new Uint8Array([1, 2, 3]))];
    const run = (known?: KnownSet): { results: OperationResult[]; sequences: Map<string, bigint> } => {
      const state = new Sequences();
      return { results: ops.map((op, i) => applyOperation(state, op, 20 + i, known)), sequences: state.sequences };
    };
    const withKnown = run((b) => v.knownSet(b));
    const decoding = run();
    expect(withKnown).toEqual(decoding);
    expect(decoding.results.map((r) => r.outcome)).toEqual(['applied', 'applied', 'refused', 'refused']);
  });

  test('nothing is known for a set beyond the default size limit, which applying must refuse as every validator does', () => {
    const v = newVerifier();
    const big = new Uint8Array(DEFAULT_PARAMS.maxEncodedBytes + 1);
    const body = validation('big', big).body as ValidationBody;
    v.verified.add(verifiedSetKey({ kind: 'certificate', keyBinding: KEYS }, big), { proofHash: new Uint8Array(32), nodeId: NODE_ID, sequence: 1n, timestampMs: T0, stakeIssuedAtMs: T0, stakeExpiresAtMs: T0 + 1, anchor: undefined });
    expect(v.knownSet(body)).toBeUndefined();
    expect(applyOperation(new Sequences(), validation('big', big), 1, (b) => v.knownSet(b))).toMatchObject({ outcome: 'refused', code: 'STALE', field: 'FourProofSet' });
  });
});

import { computeBlockHash, proposalSigningBytes, RejectCode, ValidatorSet, verifyEquivocationEvidence, verifyQuorumCertificate, verifyTimeoutCertificate, voteSigningBytes, timeoutSigningBytes, type EquivocationEvidence, type QuorumCertificate, type SignatureVerifier } from '../src';
import { KeyedHashKeys } from '../src/sim/keyed-signatures';

const keys = new KeyedHashKeys(4, 11);
const set = ValidatorSet.fromGenesis({ chainId: 'certs', validators: keys.validators });
const verifier = keys.verifier();
const HASH = '12'.repeat(32);

function qc(ids: number[], view = 3, height = 2, blockHash = HASH): QuorumCertificate {
  return { view, height, blockHash, signatures: ids.map((validator) => ({ validator, signature: keys.signer(validator).sign(voteSigningBytes(set.chainTag, view, height, blockHash)) })) };
}

describe('validator set', () => {
  test('quorum is more than two thirds of the weight: 2f+1 for N = 3f+1, N - f in general', () => {
    const sizes = [4, 5, 6, 7, 10, 100];
    for (const n of sizes) {
      const s = ValidatorSet.fromGenesis({ chainId: 'x', validators: new KeyedHashKeys(n, 1).validators });
      const f = Math.floor((n - 1) / 3);
      expect(s.faultyWeight).toBe(f);
      expect(s.quorumWeight).toBe(n - f);
      // Two quorums intersect in at least f+1 validators.
      expect(2 * s.quorumWeight - n).toBeGreaterThanOrEqual(f + 1);
    }
  });

  test('the chain tag binds signatures to the genesis (another chain id, another tag)', () => {
    const other = ValidatorSet.fromGenesis({ chainId: 'other', validators: keys.validators });
    expect(other.chainTagHex).not.toBe(set.chainTagHex);
    expect(verifyQuorumCertificate(qc([0, 1, 2]), other, verifier).ok).toBe(false);
  });

  test('genesis is validated', () => {
    expect(() => ValidatorSet.fromGenesis({ chainId: 'x', validators: [] })).toThrow();
    expect(() => ValidatorSet.fromGenesis({ chainId: 'x', validators: [{ id: 1, publicKey: new Uint8Array(1), weight: 1 }] })).toThrow();
    expect(() => ValidatorSet.fromGenesis({ chainId: 'x', validators: [{ id: 0, publicKey: new Uint8Array(1), weight: 0 }] })).toThrow();
  });
});

describe('verifyQuorumCertificate', () => {
  test('accepts 2f+1 valid signatures and the genesis QC', () => {
    expect(verifyQuorumCertificate(qc([0, 1, 2]), set, verifier)).toEqual({ ok: true });
    expect(verifyQuorumCertificate(qc([0, 1, 2, 3]), set, verifier)).toEqual({ ok: true });
    expect(verifyQuorumCertificate(set.genesisQc, set, verifier)).toEqual({ ok: true });
  });

  test.each([
    ['too few signers', qc([0, 1])],
    ['a forged signature', { ...qc([0, 1, 2]), signatures: qc([0, 1, 2]).signatures.map((s, i) => (i === 1 ? { ...s, signature: new Uint8Array(16) } : s)) }],
    ['a signature over another block', { ...qc([0, 1, 2]), blockHash: '34'.repeat(32) }],
    ['a non-validator signer', { ...qc([0, 1, 2]), signatures: [...qc([0, 1, 2]).signatures, { validator: 9, signature: new Uint8Array(16) }] }],
    ['a repeated signer', { ...qc([0, 1]), signatures: [...qc([0, 1]).signatures, qc([1]).signatures[0]!] }],
    ['a fake genesis QC', { view: 0, height: 0, blockHash: HASH, signatures: [] }],
  ])('rejects %s', (_name, bad) => {
    const v = verifyQuorumCertificate(bad, set, verifier);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.rejection.code).toBe(RejectCode.INVALID_QC);
  });

  test('uses the batch verifier when there is one', () => {
    let batches = 0;
    const batching: SignatureVerifier = { verify: verifier.verify, verifyBatch: (items) => (batches++, items.map(verifier.verify)) };
    expect(verifyQuorumCertificate(qc([0, 1, 2]), set, batching).ok).toBe(true);
    expect(batches).toBe(1);
  });
});

describe('verifyTimeoutCertificate', () => {
  const sign = (validator: number, view: number, highQcView: number) => ({ validator, highQcView, signature: keys.signer(validator).sign(timeoutSigningBytes(set.chainTag, view, highQcView)) });
  test('accepts a quorum whose high QC is the highest reported', () => {
    const high = qc([0, 1, 2], 3);
    expect(verifyTimeoutCertificate({ view: 5, highQc: high, signatures: [sign(0, 5, 3), sign(1, 5, 2), sign(3, 5, 1)] }, set, verifier)).toEqual({ ok: true });
  });
  test('rejects a high QC below what a signer reported, too few signers, bad signatures', () => {
    const high = qc([0, 1, 2], 3);
    const lowQc = verifyTimeoutCertificate({ view: 5, highQc: high, signatures: [sign(0, 5, 4), sign(1, 5, 3), sign(3, 5, 1)] }, set, verifier);
    expect(lowQc.ok).toBe(false);
    expect(verifyTimeoutCertificate({ view: 5, highQc: high, signatures: [sign(0, 5, 3), sign(1, 5, 3)] }, set, verifier).ok).toBe(false);
    expect(verifyTimeoutCertificate({ view: 5, highQc: high, signatures: [sign(0, 5, 3), sign(1, 5, 3), { ...sign(2, 5, 3), signature: new Uint8Array(16) }] }, set, verifier).ok).toBe(false);
    expect(verifyTimeoutCertificate({ view: 5, highQc: high, signatures: [sign(0, 6, 3), sign(1, 5, 3), sign(2, 5, 3)] }, set, verifier).ok).toBe(false);
  });
});

describe('verifyEquivocationEvidence', () => {
  const stmt = (validator: number, kind: 'vote' | 'proposal', view: number, height: number, blockHash: string) => ({
    height,
    blockHash,
    signature: keys.signer(validator).sign(kind === 'vote' ? voteSigningBytes(set.chainTag, view, height, blockHash) : proposalSigningBytes(set.chainTag, view, height, blockHash)),
  });
  test('two signed statements for different blocks in one view are evidence', () => {
    const e: EquivocationEvidence = { kind: 'vote', validator: 2, view: 7, first: stmt(2, 'vote', 7, 3, HASH), second: stmt(2, 'vote', 7, 3, '56'.repeat(32)) };
    expect(verifyEquivocationEvidence(e, set, verifier)).toEqual({ ok: true });
    const p: EquivocationEvidence = { kind: 'proposal', validator: 3, view: 7, first: stmt(3, 'proposal', 7, 3, HASH), second: stmt(3, 'proposal', 7, 3, '56'.repeat(32)) };
    expect(verifyEquivocationEvidence(p, set, verifier)).toEqual({ ok: true });
  });
  test('framing fails: a forged statement, one statement twice, another view, a vote passed off as a proposal', () => {
    const a = stmt(2, 'vote', 7, 3, HASH);
    const b = stmt(2, 'vote', 7, 3, '56'.repeat(32));
    const cases: EquivocationEvidence[] = [
      { kind: 'vote', validator: 2, view: 7, first: a, second: { ...b, signature: stmt(1, 'vote', 7, 3, '56'.repeat(32)).signature } },
      { kind: 'vote', validator: 2, view: 7, first: a, second: a },
      { kind: 'vote', validator: 2, view: 8, first: a, second: b },
      { kind: 'proposal', validator: 2, view: 7, first: a, second: b },
      { kind: 'vote', validator: 1, view: 7, first: a, second: b },
      { kind: 'vote', validator: 12, view: 7, first: a, second: b },
    ];
    for (const e of cases) expect(verifyEquivocationEvidence(e, set, verifier).ok).toBe(false);
  });
  test('block hashes are deterministic and cover the payload', () => {
    const b = { height: 1, view: 1, proposer: 1, parentHash: set.genesisBlockHash, justify: set.genesisQc, payload: [new Uint8Array([1, 2])] };
    expect(computeBlockHash(set.chainTag, b)).toBe(computeBlockHash(set.chainTag, { ...b, payload: [new Uint8Array([1, 2])] }));
    expect(computeBlockHash(set.chainTag, b)).not.toBe(computeBlockHash(set.chainTag, { ...b, payload: [new Uint8Array([1]), new Uint8Array([2])] }));
    const big = { ...b, payload: Array.from({ length: 20 }, () => new Uint8Array(300)) };
    expect(computeBlockHash(set.chainTag, big)).toMatch(/^[0-9a-f]{64}$/);
  });
});

// PoStake signed by Caesar's FALCON-1024 key, PoTime anchored to a committed block, and the
// earned-certificate context binding (issue "Earned certificates").
import { falconKeypair, falconSign } from '@stoq/native';
import {
  CERTIFICATE_OPERATION,
  FourProofError,
  certificateKeyBinding,
  certificateRequestContext,
  checkCertificateRequestContext,
  decodeFourProofSet,
  decodePoStakeProof,
  encodePoStakeProof,
  encodeFourProofSet,
  generateFourProofSet,
  signStakeAttestationWith,
  verifyFourProofSet,
  type BlockAnchor,
  type FourProofSet,
  type PoStakeProof,
} from '../src';
import { IPV6, NODE_ID, NOW, OTHER_NODE_ID, ecdsaLedger, plotFor } from './fixtures';

const caesar = falconKeypair();
const otherCaesar = falconKeypair();
const falconKey = { algorithm: 'falcon-1024' as const, publicKey: new Uint8Array(caesar.publicKey) };
const ANCHOR: BlockAnchor = { height: 41n, hash: new Uint8Array(32).fill(0xab) };
const KEYS = certificateKeyBinding(new Uint8Array([0x30, 0x59, 1, 2, 3]), new Uint8Array(1793).fill(7));
const CONTEXT = certificateRequestContext(KEYS, NODE_ID);

function falconStake(overrides: Partial<{ amount: bigint; nodeId: Uint8Array; key: Uint8Array }> = {}): PoStakeProof {
  return signStakeAttestationWith(
    { account: '1001', amount: overrides.amount ?? 5_000n, nodeId: overrides.nodeId ?? NODE_ID, issuedAtMs: NOW - 60_000, expiresAtMs: NOW + 3_600_000 },
    (m) => new Uint8Array(falconSign(overrides.key ?? caesar.secretKey, m)),
  );
}

/** anchor null = unanchored. */
function makeSet(stake: PoStakeProof = falconStake(), anchor: BlockAnchor | null = ANCHOR): FourProofSet {
  return generateFourProofSet({ context: CONTEXT, plot: plotFor(NODE_ID), ipv6Address: IPV6, stake, now: NOW, sequence: 9n, ...(anchor ? { anchor } : {}) });
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FourProofError) return `${e.code} ${e.field}`;
    throw e;
  }
  return 'ok';
}

const set = makeSet();
const bytes = encodeFourProofSet(set);
const recentAnchor = (a: BlockAnchor | undefined): string | null =>
  a === undefined ? 'PoTime must be anchored to a committed block' : a.height === ANCHOR.height && Buffer.from(a.hash).equals(Buffer.from(ANCHOR.hash)) ? null : `block ${a.height} is not a recent committed block`;

describe('PoStake signed by FALCON-1024', () => {
  it('verifies against the ledger FALCON key and survives the canonical codec', () => {
    expect(set.stake.algorithm).toBe('falcon-1024');
    expect(decodeFourProofSet(bytes)).toEqual(set);
    expect(verifyFourProofSet(bytes, { ledgerPublicKey: falconKey, now: NOW }).ok).toBe(true);
  });

  it('hands the PoStake proof over in its own canonical encoding', () => {
    const encoded = encodePoStakeProof(set.stake);
    expect(decodePoStakeProof(encoded)).toEqual(set.stake);
    expect(codeOf(() => decodePoStakeProof(Uint8Array.from([...encoded, 0])))).toMatch(/^DECODE/);
    expect(codeOf(() => decodePoStakeProof(new Uint8Array(5000)))).toBe('DECODE stake');
  });

  it('refuses a signature from another FALCON key, a tampered attestation and a classical ledger key', () => {
    expect(codeOf(() => verifyFourProofSet(makeSet(falconStake({ key: otherCaesar.secretKey })), { ledgerPublicKey: falconKey, now: NOW }))).toBe('POSTAKE_INVALID stake.signature');
    const tampered: FourProofSet = { ...set, stake: { ...set.stake, attestation: { ...set.stake.attestation, amount: 9_999_999n } } };
    expect(codeOf(() => verifyFourProofSet(tampered, { ledgerPublicKey: falconKey, now: NOW }))).toBe('POSTAKE_INVALID stake.signature');
    expect(codeOf(() => verifyFourProofSet(bytes, { ledgerPublicKey: ecdsaLedger.publicKey, now: NOW }))).toBe('POSTAKE_INVALID stake.algorithm');
  });

  it('refuses stake attested for another node and below the minimum', () => {
    expect(codeOf(() => verifyFourProofSet(makeSet(falconStake({ nodeId: OTHER_NODE_ID })), { ledgerPublicKey: falconKey, now: NOW }))).toBe('OPERATION_MISMATCH stake.attestation.nodeId');
    expect(codeOf(() => verifyFourProofSet(bytes, { ledgerPublicKey: falconKey, now: NOW, params: { minStake: 10_000n } }))).toBe('POSTAKE_INSUFFICIENT stake.attestation.amount');
  });

  it('names a malformed FALCON ledger key as the caller\'s mistake', () => {
    expect(codeOf(() => verifyFourProofSet(bytes, { ledgerPublicKey: { algorithm: 'falcon-1024', publicKey: new Uint8Array(10) }, now: NOW }))).toBe('INVALID_ARGUMENT ledgerPublicKey.publicKey');
  });
});

describe('PoTime anchored to a committed block', () => {
  it('round-trips the anchor and accepts it when the chain does', () => {
    expect(set.time.anchor).toEqual(ANCHOR);
    expect(verifyFourProofSet(bytes, { ledgerPublicKey: falconKey, now: NOW, checkAnchor: recentAnchor }).ok).toBe(true);
  });

  it('refuses an anchor the chain does not know, and a set without one when anchors are required', () => {
    const other = makeSet(falconStake(), { height: 40n, hash: new Uint8Array(32).fill(1) });
    expect(codeOf(() => verifyFourProofSet(other, { ledgerPublicKey: falconKey, now: NOW, checkAnchor: recentAnchor }))).toBe('STALE time.anchor');
    const unanchored = makeSet(falconStake(), null);
    expect(unanchored.time.anchor).toBeUndefined();
    expect(verifyFourProofSet(unanchored, { ledgerPublicKey: falconKey, now: NOW }).ok).toBe(true);
    expect(codeOf(() => verifyFourProofSet(unanchored, { ledgerPublicKey: falconKey, now: NOW, checkAnchor: recentAnchor }))).toBe('STALE time.anchor');
  });

  it('binds the anchor into the VDF: moving a proof to another block breaks it', () => {
    const moved: FourProofSet = { ...set, time: { ...set.time, anchor: { height: 42n, hash: new Uint8Array(32).fill(0xcd) } } };
    expect(codeOf(() => verifyFourProofSet(moved, { ledgerPublicKey: falconKey, now: NOW }))).toBe('POTIME_INVALID time.proof');
    const dropped: FourProofSet = { ...set, time: { ...set.time, anchor: undefined } };
    expect(codeOf(() => verifyFourProofSet(dropped, { ledgerPublicKey: falconKey, now: NOW }))).toBe('POTIME_INVALID time.proof');
  });

  it('refuses half an anchor on the wire', () => {
    // An anchor hash of the wrong size cannot be encoded, and the decoder refuses one without its height.
    expect(codeOf(() => encodeFourProofSet({ ...set, time: { ...set.time, anchor: { height: 1n, hash: new Uint8Array(31) } } }))).toBe('INVALID_ARGUMENT time.anchor.hash');
    expect(codeOf(() => encodeFourProofSet({ ...set, time: { ...set.time, anchor: { height: 0n, hash: new Uint8Array(32) } } }))).toBe('INVALID_ARGUMENT time.anchor.height');
  });
});

describe('earned-certificate context', () => {
  it('binds the proofs to the certificate keys', () => {
    expect(CONTEXT.operation).toBe(CERTIFICATE_OPERATION);
    expect(() => checkCertificateRequestContext(set.context, KEYS)).not.toThrow();
    const otherKeys = certificateKeyBinding(new Uint8Array([0x30, 0x59, 1, 2, 4]), new Uint8Array(1793).fill(7));
    expect(codeOf(() => checkCertificateRequestContext(set.context, otherKeys))).toBe('OPERATION_MISMATCH context.assetId');
    expect(codeOf(() => checkCertificateRequestContext({ ...set.context, operation: 'hypermesh/assets/register' }, KEYS))).toBe('OPERATION_MISMATCH context.operation');
  });

  it('length-prefixes the keys, so moving bytes between them changes the binding', () => {
    const a = certificateKeyBinding(new Uint8Array([1, 2]), new Uint8Array([3]));
    const b = certificateKeyBinding(new Uint8Array([1]), new Uint8Array([2, 3]));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

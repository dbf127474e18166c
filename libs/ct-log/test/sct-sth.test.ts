import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  decodeSct,
  decodeSignedTreeHead,
  encodeSignedTreeHead,
  MAX_FALCON_SIGNATURE_BYTES,
  encodeSct,
  explainSct,
  explainSth,
  issueSct,
  LogEntryType,
  LogSigningKey,
  logIdFromPublicKey,
  signTreeHead,
  sthFromJson,
  sthToJson,
  verifySct,
  verifySth,
  verifySthEcdsa,
  type SignedEntry,
} from '../src';
import { nobleKeys, nobleSigner, nobleVerifier } from './helpers/falcon';

const key = LogSigningKey.generate();
const falcon = nobleSigner();
const entry: SignedEntry = { entryType: LogEntryType.x509_entry, certificate: Buffer.from('3003020101', 'hex') };

describe('SCT (RFC 6962 §3.2)', () => {
  it('log id is SHA-256 of the SPKI DER', () => {
    const spki = key.publicKey.export({ type: 'spki', format: 'der' });
    expect(Buffer.from(key.logId).toString('hex')).toBe(createHash('sha256').update(spki).digest('hex'));
    expect(logIdFromPublicKey(spki)).toEqual(key.logId);
  });

  it('issues an SCT with an ECDSA DER signature in DigitallySigned(sha256, ecdsa) that verifies', () => {
    const sct = issueSct(key, 1_700_000_000_000, entry);
    expect(sct.signature.hashAlgorithm).toBe(4);
    expect(sct.signature.signatureAlgorithm).toBe(3);
    expect(sct.signature.signature[0]).toBe(0x30); // DER SEQUENCE
    expect(verifySct(sct, entry, key.publicKey)).toBe(true);
    const wire = encodeSct(sct);
    expect(wire[0]).toBe(0); // v1
    expect(wire.subarray(1, 33)).toEqual(Buffer.from(key.logId));
    expect(verifySct(decodeSct(wire), entry, key.publicKeyDer)).toBe(true);
  });

  it('rejects a tampered SCT, another entry, another key', () => {
    const sct = issueSct(key, 1000, entry);
    expect(explainSct({ ...sct, timestamp: 1001 }, entry, key.publicKey)).toBe('SCT signature does not verify');
    expect(verifySct(sct, { entryType: LogEntryType.x509_entry, certificate: Buffer.from('3003020102', 'hex') }, key.publicKey)).toBe(false);
    expect(explainSct(sct, entry, LogSigningKey.generate().publicKey)).toBe('SCT log id does not match the log public key');
    const badSig = Buffer.from(sct.signature.signature);
    badSig[badSig.length - 1]! ^= 1;
    expect(verifySct({ ...sct, signature: { ...sct.signature, signature: badSig } }, entry, key.publicKey)).toBe(false);
    expect(verifySct({ ...sct, signature: { ...sct.signature, hashAlgorithm: 2 } }, entry, key.publicKey)).toBe(false);
  });

  it('refuses non-P-256 signing keys', () => {
    expect(() => new LogSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey)).toThrow(/must be an ECDSA P-256 key/);
    expect(() => new LogSigningKey(generateKeyPairSync('ed25519').privateKey)).toThrow(/must be an ECDSA P-256 key, got ed25519/);
  });
});

describe('STH (RFC 6962 §3.5) with FALCON-1024 alongside', () => {
  const head = { treeSize: 42, timestamp: 1_700_000_000_000, rootHash: Buffer.alloc(32, 7) };

  it('signs both ways over the same TreeHeadSignature input; both verify', () => {
    const sth = signTreeHead(head, key, falcon);
    expect(verifySth(sth, key.publicKey, nobleVerifier(nobleKeys().publicKey))).toBe(true);
    expect(verifySthEcdsa(sth, key.publicKey)).toBe(true);
    const json = sthToJson(sth);
    expect(json.tree_size).toBe(42);
    expect(Buffer.from(json.falcon_signature, 'base64').length).toBeGreaterThan(600);
    expect(verifySth(sthFromJson(json), key.publicKey, falcon)).toBe(true);
  });

  it('fails when any field, either signature or the FALCON key is wrong', () => {
    const sth = signTreeHead(head, key, falcon);
    expect(explainSth({ ...sth, treeSize: 43 }, key.publicKey, falcon)).toBe('STH ECDSA tree_head_signature does not verify');
    expect(explainSth({ ...sth, rootHash: Buffer.alloc(32, 8) }, key.publicKey, falcon)).toMatch(/does not verify/);
    const fsig = Buffer.from(sth.falconSignature);
    fsig[fsig.length >> 1]! ^= 0x40;
    expect(explainSth({ ...sth, falconSignature: fsig }, key.publicKey, falcon)).toBe('STH falcon_signature does not verify');
    // The FALCON signature over a different tree head must not verify for this head.
    const other = signTreeHead({ ...head, treeSize: 41 }, key, falcon);
    expect(explainSth({ ...sth, falconSignature: other.falconSignature }, key.publicKey, falcon)).toBe('STH falcon_signature does not verify');
    expect(verifySth(sth, LogSigningKey.generate().publicKey, falcon)).toBe(false);
    expect(explainSth({ ...sth, falconSignature: new Uint8Array(3) }, key.publicKey, falcon)).toBe('STH falcon_signature does not verify');
  });
});

describe('FALCON-1024 signature length limit (1462 bytes: PQClean compressed maximum; padded is 1280)', () => {
  const head = { treeSize: 7, timestamp: 1_700_000_000_000, rootHash: Buffer.alloc(32, 3) };
  const fixed = (len: number) => ({ sign: () => new Uint8Array(len).fill(0x39), verify: () => true });

  it('a signature of 1462 bytes (and the padded 1280) is signed, encoded and decoded both ways', () => {
    expect(MAX_FALCON_SIGNATURE_BYTES).toBe(1462);
    for (const len of [1280, 1462]) {
      const sth = signTreeHead(head, key, fixed(len));
      expect(decodeSignedTreeHead(encodeSignedTreeHead(sth)).falconSignature).toHaveLength(len);
      expect(sthFromJson(sthToJson(sth)).falconSignature).toHaveLength(len);
    }
  });

  it('one byte more is refused when signing (never persisted) and when decoding binary or JSON', () => {
    expect(() => signTreeHead(head, key, fixed(1463))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const sth = { ...signTreeHead(head, key, fixed(1462)), falconSignature: new Uint8Array(1463) };
    expect(() => decodeSignedTreeHead(encodeSignedTreeHead(sth))).toThrow(/falcon_signature length 1463 outside 1\.\.1462/);
    expect(() => sthFromJson(sthToJson(sth))).toThrow(expect.objectContaining({ code: 'DECODE', message: expect.stringMatching(/1463 bytes/) }));
    expect(() => sthFromJson({ ...sthToJson(sth), falcon_signature: '' })).toThrow(expect.objectContaining({ code: 'DECODE' }));
  });
});

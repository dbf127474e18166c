// ecdsaSign (aws-lc through the native addon) makes the signatures node:crypto would: DER ECDSA
// with the curve's hash, verifiable by OpenSSL; other keys are refused with TLS_CONFIG.
// ecdsaVerify accepts exactly what node:crypto accepts, from the SPKI's point.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { ecdsaSign, ecdsaVerify } from '../src/ecdsa';
import { StoqError } from '../src/errors';
import { readSpki } from '../src/identity/spki';

describe('ecdsaSign', () => {
  it.each([
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ])('signs with %s and %s, verified by node:crypto (OpenSSL)', (curve, hash) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    for (const size of [0, 1, 1500, 70_000]) {
      const data = new Uint8Array(size).map((_, i) => i * 7);
      const sig = ecdsaSign(privateKey, data);
      expect(verify(hash, data, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
      const other = Uint8Array.from(data);
      if (size > 0) {
        other[0] = other[0]! ^ 1;
        expect(verify(hash, other, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(false);
      }
    }
  });

  it('refuses keys that are not EC P-256 / P-384 private keys', () => {
    const ed = generateKeyPairSync('ed25519');
    const k521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    for (const key of [ed.privateKey, k521.privateKey, k521.publicKey]) {
      expect(() => ecdsaSign(key, new Uint8Array(1))).toThrow(StoqError);
      try {
        ecdsaSign(key, new Uint8Array(1));
      } catch (err) {
        expect((err as StoqError).code).toBe('TLS_CONFIG');
      }
    }
  });
});

describe('ecdsaVerify', () => {
  it.each([
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ] as const)('verifies %s / %s signatures node:crypto made, and nothing else', (curve, hash) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const spki = readSpki(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), 'test key');
    expect(spki.kind).toBe(curve);
    const data = new Uint8Array(300).map((_, i) => i);
    const sig = new Uint8Array(sign(hash, data, { key: privateKey, dsaEncoding: 'der' }));
    expect(ecdsaVerify(curve, spki.key, data, sig)).toBe(true);
    const otherData = Uint8Array.from(data);
    otherData[5] = otherData[5]! ^ 1;
    expect(ecdsaVerify(curve, spki.key, otherData, sig)).toBe(false);
    const otherSig = Uint8Array.from(sig);
    otherSig[otherSig.length - 1] = otherSig[otherSig.length - 1]! ^ 1;
    expect(ecdsaVerify(curve, spki.key, data, otherSig)).toBe(false);
    expect(ecdsaVerify(curve, spki.key, data, new Uint8Array(0))).toBe(false);
    // The same point with one coordinate byte changed (off the curve, as readSpki would say).
    const offCurve = Uint8Array.from(spki.key);
    offCurve[offCurve.length - 1] = offCurve[offCurve.length - 1]! ^ 1;
    expect(ecdsaVerify(curve, offCurve, data, sig)).toBe(false);
    // The other curve's verifier refuses the key.
    expect(ecdsaVerify(curve === 'P-256' ? 'P-384' : 'P-256', spki.key, data, sig)).toBe(false);
  });

  it('names an unknown curve', () => {
    expect(() => ecdsaVerify('P-521' as 'P-256', new Uint8Array(65), new Uint8Array(1), new Uint8Array(8))).toThrow(/P-521/);
  });
});

describe('readSpki', () => {
  it('reads P-256, P-384 and Ed25519 keys and refuses others, naming them', () => {
    const spkiOf = (k: ReturnType<typeof generateKeyPairSync>['publicKey']): Uint8Array => new Uint8Array(k.export({ type: 'spki', format: 'der' }));
    expect(readSpki(spkiOf(generateKeyPairSync('ed25519').publicKey), 'k').kind).toBe('Ed25519');
    expect(readSpki(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), 'k').key).toHaveLength(97);
    expect(() => readSpki(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey), 'k')).toThrow(/curve 1\.3\.132\.0\.35/);
    expect(() => readSpki(spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), 'k')).toThrow(/1\.2\.840\.113549\.1\.1\.1 key/);
    const compressed = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    compressed[compressed.length - 65] = 0x02; // not an uncompressed point any more
    expect(() => readSpki(compressed, 'k')).toThrow(/uncompressed point/);
    expect(() => readSpki(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), 'k')).toThrow(StoqError);
  });

  it('refuses EC points off their curve or with a coordinate of p or more, and SPKIs whose elements are not SEQUENCEs', () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'der' }));
      expect(readSpki(spki, 'k').kind).toBe(curve);
      const offCurve = Uint8Array.from(spki);
      offCurve[offCurve.length - 1] = offCurve[offCurve.length - 1]! ^ 1;
      expect(() => readSpki(offCurve, 'k')).toThrow(new RegExp(`not on ${curve}`));
      const size = curve === 'P-256' ? 32 : 48;
      const huge = Uint8Array.from(spki);
      huge.fill(0xff, spki.length - 2 * size, spki.length - size); // x = 2^n - 1 > p
      expect(() => readSpki(huge, 'k')).toThrow(/not on/);
      const setTagged = Uint8Array.from(spki);
      setTagged[0] = 0x31;
      expect(() => readSpki(setTagged, 'k')).toThrow(/not SEQUENCE/);
      const algSet = Uint8Array.from(spki);
      algSet[2] = 0x31; // the AlgorithmIdentifier's tag (the outer length fits one byte)
      expect(() => readSpki(algSet, 'k')).toThrow(/not SEQUENCE/);
    }
  });
});

// ecdsaSign (aws-lc through the native addon) makes the signatures node:crypto would: DER ECDSA
// with the curve's hash, verifiable by OpenSSL; other keys are refused with TLS_CONFIG.
import { generateKeyPairSync, verify } from 'node:crypto';
import { ecdsaSign } from '../src/ecdsa';
import { StoqError } from '../src/errors';

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

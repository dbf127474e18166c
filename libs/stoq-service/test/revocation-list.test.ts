// The revocation list's signatures cover its content: a changed entry or version fails them.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { nativeFalcon } from '@stoq/core';
import { trustchain } from '@stoq/protos';
import { signRevocationList, verifyRevocationList } from '../src/revocation-list';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const falcon = nativeFalcon.keypair();
const signEc = (d: Uint8Array): Uint8Array => sign('sha384', d, { key: ec.privateKey, dsaEncoding: 'der' });
const verifyEc = (d: Uint8Array, s: Uint8Array): boolean => verify('sha384', d, { key: ec.publicKey, dsaEncoding: 'der' }, s);
const signPq = (d: Uint8Array): Uint8Array => nativeFalcon.sign(falcon.secretKey, d);
const verifyPq = (d: Uint8Array, s: Uint8Array): boolean => nativeFalcon.verify(falcon.publicKey, d, s);

describe('revocation list signatures', () => {
  const list = signRevocationList(
    {
      version: 3,
      issuedAtMs: 1_700_000_000_000,
      entries: [{ serial: '0a1b', fingerprint: 'ff'.repeat(32), reason: trustchain.RevocationReason.KEY_COMPROMISE, revokedAtMs: 1_700_000_000_000, service: 'caesar', instance: 'caesar-1' }],
    },
    signEc,
    signPq,
  );

  it('verifies as signed, also after a protobuf round trip', () => {
    expect(verifyRevocationList(list, verifyEc, verifyPq)).toBe(true);
    const decoded = trustchain.RevocationListType.toObject(trustchain.RevocationListType.decode(trustchain.RevocationListType.encode(list).finish()), { longs: Number }) as trustchain.RevocationList;
    expect(verifyRevocationList(decoded, verifyEc, verifyPq)).toBe(true);
  });

  it('fails when the version, an entry or a signature changes, or a signature is missing', () => {
    expect(verifyRevocationList({ ...list, version: 4 }, verifyEc, verifyPq)).toBe(false);
    expect(verifyRevocationList({ ...list, entries: [] }, verifyEc, verifyPq)).toBe(false);
    expect(verifyRevocationList({ ...list, falconSignature: new Uint8Array(0) }, verifyEc, verifyPq)).toBe(false);
    expect(verifyRevocationList({ ...list, signature: signEc(Buffer.from('other')) }, verifyEc, verifyPq)).toBe(false);
  });
});

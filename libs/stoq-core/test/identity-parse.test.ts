// parseHybridCertificate walks the DER by offset (no ASN.1 model: it is on every handshake and
// issuance). Checked here against two independent readers of the same bytes, @peculiar/asn1-x509
// (a schema parser) and Node's X509Certificate (OpenSSL), over generated certificates, and by
// mutation: any corrupted certificate is refused with a StoqError, never another exception.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, ExtendedKeyUsage, SubjectKeyIdentifier } from '@peculiar/asn1-x509';
import { nativeFalcon } from '../src/falcon';
import { StoqError } from '../src/errors';
import { issueCertificate } from '../src/identity/hybrid-cert';
import { OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, OID_SUBJECT_KEY_IDENTIFIER } from '../src/identity/oids';
import { parseHybridCertificate } from '../src/identity/parse';

const issuerKeys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const issuerFalcon = nativeFalcon.keypair();
const subjectKeys = [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ed25519')];
const subjectFalcon = nativeFalcon.keypair();
const rootDer = issueCertificate({
  subject: { commonName: 'Parse Test Root' },
  subjectPublicKey: issuerKeys.publicKey,
  subjectFalconPublicKey: issuerFalcon.publicKey,
  issuer: { certificate: null, privateKey: issuerKeys.privateKey, falconSecretKey: issuerFalcon.secretKey, falconPublicKey: issuerFalcon.publicKey },
  notBefore: new Date(Date.UTC(1950, 0, 1)),
  notAfter: new Date(Date.UTC(9999, 0, 1)),
  isCa: true,
}).der;
const issuer = { certificate: rootDer, privateKey: issuerKeys.privateKey, falconSecretKey: issuerFalcon.secretKey, falconPublicKey: issuerFalcon.publicKey };

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
const certSpec = fc.record({
  commonName: fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.trim().length > 0),
  organization: fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: undefined }),
  dnsNames: fc.array(fc.tuple(label, label).map(([a, b]) => `${a}.${b}`), { maxLength: 4 }),
  ipAddresses: fc.array(fc.constantFrom('::1', 'fd00::7', '2001:db8::1:0:0:1'), { maxLength: 2 }),
  isCa: fc.boolean(),
  pathLen: fc.option(fc.integer({ min: 0, max: 127 }), { nil: undefined }),
  // 1950..2100: crosses the UTCTime / GeneralizedTime boundary of 2050.
  notBefore: fc.integer({ min: Date.UTC(1950, 0, 1) / 1000, max: Date.UTC(2099, 0, 1) / 1000 }).map((s) => new Date(s * 1000)),
  lifetimeS: fc.integer({ min: 1, max: 20 * 365 * 86400 }),
  key: fc.constantFrom(0, 1),
});

describe('parseHybridCertificate', () => {
  it('reads what two independent parsers read, for generated certificates', () => {
    fc.assert(
      fc.property(certSpec, (spec) => {
        const notAfter = new Date(Math.min(spec.notBefore.getTime() + spec.lifetimeS * 1000, Date.UTC(9999, 0, 1)));
        const { der } = issueCertificate({
          subject: { commonName: spec.commonName, ...(spec.organization !== undefined ? { organization: spec.organization } : {}) },
          subjectPublicKey: subjectKeys[spec.key]!.publicKey,
          subjectFalconPublicKey: subjectFalcon.publicKey,
          issuer,
          notBefore: spec.notBefore,
          notAfter,
          isCa: spec.isCa,
          ...(spec.isCa && spec.pathLen !== undefined ? { pathLen: spec.pathLen } : {}),
          dnsNames: spec.dnsNames,
          ipAddresses: spec.ipAddresses,
        });
        const ours = parseHybridCertificate(der);
        const model = AsnConvert.parse(der, Certificate);
        const tbs = model.tbsCertificate;
        const ext = (oid: string) => tbs.extensions?.find((e) => e.extnID === oid)?.extnValue.buffer;
        expect(ours.serialNumber).toBe(Buffer.from(tbs.serialNumber).toString('hex'));
        expect(ours.notBefore.getTime()).toBe(tbs.validity.notBefore.getTime().getTime());
        expect(ours.notAfter.getTime()).toBe(tbs.validity.notAfter.getTime().getTime());
        expect(ours.signatureAlgorithm).toBe(model.signatureAlgorithm.algorithm);
        expect(Buffer.from(ours.spkiDer)).toEqual(Buffer.from(AsnConvert.serialize(tbs.subjectPublicKeyInfo)));
        const bc = AsnConvert.parse(ext(OID_BASIC_CONSTRAINTS)!, BasicConstraints);
        expect(ours.isCa).toBe(bc.cA);
        expect(ours.pathLen).toBe(bc.pathLenConstraint);
        const eku = ext(OID_EXT_KEY_USAGE);
        expect(ours.extendedKeyUsage).toEqual(eku ? [...AsnConvert.parse(eku, ExtendedKeyUsage)] : []);
        expect(Buffer.from(ours.subjectKeyIdentifier!)).toEqual(Buffer.from(AsnConvert.parse(ext(OID_SUBJECT_KEY_IDENTIFIER)!, SubjectKeyIdentifier).buffer));
        expect(Buffer.from(ours.falconPublicKey)).toEqual(Buffer.from(subjectFalcon.publicKey));

        const openssl = new X509Certificate(der);
        expect(ours.commonName).toBe(spec.commonName);
        expect(ours.organization).toBe(spec.organization);
        expect(ours.fingerprintSha256).toBe(openssl.fingerprint256.replace(/:/g, '').toLowerCase());
        expect(ours.notAfter.getTime()).toBe(new Date(openssl.validTo).getTime());
        expect(ours.dnsNames).toEqual([...new Set(spec.dnsNames)]);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses any corrupted certificate with a StoqError', () => {
    const { der } = issueCertificate({
      subject: { commonName: 'caesar-1', organization: 'STOQ' },
      subjectPublicKey: subjectKeys[0]!.publicKey,
      subjectFalconPublicKey: subjectFalcon.publicKey,
      issuer,
      notBefore: new Date(Date.UTC(2026, 0, 1)),
      notAfter: new Date(Date.UTC(2027, 0, 1)),
      isCa: false,
      dnsNames: ['caesar.hypermesh'],
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(der.length), { nil: undefined }),
        (edits, cut) => {
          const bad = Uint8Array.from(der);
          for (const [i, v] of edits) bad[i] = v;
          const input = cut === undefined ? bad : bad.subarray(0, cut);
          try {
            parseHybridCertificate(input);
          } catch (err) {
            expect(err).toBeInstanceOf(StoqError);
            expect(['PEER_REJECTED', 'FALCON_REJECTED']).toContain((err as StoqError).code);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses a BMPString name of odd length with a StoqError (a crafted CN, not a RangeError)', () => {
    const { der } = issueCertificate({
      subject: { commonName: 'abc' },
      subjectPublicKey: subjectKeys[0]!.publicKey,
      subjectFalconPublicKey: subjectFalcon.publicKey,
      issuer,
      notBefore: new Date(Date.UTC(2026, 0, 1)),
      notAfter: new Date(Date.UTC(2027, 0, 1)),
      isCa: false,
    });
    // Retag the CN's UTF8String (0x0c, length 3, "abc") as a BMPString (0x1e): 3 bytes is odd.
    const bad = Uint8Array.from(der);
    const at = Buffer.from(bad).indexOf(Buffer.from([0x0c, 0x03, 0x61, 0x62, 0x63]));
    expect(at).toBeGreaterThan(0);
    bad[at] = 0x1e;
    expect(() => parseHybridCertificate(bad)).toThrow(StoqError);
    expect(() => parseHybridCertificate(bad)).toThrow(/odd length/);
  });
});

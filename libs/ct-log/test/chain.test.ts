import { createHash, X509Certificate } from 'node:crypto';
import { IssuerCache, LogEntryType, parseCertificate, parseRoots, tbsWithoutPoison, validatePrecertChain, validateX509Chain } from '../src';
import { makeCert, makePki } from './helpers/x509';

const pki = makePki('Chain');
const roots = parseRoots([pki.root.der]);

describe('add-chain validation', () => {
  it('accepts leaf+intermediate (root appended) and leaf+intermediate+root', () => {
    const leaf = pki.leaf('a.example');
    const v = validateX509Chain([leaf.der, pki.intermediate.der], roots, 10);
    expect(v.entry).toEqual({ entryType: LogEntryType.x509_entry, certificate: leaf.der });
    expect(v.chain.map((c) => new X509Certificate(c).subject)).toEqual(['CN=a.example', 'CN=Chain Intermediate CA', 'CN=Chain Root CA']);
    expect(validateX509Chain([leaf.der, pki.intermediate.der, pki.root.der], roots, 10).chain).toHaveLength(3);
    expect(validateX509Chain([pki.root.der], roots, 10).chain).toHaveLength(1);
  });

  it('rejects garbage, broken links, unknown roots, non-CA issuers, long chains', () => {
    const leaf = pki.leaf('b.example');
    expect(() => validateX509Chain([], roots, 10)).toThrow('chain is empty');
    expect(() => validateX509Chain([Buffer.from('not a cert')], roots, 10)).toThrow(/chain\[0\] is not a parseable X.509 certificate/);
    expect(() => validateX509Chain([leaf.der], roots, 10)).toThrow(/chain does not lead to an accepted root \(last certificate: CN=b.example/);
    const other = makePki('Other');
    expect(() => validateX509Chain([other.leaf('c').der, other.intermediate.der, other.root.der], roots, 10)).toThrow(/does not lead to an accepted root/);
    expect(() => validateX509Chain([leaf.der, other.intermediate.der], roots, 10)).toThrow(/chain\[0\] \(CN=b.example\) is not issued and signed by chain\[1\] \(CN=Other Intermediate CA\)/);
    const notCa = makeCert({ subject: 'Chain Intermediate CA', issuer: pki.root }); // same name, no CA flag
    expect(() => validateX509Chain([leaf.der, notCa.der], roots, 10)).toThrow(/chain\[1\] \(CN=Chain Intermediate CA\) is not a CA certificate/);
    // Same issuer name, different key: name matches but the signature does not.
    const impostor = makeCert({ subject: 'Chain Intermediate CA', issuer: pki.root, ca: true });
    expect(() => validateX509Chain([leaf.der, impostor.der], roots, 10)).toThrow(/is not issued and signed by chain\[1\]/);
    expect(() => validateX509Chain([leaf.der, pki.intermediate.der, pki.root.der], roots, 2)).toThrow('chain has 3 certificates, at most 2 accepted');
    expect(() => validateX509Chain([pki.leaf('p', true).der, pki.intermediate.der], roots, 10)).toThrow(/poison extension: submit precertificates with addPreChain/);
  });
});

describe('add-pre-chain validation', () => {
  it('builds the PreCert: issuer key hash and TBS without the poison extension', () => {
    const notBefore = new Date('2025-01-01T00:00:00Z');
    const base = { subject: 'pre.example', issuer: pki.intermediate, serial: 77, notBefore };
    const pre = makeCert({ ...base, precert: true });
    const final = makeCert({ ...base, key: pre.key });
    expect(parseCertificate(pre.der).poison).toBe('critical');
    expect(parseCertificate(final.der).poison).toBe('absent');
    const v = validatePrecertChain([pre.der, pki.intermediate.der], roots, 10);
    if (v.entry.entryType !== LogEntryType.precert_entry) throw new Error('expected precert entry');
    // RFC 6962 §3.2: the TBS of the final certificate equals the precert TBS minus the poison.
    expect(Buffer.from(v.entry.preCert.tbsCertificate).equals(Buffer.from(parseCertificate(final.der).tbs))).toBe(true);
    expect(Buffer.from(tbsWithoutPoison(pre.der)).equals(Buffer.from(parseCertificate(final.der).tbs))).toBe(true);
    const spki = new X509Certificate(pki.intermediate.der).publicKey.export({ type: 'spki', format: 'der' });
    expect(Buffer.from(v.entry.preCert.issuerKeyHash).toString('hex')).toBe(createHash('sha256').update(spki).digest('hex'));
  });

  it('rejects ordinary certificates and Precertificate Signing Certificates', () => {
    expect(() => validatePrecertChain([pki.leaf('x').der, pki.intermediate.der], roots, 10)).toThrow('chain[0] is not a precertificate: CT poison extension is missing');
    const signingCa = makeCert({
      subject: 'Precert Signer',
      issuer: pki.intermediate,
      ca: true,
      extraExtensions: [{ oid: '2.5.29.37', critical: false, value: Buffer.from('300c060a2b06010401d679020404', 'hex') }],
    });
    const pre = makeCert({ subject: 'y', issuer: signingCa, precert: true });
    expect(() => validatePrecertChain([pre.der, signingCa.der, pki.intermediate.der], roots, 10)).toThrow(/Precertificate Signing Certificate/);
  });
});

describe('issuer cache', () => {
  it('skips re-verifying known issuer links but always verifies the leaf', () => {
    const cache = new IssuerCache(4);
    const a = validateX509Chain([pki.leaf('c1').der, pki.intermediate.der], roots, 10, cache);
    const b = validateX509Chain([pki.leaf('c2').der, pki.intermediate.der], roots, 10, cache);
    expect(a.chain).toHaveLength(3);
    expect(b.chain[2]).toEqual(pki.root.der);
    // A leaf claiming the intermediate as issuer but signed by another key still fails.
    const forged = makeCert({ subject: 'forged', issuer: { ...pki.intermediate, key: makePki('F').intermediate.key } });
    expect(() => validateX509Chain([forged.der, pki.intermediate.der], roots, 10, cache)).toThrow(/chain\[0\] \(CN=forged\) is not issued and signed by chain\[1\]/);
    // An impostor intermediate (same name, different key) is not covered by the cached link.
    const impostor = makeCert({ subject: 'Chain Intermediate CA', issuer: makePki('G').root, ca: true });
    const leaf = makeCert({ subject: 'z', issuer: impostor });
    expect(() => validateX509Chain([leaf.der, impostor.der], roots, 10, cache)).toThrow(/does not lead to an accepted root/);
  });
});

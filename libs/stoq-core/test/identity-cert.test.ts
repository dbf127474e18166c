// Hybrid certificates against real verifiers: openssl, Go crypto/x509, Node's X509Certificate,
// and our FALCON alternative-signature chain check.
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { falcon1024 } from '@noble/post-quantum/falcon.js';
import { nativeFalcon, type FalconScheme } from '../src/falcon';
import { StoqError } from '../src/errors';
import { children, encodeOid, encodeTlv, readSingle, readTlv, bytesEqual } from '../src/identity/der';
import { issueCertificate, type IssueCertificateOptions } from '../src/identity/hybrid-cert';
import { OID_ALT_SIGNATURE_VALUE } from '../src/identity/oids';
import { parseHybridCertificate, peerNamesFromCertificate, verifyAltSignatureChain } from '../src/identity/parse';
import { preTbsCertificate } from '../src/identity/pre-tbs';
import { OID_CONSENSUS_APPROVAL, consensusApprovalExtension } from '../src/identity/consensus-approval';

const nobleFalcon: FalconScheme = {
  keypair: () => falcon1024.keygen(),
  sign: (secretKey, message) => falcon1024.sign(message, secretKey),
  verify: (publicKey, message, signature) => falcon1024.verify(signature, message, publicKey),
};

/** FALCON for direct sign/verify calls in tests; identity functions run with their default (native). */
const falcon: FalconScheme = nativeFalcon;

interface TestCa {
  der: Uint8Array;
  pem: string;
  key: KeyObject;
  falcon: { publicKey: Uint8Array; secretKey: Uint8Array };
}

const HOUR = 3600_000;
const NOW = new Date();

function makeRoot(commonName = 'STOQ Test Root', keyType: 'p384' | 'ed25519' | 'p256' = 'p384'): TestCa {
  const { privateKey, publicKey } =
    keyType === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: keyType === 'p384' ? 'P-384' : 'P-256' });
  const fk = falcon.keypair();
  const { der, pem } = issueCertificate({
    subject: { commonName, organization: 'STOQ' },
    subjectPublicKey: publicKey,
    subjectFalconPublicKey: fk.publicKey,
    issuer: { certificate: null, privateKey, falconSecretKey: fk.secretKey, falconPublicKey: fk.publicKey },
    notBefore: new Date(NOW.getTime() - HOUR),
    notAfter: new Date(NOW.getTime() + 10 * 365 * 24 * HOUR),
    isCa: true,
    pathLen: 0,
  });
  return { der, pem, key: privateKey, falcon: fk };
}

function makeLeaf(ca: TestCa, extra: Partial<IssueCertificateOptions> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fk = falcon.keypair();
  const cert = issueCertificate({
    subject: { commonName: 'caesar-1', organization: 'STOQ' },
    subjectPublicKey: publicKey,
    subjectFalconPublicKey: fk.publicKey,
    issuer: { certificate: ca.der, privateKey: ca.key, falconSecretKey: ca.falcon.secretKey, falconPublicKey: ca.falcon.publicKey },
    notBefore: new Date(NOW.getTime() - HOUR),
    notAfter: new Date(NOW.getTime() + 24 * HOUR),
    isCa: false,
    dnsNames: ['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar'],
    ipAddresses: ['::1'],
    ...extra,
  });
  return { ...cert, key: privateKey, falcon: fk };
}

/** Re-assemble a certificate from edited TBS bytes, signed classically by `issuerKey` (ECDSA). */
function resign(der: Uint8Array, editTbs: (tbs: Uint8Array) => Uint8Array, issuerKey: KeyObject, hash: string): Uint8Array {
  const top = children(der, readSingle(der, 'cert'), 'cert');
  const tbs = editTbs(der.slice(top[0]!.start, top[0]!.end));
  const sig = sign(hash, tbs, { key: issuerKey, dsaEncoding: 'der' });
  return encodeTlv(0x30, tbs, der.subarray(top[1]!.start, top[1]!.end), encodeTlv(0x03, Uint8Array.of(0), sig));
}

/** Replace the altSignatureValue extension of a TBSCertificate with `signature`. */
function withAltSignature(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
  const fields = children(tbs, readSingle(tbs, 'tbs'), 'tbs');
  const extsWrapper = fields[fields.length - 1]!;
  const list = readTlv(tbs, extsWrapper.contentStart, extsWrapper.end, 'exts');
  const exts = children(tbs, list, 'exts').map((e) => {
    const oid = readTlv(tbs, e.contentStart, e.end, 'ext');
    if (!bytesEqual(tbs.subarray(oid.start, oid.end), encodeOid(OID_ALT_SIGNATURE_VALUE))) return tbs.subarray(e.start, e.end);
    return encodeTlv(0x30, encodeOid(OID_ALT_SIGNATURE_VALUE), encodeTlv(0x04, encodeTlv(0x03, Uint8Array.of(0), signature)));
  });
  const head = fields.slice(0, -1).map((f) => tbs.subarray(f.start, f.end));
  return encodeTlv(0x30, ...head, encodeTlv(0xa3, encodeTlv(0x30, ...exts)));
}

function expectStoqError(fn: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(StoqError);
  expect((thrown as StoqError).code).toBe(code);
  expect((thrown as StoqError).message).toMatch(message);
}

let dir: string;
let root: TestCa;
let leaf: ReturnType<typeof makeLeaf>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-identity-cert-'));
  root = makeRoot();
  leaf = makeLeaf(root);
  writeFileSync(join(dir, 'root.pem'), root.pem);
  writeFileSync(join(dir, 'leaf.pem'), leaf.pem);
  writeFileSync(join(dir, 'chain.pem'), leaf.pem + root.pem);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issued certificates', () => {
  it('takes the subject key as SPKI DER as well as a KeyObject: the same key in the certificate, verified by Node', () => {
    const ca = makeRoot();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spkiDer = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    const fromDer = makeLeaf(ca, { subjectPublicKey: { spkiDer } });
    expect(bytesEqual(parseHybridCertificate(fromDer.der).spkiDer, spkiDer)).toBe(true);
    const x = new X509Certificate(Buffer.from(fromDer.der));
    expect(x.publicKey.equals(publicKey)).toBe(true);
    expect(x.verify(new X509Certificate(Buffer.from(ca.der)).publicKey)).toBe(true);
    // SPKI DER of an unsupported key is refused like such a KeyObject.
    const p521 = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ type: 'spki', format: 'der' }));
    expect(() => makeLeaf(ca, { subjectPublicKey: { spkiDer: p521 } })).toThrow(/curve 1\.3\.132\.0\.35/);
    // A point off the curve, an SPKI that is not a SEQUENCE, and an Ed25519 key are refused.
    const offCurve = Uint8Array.from(spkiDer);
    offCurve[offCurve.length - 1] = offCurve[offCurve.length - 1]! ^ 1;
    const setTagged = Uint8Array.from(spkiDer);
    setTagged[0] = 0x31;
    const ed = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
    for (const [bad, message] of [[offCurve, /not on P-256/], [setTagged, /not SEQUENCE/], [ed, /Ed25519 key as a KeyObject/]] as const) {
      expect(() => makeLeaf(ca, { subjectPublicKey: { spkiDer: bad } })).toThrow(message);
      try {
        makeLeaf(ca, { subjectPublicKey: { spkiDer: bad } });
      } catch (err) {
        expect((err as StoqError).code).toBe('TLS_CONFIG');
      }
    }
  });

  test('parse back with the names, validity, CA flags and FALCON key they were issued with', () => {
    const l = parseHybridCertificate(leaf.der);
    expect(l.commonName).toBe('caesar-1');
    expect(l.organization).toBe('STOQ');
    expect(l.dnsNames).toEqual(['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar']);
    expect(l.ipAddresses).toEqual(['::1']);
    expect(l.isCa).toBe(false);
    expect(l.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(l.notAfter.getTime() - l.notBefore.getTime()).toBe(25 * HOUR);
    expect(Buffer.from(l.falconPublicKey).equals(Buffer.from(leaf.falcon.publicKey))).toBe(true);
    expect(l.signatureAlgorithm).toBe('1.2.840.10045.4.3.3'); // ecdsa-with-SHA384 from the P-384 root
    expect(l.fingerprintSha256).toBe(createHash('sha256').update(leaf.der).digest('hex'));
    expect(l.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(Buffer.from(l.authorityKeyIdentifier!).equals(Buffer.from(parseHybridCertificate(root.der).subjectKeyIdentifier!))).toBe(true);

    const r = parseHybridCertificate(root.der);
    expect(r.isCa).toBe(true);
    expect(r.pathLen).toBe(0);
    expect(Buffer.from(r.subjectDer).equals(Buffer.from(l.issuerDer))).toBe(true);
  });

  test('Node X509Certificate accepts the classical signatures and the issuer link', () => {
    const r = new X509Certificate(root.pem);
    const l = new X509Certificate(leaf.pem);
    expect(r.verify(r.publicKey)).toBe(true);
    expect(l.verify(r.publicKey)).toBe(true);
    expect(l.checkIssued(r)).toBe(true);
    expect(l.checkHost('caesar.hypermesh')).toBe('caesar.hypermesh');
    expect(l.checkIP('::1')).toBe('::1');
    expect(r.ca).toBe(true);
    expect(l.ca).toBe(false);
  });

  test('openssl parses root and leaf and shows the three alternative-key extensions', () => {
    for (const file of ['root.pem', 'leaf.pem']) {
      const text = execFileSync('openssl', ['x509', '-in', join(dir, file), '-text', '-noout'], { encoding: 'utf8' });
      expect(text).toContain('2.5.29.72');
      expect(text).toContain('2.5.29.73');
      expect(text).toContain('2.5.29.74');
      expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA384/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical/);
      expect(text).toMatch(/X509v3 Key Usage: critical/);
    }
    const leafText = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-text', '-noout'], { encoding: 'utf8' });
    expect(leafText).toContain('DNS:caesar-1.caesar.hypermesh, DNS:caesar.hypermesh, DNS:caesar, IP Address:0:0:0:0:0:0:0:1');
    expect(leafText).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
  });

  test('an earned leaf carries its consensus approval: parsed back, shown by openssl, accepted strictly', () => {
    const approval = { blockHeight: 300, blockHash: 'ab'.repeat(32), commitHash: 'cd'.repeat(32) };
    const earned = makeLeaf(root, { extraExtensions: [consensusApprovalExtension(approval)] });
    expect(parseHybridCertificate(earned.der).consensusApproval).toEqual(approval);
    expect(parseHybridCertificate(makeLeaf(root).der).consensusApproval).toBeUndefined();
    const file = join(dir, 'earned.pem');
    writeFileSync(file, earned.pem);
    expect(execFileSync('openssl', ['x509', '-in', file, '-text', '-noout'], { encoding: 'utf8' })).toContain(OID_CONSENSUS_APPROVAL);
    expect(execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'root.pem'), file], { encoding: 'utf8' }).trim()).toBe(`${file}: OK`);
    // Malformed contents are refused with the extension named, never a crash.
    const bad = makeLeaf(root, { extraExtensions: [{ oid: OID_CONSENSUS_APPROVAL, critical: false, value: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00) }] });
    expect(() => parseHybridCertificate(bad.der)).toThrow(/consensusApproval/);
  });

  test('openssl verify accepts the leaf under the root, strictly, as server and as client', () => {
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = execFileSync(
        'openssl',
        ['verify', '-x509_strict', '-purpose', purpose, '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')],
        { encoding: 'utf8' },
      );
      expect(out.trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
    }
    // and it is the root that makes it pass: an unrelated root does not.
    const other = makeRoot('Unrelated Root');
    writeFileSync(join(dir, 'other.pem'), other.pem);
    const r = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'other.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });

  test('Go crypto/x509 parses both and verifies the chain for serverAuth and clientAuth, by DNS name and ::1', () => {
    const run = (chainFile: string) =>
      spawnSync(
        'go',
        ['run', '.', '-roots', join(dir, 'root.pem'), '-chain', join(dir, chainFile), '-name', 'caesar-1.caesar.hypermesh', '-name', 'caesar.hypermesh', '-name', '::1'],
        {
          cwd: join(__dirname, 'go'),
          encoding: 'utf8',
          env: { ...process.env, GOFLAGS: '', GO111MODULE: 'on', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOWORK: 'off' },
        },
      );
    const ok = run('chain.pem');
    expect(ok.stderr).not.toMatch(/FAIL/);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('ok serverAuth ::1');
    expect(ok.stdout).toContain('ok clientAuth caesar.hypermesh');
    // The same program rejects a leaf for a name it does not carry.
    // An earned leaf (ConsensusApproval extension) too.
    const earned = makeLeaf(root, { extraExtensions: [consensusApprovalExtension({ blockHeight: 7, blockHash: 'ab'.repeat(32), commitHash: 'cd'.repeat(32) })] });
    writeFileSync(join(dir, 'earned-chain.pem'), earned.pem + root.pem);
    const earnedRun = run('earned-chain.pem');
    expect(earnedRun.stderr).not.toMatch(/FAIL/);
    expect(earnedRun.stdout).toContain('ok serverAuth caesar.hypermesh');
    const wrong = makeLeaf(root, { dnsNames: ['other.hypermesh'], ipAddresses: ['fd00::1'] });
    writeFileSync(join(dir, 'wrong.pem'), wrong.pem);
    const bad = run('wrong.pem');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/FAIL: verify serverAuth for caesar-1.caesar.hypermesh/);
  }, 120_000);

  test('Ed25519 and P-256 issuers sign with Ed25519 and ecdsa-with-SHA256', () => {
    for (const [type, oid] of [['ed25519', '1.3.101.112'], ['p256', '1.2.840.10045.4.3.2']] as const) {
      const ca = makeRoot(`Root ${type}`, type);
      const l = makeLeaf(ca);
      expect(parseHybridCertificate(l.der).signatureAlgorithm).toBe(oid);
      expect(new X509Certificate(l.pem).verify(new X509Certificate(ca.pem).publicKey)).toBe(true);
      expect(verifyAltSignatureChain([l.der], [ca.der])).toHaveLength(2);
    }
  });

  test('peer names come from the CN and the two-label <service>.hypermesh SAN', () => {
    expect(peerNamesFromCertificate(leaf.der)).toEqual({ service: 'caesar', instance: 'caesar-1' });
    const none = makeLeaf(root, { dnsNames: ['caesar-1.caesar.hypermesh'] });
    expectStoqError(() => peerNamesFromCertificate(none.der), 'PEER_REJECTED', /names no service/);
    const two = makeLeaf(root, { dnsNames: ['caesar.hypermesh', 'catalog.hypermesh'] });
    expectStoqError(() => peerNamesFromCertificate(two.der), 'PEER_REJECTED', /several services: caesar, catalog/);
  });
});

describe('FALCON alternative-signature chain', () => {
  test('verifies from leaf to the trusted root, with or without the root in the chain', () => {
    const path = verifyAltSignatureChain([leaf.der, root.der], [root.der]);
    expect(path.map((c) => c.commonName)).toEqual(['caesar-1', 'STOQ Test Root']);
    expect(verifyAltSignatureChain([leaf.der], [root.der])).toHaveLength(2);
  });

  test('a flipped TBS byte, re-signed classically, passes ECDSA but fails FALCON', () => {
    const top = children(leaf.der, readSingle(leaf.der, 'cert'), 'cert');
    const tbsFields = children(leaf.der, top[0]!, 'tbs');
    const serial = tbsFields[1]!; // version, serialNumber, ...
    const flipAt = serial.contentStart - top[0]!.start + 5; // a byte inside the serial number
    const tampered = resign(leaf.der, (tbs) => {
      tbs[flipAt] = tbs[flipAt]! ^ 0x01;
      return tbs;
    }, root.key, 'sha384');
    const x = new X509Certificate(Buffer.from(tampered));
    expect(x.verify(new X509Certificate(root.pem).publicKey)).toBe(true); // classical chain still fine
    expect(x.serialNumber.toLowerCase()).not.toBe(parseHybridCertificate(leaf.der).serialNumber);
    expectStoqError(() => verifyAltSignatureChain([tampered], [root.der]), 'FALCON_REJECTED', /"caesar-1" does not verify under the FALCON key of issuer "STOQ Test Root"/);
  });

  test('a FALCON signature by another key (classical signature intact) is rejected', () => {
    const stranger = falcon.keypair();
    const preTbs = preTbsCertificate(parseHybridCertificate(leaf.der).tbsDer);
    const forged = resign(leaf.der, (tbs) => withAltSignature(tbs, falcon.sign(stranger.secretKey, preTbs)), root.key, 'sha384');
    expect(new X509Certificate(Buffer.from(forged)).verify(new X509Certificate(root.pem).publicKey)).toBe(true);
    expectStoqError(() => verifyAltSignatureChain([forged], [root.der]), 'FALCON_REJECTED', /does not verify/);
  });

  test("a leaf from a different CA (same root name) is rejected: its issuer is not trusted", () => {
    const otherRoot = makeRoot('STOQ Test Root');
    const otherLeaf = makeLeaf(otherRoot);
    expectStoqError(() => verifyAltSignatureChain([otherLeaf.der], [root.der]), 'PEER_REJECTED', /issuer of certificate "caesar-1" not found/);
    // Presenting the other root in the chain does not help: it is not a trusted root.
    expectStoqError(() => verifyAltSignatureChain([otherLeaf.der, otherRoot.der], [root.der]), 'PEER_REJECTED', /not found/);
  });

  test('a plain classical certificate (openssl-made) is rejected for carrying no FALCON key', () => {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=plain',
      '-keyout', join(dir, 'plain.key'), '-out', join(dir, 'plain.der'), '-outform', 'DER', '-days', '1',
    ], { stdio: 'ignore' });
    const plain = new Uint8Array(readFileSync(join(dir, 'plain.der')));
    expectStoqError(() => parseHybridCertificate(plain), 'FALCON_REJECTED', /no subjectAltPublicKeyInfo \(2\.5\.29\.72\)/);
    expectStoqError(() => verifyAltSignatureChain([leaf.der], [plain]), 'FALCON_REJECTED', /no subjectAltPublicKeyInfo/);
  });

  test('the PreTBSCertificate drops exactly the signature field and the altSignatureValue extension', () => {
    const tbs = parseHybridCertificate(leaf.der).tbsDer;
    const pre = preTbsCertificate(tbs);
    const tbsFields = children(tbs, readSingle(tbs, 'tbs'), 'tbs');
    const preFields = children(pre, readSingle(pre, 'pre'), 'pre');
    expect(preFields).toHaveLength(tbsFields.length - 1);
    // version, serial kept; AlgorithmIdentifier (index 2) gone; issuer next.
    const bytesOf = (b: Uint8Array, t: { start: number; end: number }) => Buffer.from(b.subarray(t.start, t.end));
    expect(bytesOf(pre, preFields[1]!).equals(bytesOf(tbs, tbsFields[1]!))).toBe(true);
    expect(bytesOf(pre, preFields[2]!).equals(bytesOf(tbs, tbsFields[3]!))).toBe(true);
    const extCount = (b: Uint8Array, w: { contentStart: number; end: number }) => children(b, readTlv(b, w.contentStart, w.end, 'x'), 'x').length;
    expect(extCount(pre, preFields[preFields.length - 1]!)).toBe(extCount(tbs, tbsFields[tbsFields.length - 1]!) - 1);
    expect(Buffer.from(pre).includes(Buffer.from(encodeOid(OID_ALT_SIGNATURE_VALUE)))).toBe(false);
    // and it is what the issuer's FALCON key signed
    expect(falcon.verify(root.falcon.publicKey, pre, parseHybridCertificate(leaf.der).altSignature)).toBe(true);
  });
});

describe('interoperability of FALCON implementations', () => {
  test('native-signed certificates verify with @noble/post-quantum, and noble-signed ones natively', () => {
    expect(verifyAltSignatureChain([leaf.der, root.der], [root.der], nobleFalcon)).toHaveLength(2);
    const nobleKeys = nobleFalcon.keypair();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const nobleRoot = issueCertificate({
      subject: { commonName: 'noble root' },
      subjectPublicKey: publicKey,
      subjectFalconPublicKey: nobleKeys.publicKey,
      issuer: { certificate: null, privateKey, falconSecretKey: nobleKeys.secretKey, falconPublicKey: nobleKeys.publicKey },
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + HOUR),
      isCa: true,
      falcon: nobleFalcon,
    });
    const self = parseHybridCertificate(nobleRoot.der);
    expect(nativeFalcon.verify(nobleKeys.publicKey, preTbsCertificate(self.tbsDer), self.altSignature)).toBe(true);
  });
});

describe('bad input', () => {
  test('issuance refuses mismatched or malformed keys and names with clear errors', () => {
    const base = (): IssueCertificateOptions => ({
      subject: { commonName: 'x' },
      subjectPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      subjectFalconPublicKey: leaf.falcon.publicKey,
      issuer: { certificate: root.der, privateKey: root.key, falconSecretKey: root.falcon.secretKey, falconPublicKey: root.falcon.publicKey },
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + HOUR),
      isCa: false,
    });
    expectStoqError(() => issueCertificate({ ...base(), issuer: { ...base().issuer, certificate: null } }), 'TLS_CONFIG', /self-signed certificate: the issuer private key does not match/);
    expectStoqError(() => issueCertificate({ ...base(), issuer: { ...base().issuer, certificate: leaf.der } }), 'TLS_CONFIG', /issuer certificate "caesar-1" is not a CA/);
    expectStoqError(() => issueCertificate({ ...base(), issuer: { ...base().issuer, privateKey: leaf.key } }), 'TLS_CONFIG', /issuer private key does not match/);
    expectStoqError(() => issueCertificate({ ...base(), issuer: { ...base().issuer, falconSecretKey: leaf.falcon.secretKey } }), 'TLS_CONFIG', /FALCON secret key does not match/);
    expectStoqError(() => issueCertificate({ ...base(), subjectFalconPublicKey: new Uint8Array(897) }), 'TLS_CONFIG', /must be 1793 bytes/);
    expectStoqError(() => issueCertificate({ ...base(), ipAddresses: ['127.0.0.1'] }), 'TLS_CONFIG', /IPv6-only/);
    expectStoqError(() => issueCertificate({ ...base(), ipAddresses: ['::ffff:7f00:1'] }), 'TLS_CONFIG', /IPv4-mapped/);
    expectStoqError(() => issueCertificate({ ...base(), dnsNames: ['Bad_Name'] }), 'TLS_CONFIG', /invalid DNS name "Bad_Name"/);
    expectStoqError(() => issueCertificate({ ...base(), notAfter: NOW }), 'TLS_CONFIG', /notAfter .* must be after notBefore/);
    expectStoqError(() => issueCertificate({ ...base(), subjectPublicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey }), 'TLS_CONFIG', /unsupported subject key rsa/);
  });

  test('parsing arbitrary bytes or a corrupted certificate only ever throws StoqError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          parseHybridCertificate(bytes);
          return false; // random bytes are never a hybrid certificate
        } catch (err) {
          return err instanceof StoqError;
        }
      }),
      { numRuns: 300 },
    );
    const top = children(leaf.der, readSingle(leaf.der, 'cert'), 'cert');
    const uncovered = { tbsSignature: children(leaf.der, top[0]!, 'tbs')[2]!, tbsEnd: top[0]!.end };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: leaf.der.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = leaf.der.slice();
        bad[at] = bad[at]! ^ x;
        try {
          parseHybridCertificate(bad);
          // Still parses (the byte was inside a value): the FALCON chain check must then fail,
          // unless the byte lies outside what FALCON covers: the TBS `signature` AlgorithmIdentifier
          // or the classical signatureAlgorithm/signatureValue after the TBSCertificate.
          try {
            verifyAltSignatureChain([bad], [root.der]);
            return at >= uncovered.tbsSignature.start && (at < uncovered.tbsSignature.end || at >= uncovered.tbsEnd);
          } catch (err) {
            return err instanceof StoqError;
          }
        } catch (err) {
          return err instanceof StoqError;
        }
      }),
      { numRuns: 150 },
    );
  });

  test('oversized input is refused before parsing', () => {
    expectStoqError(() => parseHybridCertificate(new Uint8Array(20_000)), 'PEER_REJECTED', /exceeds 16384/);
    expectStoqError(() => verifyAltSignatureChain(new Array(9).fill(leaf.der), [root.der]), 'PEER_REJECTED', /chain of 9 exceeds 8/);
  });
});


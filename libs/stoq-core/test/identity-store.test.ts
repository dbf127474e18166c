// DevCa and NodeIdentity on a real filesystem: file modes, reuse across restarts, re-issue at
// 2/3 of the lifetime (with an injected clock), expired certificates on demand, refusal of
// key files that group/others can read. Runs with the default FALCON: the native addon.
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoqError } from '../src/errors';
import { DevCa } from '../src/identity/dev-ca';
import { IdentityError } from '../src/identity/errors';
import { NodeIdentity, type NodeIdentityOptions } from '../src/identity/node-identity';
import { parseHybridCertificate, peerNamesFromCertificate, verifyAltSignatureChain } from '../src/identity/parse';

const HOUR = 3600_000;
let dir: string;
let ca: DevCa;
let n = 0;

const mode = (path: string): number => statSync(path).mode & 0o777;
const pemCerts = (pem: string): Uint8Array[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from(m[1]!, 'base64')));

function load(extra: Partial<NodeIdentityOptions> & { dataDir: string }): Promise<NodeIdentity> {
  return NodeIdentity.loadOrCreate({ service: 'caesar', instance: 'caesar-1', ca, ...extra });
}

async function expectStoqError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(code.startsWith('IDENTITY_') ? IdentityError : StoqError);
  expect((err as StoqError | IdentityError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-identity-store-'));
  ca = await DevCa.openOrCreate(join(dir, 'ca'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const freshDataDir = (): string => join(dir, `node-${n++}`);

describe('DevCa', () => {
  test('creates a P-384 + FALCON root (10 y, CA, pathLen 0) with 0600 keys and 0644 certificate', () => {
    const caDir = join(dir, 'ca');
    expect(mode(join(caDir, 'root.key'))).toBe(0o600);
    expect(mode(join(caDir, 'root-falcon.key'))).toBe(0o600);
    expect(mode(join(caDir, 'root-falcon.pub'))).toBe(0o644);
    expect(mode(join(caDir, 'root.pem'))).toBe(0o644);
    const root = parseHybridCertificate(ca.rootDer);
    expect(root.isCa).toBe(true);
    expect(root.pathLen).toBe(0);
    expect(root.signatureAlgorithm).toBe('1.2.840.10045.4.3.3');
    expect(root.notAfter.getTime() - root.notBefore.getTime()).toBeGreaterThanOrEqual(10 * 365 * 24 * HOUR);
    expect(ca.fingerprint).toBe(createHash('sha256').update(ca.rootDer).digest('hex'));
    expect(new X509Certificate(ca.rootPem).publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(readFileSync(join(caDir, 'root.pem'), 'utf8')).toBe(ca.rootPem);
    expect(verifyAltSignatureChain([ca.rootDer], [ca.rootDer])).toHaveLength(1);
  });

  test('re-opening reuses the same root (refusals of partial or damaged CAs: identity-state.test.ts)', async () => {
    const again = await DevCa.openOrCreate(join(dir, 'ca'));
    expect(again.fingerprint).toBe(ca.fingerprint);
    expect(Buffer.from(again.rootFalconPublicKey).equals(Buffer.from(ca.rootFalconPublicKey))).toBe(true);
  });
});

describe('NodeIdentity', () => {
  test('first start generates keys (0600) and a leaf named for the service, chained to the CA', async () => {
    const dataDir = freshDataDir();
    const id = await load({ dataDir });
    const idDir = join(dataDir, 'identity');
    expect(mode(idDir)).toBe(0o700);
    expect(mode(join(idDir, 'tls.key'))).toBe(0o600);
    expect(mode(join(idDir, 'falcon.key'))).toBe(0o600);
    expect(mode(join(idDir, 'falcon.pub'))).toBe(0o644);
    expect(mode(join(idDir, 'cert.pem'))).toBe(0o644);
    expect(mode(join(idDir, 'trust-roots.pem'))).toBe(0o644);
    expect(id.reissued).toBe(true);

    const leaf = parseHybridCertificate(id.leafDer);
    expect(leaf.commonName).toBe('caesar-1');
    expect(leaf.organization).toBe('STOQ');
    expect(leaf.dnsNames).toEqual(['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar']);
    expect(leaf.ipAddresses).toEqual(['::1']);
    // 24 h from issuance, plus the 1 min backdating of notBefore for slow peer clocks.
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(24 * HOUR + 60_000);
    expect(Buffer.from(leaf.falconPublicKey).equals(Buffer.from(id.falconPublicKey))).toBe(true);
    expect(peerNamesFromCertificate(id.leafDer)).toEqual({ service: 'caesar', instance: 'caesar-1' });
    expect(id.fingerprint).toBe(leaf.fingerprintSha256);

    const chain = pemCerts(id.certChainPem);
    expect(chain).toHaveLength(2);
    expect(Buffer.from(chain[0]!).equals(Buffer.from(id.leafDer))).toBe(true);
    expect(Buffer.from(chain[1]!).equals(Buffer.from(ca.rootDer))).toBe(true);
    expect(id.trustRootsPem).toBe(ca.rootPem);
    expect(readFileSync(join(idDir, 'cert.pem'), 'utf8')).toBe(id.certChainPem);
    expect(verifyAltSignatureChain(chain, [ca.rootDer])).toHaveLength(2);
    // The key file is the key the certificate is for.
    expect(createPublicKey(id.keyPem).export({ type: 'spki', format: 'der' }).equals(Buffer.from(leaf.spkiDer))).toBe(true);
    const verified = execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(idDir, 'trust-roots.pem'), join(idDir, 'cert.pem')], { encoding: 'utf8' });
    expect(verified).toContain(': OK');
  });

  test('restarts reuse keys and certificate until 2/3 of the lifetime, then re-issue for the same keys', async () => {
    const dataDir = freshDataDir();
    const first = await load({ dataDir, lifetimeMs: 3 * HOUR });
    const t0 = first.notBefore.getTime();
    const lifetime = first.notAfter.getTime() - t0;
    expect(first.renewAt.getTime()).toBe(t0 + (lifetime * 2) / 3);

    const before = await load({ dataDir, lifetimeMs: 3 * HOUR, now: new Date(first.renewAt.getTime() - 1000) });
    expect(before.reissued).toBe(false);
    expect(before.fingerprint).toBe(first.fingerprint);
    expect(before.keyPem).toBe(first.keyPem);
    expect(Buffer.from(before.falconSecretKey).equals(Buffer.from(first.falconSecretKey))).toBe(true);

    const renewNow = new Date(first.renewAt.getTime());
    const after = await load({ dataDir, lifetimeMs: 3 * HOUR, now: renewNow });
    expect(after.reissued).toBe(true);
    expect(after.fingerprint).not.toBe(first.fingerprint);
    expect(after.keyPem).toBe(first.keyPem); // keys are kept, only the certificate is renewed
    expect(Buffer.from(after.falconPublicKey).equals(Buffer.from(first.falconPublicKey))).toBe(true);
    expect(after.notBefore.getTime()).toBeLessThanOrEqual(renewNow.getTime());
    expect(after.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
  });

  test('a change of names or addresses re-issues the certificate', async () => {
    const dataDir = freshDataDir();
    const first = await load({ dataDir });
    const moreIps = await load({ dataDir, ipAddresses: ['::1', 'fd00::5'] });
    expect(moreIps.reissued).toBe(true);
    expect(parseHybridCertificate(moreIps.leafDer).ipAddresses).toEqual(['::1', 'fd00::5']);
    const sameIps = await load({ dataDir, ipAddresses: ['fd00:0::5', '0::1'] }); // same set, other spelling
    expect(sameIps.reissued).toBe(false);
    const moreDns = await load({ dataDir, ipAddresses: ['::1', 'fd00::5'], dnsNames: ['caesar.example'] });
    expect(moreDns.reissued).toBe(true);
    expect(parseHybridCertificate(moreDns.leafDer).dnsNames).toContain('caesar.example');
    expect(moreDns.fingerprint).not.toBe(first.fingerprint);
  });

  test('expired certificates can be produced on demand and are replaced on the next load', async () => {
    const dataDir = freshDataDir();
    const now = new Date();
    const expired = await load({ dataDir, notBefore: new Date(now.getTime() - 2 * HOUR), lifetimeMs: HOUR, now });
    expect(expired.notAfter.getTime()).toBeLessThan(now.getTime());
    const idDir = join(dataDir, 'identity');
    const r = spawnSync('openssl', ['verify', '-CAfile', join(idDir, 'trust-roots.pem'), join(idDir, 'cert.pem')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/certificate has expired/);

    const renewed = await load({ dataDir, now });
    expect(renewed.reissued).toBe(true);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(now.getTime());
  });

  test('a key file readable by group or others is refused, naming the file and its mode', async () => {
    const dataDir = freshDataDir();
    await load({ dataDir });
    const idDir = join(dataDir, 'identity');
    for (const file of ['tls.key', 'falcon.key']) {
      const path = join(idDir, file);
      const quoted = `'${path}'`.replace(/[.]/g, '\\.');
      chmodSync(path, 0o644);
      await expectStoqError(load({ dataDir }), 'IDENTITY_PERMISSIONS', new RegExp(`permissions 0644 for private key file ${quoted} are too open.*run: chmod 600 ${quoted}`));
      chmodSync(path, 0o640);
      await expectStoqError(load({ dataDir }), 'IDENTITY_PERMISSIONS', /permissions 0640 .* too open/);
      chmodSync(path, 0o600);
    }
    expect((await load({ dataDir })).reissued).toBe(false);
  });

  test('mismatched FALCON key files are refused', async () => {
    const dataDir = freshDataDir();
    await load({ dataDir });
    const other = await load({ dataDir: freshDataDir(), instance: 'caesar-2' });
    const pub = join(dataDir, 'identity', 'falcon.pub');
    writeFileSync(pub, readFileSync(join(other.dir, 'falcon.pub')));
    await expectStoqError(load({ dataDir }), 'IDENTITY_DAMAGED', /falcon\.key and .*falcon\.pub do not belong together/);
    unlinkSync(pub);
    await expectStoqError(load({ dataDir }), 'IDENTITY_INCOMPLETE', /falcon\.pub missing/);
  });

  test('without a CA a valid stored certificate is used (also past 2/3 of its life), and one that needs a new one is an error', async () => {
    const dataDir = freshDataDir();
    const first = await load({ dataDir });
    const offline = await load({ dataDir, ca: null });
    expect(offline.fingerprint).toBe(first.fingerprint);
    expect(offline.trustRootsPem).toBe(ca.rootPem);
    // Due for renewal but still valid: its holder renews it; a client without a CA uses it meanwhile.
    const due = await load({ dataDir, ca: null, now: new Date(first.notAfter.getTime() - 1000) });
    expect([due.fingerprint, due.reissued]).toEqual([first.fingerprint, false]);
    await expectStoqError(load({ dataDir, ca: null, now: new Date(first.notAfter.getTime() + 1) }), 'TLS_CONFIG', /needs a new certificate \(the certificate expired at .*\) but no certificate authority/);
    const empty = freshDataDir();
    await expectStoqError(load({ dataDir: empty, ca: null }), 'TLS_CONFIG', /cert\.pem does not exist and no certificate authority/);
    expect(existsSync(empty)).toBe(false); // a refusal writes nothing
  });

  test('a corrupted stored certificate is refused; once deleted, the CA re-issues it for the same keys', async () => {
    const dataDir = freshDataDir();
    const first = await load({ dataDir });
    const certPath = join(dataDir, 'identity', 'cert.pem');
    const corrupted = first.certChainPem.replace(/MII/g, 'MIJ');
    writeFileSync(certPath, corrupted);
    await expectStoqError(load({ dataDir, ca: null }), 'IDENTITY_DAMAGED', /cert\.pem does not hold readable certificates.*delete it to have the certificate authority issue a new one/);
    await expectStoqError(load({ dataDir }), 'IDENTITY_DAMAGED', /cert\.pem does not hold readable certificates/);
    expect(readFileSync(certPath, 'utf8')).toBe(corrupted);
    unlinkSync(certPath);
    await expectStoqError(load({ dataDir, ca: null }), 'TLS_CONFIG', /needs a new certificate \(.*cert\.pem is missing\)/);
    const repaired = await load({ dataDir });
    expect(repaired.reissued).toBe(true);
    expect(repaired.keyPem).toBe(first.keyPem);
    expect(readFileSync(certPath, 'utf8')).toBe(repaired.certChainPem);
  });

  test('moving to another CA re-issues the leaf and replaces the trust roots', async () => {
    const dataDir = freshDataDir();
    await load({ dataDir });
    const otherCa = await DevCa.openOrCreate(join(dir, 'other-ca'));
    const moved = await load({ dataDir, ca: otherCa });
    expect(moved.reissued).toBe(true);
    expect(moved.trustRootsPem).toBe(otherCa.rootPem);
    expect(verifyAltSignatureChain([moved.leafDer], [otherCa.rootDer])).toHaveLength(2);
    expect(existsSync(join(dataDir, 'identity', 'trust-roots.pem'))).toBe(true);
  });

  test('service and instance names must be DNS labels', async () => {
    await expectStoqError(load({ dataDir: freshDataDir(), service: 'Caesar' }), 'TLS_CONFIG', /invalid service name "Caesar"/);
    await expectStoqError(load({ dataDir: freshDataDir(), instance: 'caesar_1' }), 'TLS_CONFIG', /invalid instance name "caesar_1"/);
  });
});

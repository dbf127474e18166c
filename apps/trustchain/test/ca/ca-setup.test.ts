// `trustchain ca init` / `ca sign-intermediate` (src/ca/ca-setup.ts) and the Authority on such a
// data dir: root (pathLen 1) + intermediate (pathLen 0), the root key outside the data dir with
// --root-offline, leaves issued by the intermediate with chain leaf + intermediate + root that
// openssl and Go's crypto/x509 verify, refusals that write nothing, and a replaced intermediate.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_CA_FILES, DevCa, nativeFalcon, parseCsr, parseHybridCertificate, verifyAltSignatureChain } from '@stoq/core';
import { verifySth } from '@stoq/ct-log';
import { DATA_DIR_LAYOUT } from '../../src/ca/authority';
import { INTERMEDIATE_FILES, defaultOfflineRootDir, initCa, signIntermediate } from '../../src/ca/ca-setup';
import { certificateNames } from '../../src/core/issuance-policy';
import { CaStore } from '../../src/store/ca-store';
import { START_MS, certPem, goX509, nodeKeys, openCa, openssl, signedCsr, tcError, tempDir, type TestCa } from './support';

const keys = nodeKeys();
const at = String(Math.floor(START_MS / 1000) + 120);
const now = new Date(START_MS);
/** Plain key files: these tests are about the CA layout (root-keys.test.ts covers encryption). */
const PLAIN = { insecureNoPassword: true } as const;

async function issueOne(ca: TestCa, instance = 'caesar-1'): Promise<readonly Uint8Array[]> {
  const csr = signedCsr(keys, 'caesar', instance);
  const parsed = parseCsr(csr.der);
  return (await ca.issuer.issueLocal(parsed, certificateNames(parsed, 'caesar'))).chain;
}

function writeChain(dir: string, chain: readonly Uint8Array[]): { leaf: string; intermediate: string; root: string } {
  const files = { leaf: join(dir, 'leaf.pem'), intermediate: join(dir, 'intermediate.pem'), root: join(dir, 'root.pem') };
  writeFileSync(files.leaf, certPem(chain[0]!));
  writeFileSync(files.intermediate, certPem(chain[1]!));
  writeFileSync(files.root, certPem(chain[2]!));
  return files;
}

describe('ca init --root-offline', () => {
  it('writes the root outside the data dir, the intermediate inside, and binds the database to the root', async () => {
    const base = tempDir();
    const dataDir = join(base, 'tc');
    const r = await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    expect(r.rootDir).toBe(defaultOfflineRootDir(dataDir));
    expect(r.rootDir).toBe(join(base, 'tc.root-ca'));
    // No root key anywhere under the data dir.
    expect(existsSync(join(dataDir, DATA_DIR_LAYOUT.ca))).toBe(false);
    for (const f of Object.values(DEV_CA_FILES)) expect(existsSync(join(r.rootDir, f))).toBe(true);
    for (const f of Object.values(INTERMEDIATE_FILES)) expect(existsSync(join(r.intermediateDir, f))).toBe(true);
    expect(statSync(join(r.intermediateDir, INTERMEDIATE_FILES.key)).mode & 0o777).toBe(0o600);
    expect(statSync(join(r.intermediateDir, INTERMEDIATE_FILES.falconKey)).mode & 0o777).toBe(0o600);
    const store = CaStore.open(join(dataDir, DATA_DIR_LAYOUT.db));
    expect(store.meta('root_fingerprint')).toBe(r.rootFingerprint);
    store.close();

    const root = parseHybridCertificate(new Uint8Array(Buffer.from(readFileSync(join(r.rootDir, DEV_CA_FILES.cert), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64')));
    expect(root.fingerprintSha256).toBe(r.rootFingerprint);
    expect(root.isCa).toBe(true);
    expect(root.pathLen).toBe(1);
    const text = await openssl(['x509', '-noout', '-text', '-in', join(r.intermediateDir, INTERMEDIATE_FILES.cert)]);
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Issuer: O ?= ?STOQ, CN ?= ?TrustChain Root CA/);
    expect(text).toMatch(/Subject: O ?= ?STOQ, CN ?= ?TrustChain Intermediate CA/);
    expect(text).toMatch(/ASN1 OID: secp384r1/);
    // openssl: the intermediate chains to the root.
    expect(await openssl(['verify', '-attime', at, '-CAfile', join(r.rootDir, DEV_CA_FILES.cert), join(r.intermediateDir, INTERMEDIATE_FILES.cert)])).toContain(': OK');
  });

  it('serves from the intermediate alone: leaves chain leaf + intermediate + root, and openssl and the FALCON check accept them', async () => {
    const dataDir = join(tempDir(), 'tc');
    const r = await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    const ca = await openCa({ dir: dataDir });
    try {
      expect(ca.authority.fingerprint).toBe(r.rootFingerprint);
      expect(ca.authority.intermediates).toHaveLength(1);
      expect(ca.authority.issuerCertificate.commonName).toBe('TrustChain Intermediate CA');
      expect(ca.lines.some((l) => l.msg === 'TrustChain root and intermediate loaded; the intermediate signs')).toBe(true);
      const chain = await issueOne(ca);
      expect(chain).toHaveLength(3);
      expect(Buffer.from(chain[1]!).equals(Buffer.from(ca.authority.intermediates[0]!))).toBe(true);
      expect(Buffer.from(chain[2]!).equals(Buffer.from(ca.authority.rootDer))).toBe(true);
      const leaf = parseHybridCertificate(chain[0]!);
      expect(Buffer.from(leaf.issuerDer).equals(Buffer.from(ca.authority.issuerCertificate.subjectDer))).toBe(true);
      // FALCON alt chain: leaf -> intermediate -> pinned root.
      expect(verifyAltSignatureChain(chain, [ca.authority.rootDer], nativeFalcon).map((c) => c.commonName)).toEqual(['caesar-1', 'TrustChain Intermediate CA', 'TrustChain Root CA']);
      // Classical chain: real openssl, trusting only the root.
      const dir = tempDir();
      const f = writeChain(dir, chain);
      expect(await openssl(['verify', '-attime', at, '-x509_strict', '-purpose', 'sslserver', '-CAfile', f.root, '-untrusted', f.intermediate, f.leaf])).toContain('leaf.pem: OK');
      expect(await openssl(['verify', '-attime', at, '-x509_strict', '-purpose', 'sslclient', '-CAfile', f.root, '-untrusted', f.intermediate, f.leaf])).toContain('leaf.pem: OK');
      // Without the intermediate the leaf does not verify: the root did not sign it.
      await expect(openssl(['verify', '-attime', at, '-CAfile', f.root, f.leaf])).rejects.toThrow(/unable to get local issuer certificate/);
      // The tree head's FALCON signature is the intermediate's.
      const sth = await ca.ct.getSth();
      expect(verifySth(sth, ca.authority.logKey.publicKey, { verify: (m, s) => nativeFalcon.verify(ca.authority.issuerCertificate.falconPublicKey, m, s) })).toBe(true);
    } finally {
      await ca.close();
    }
  });

  it('issues chains Go’s crypto/x509 verifies: leaf through the intermediate to the root (go run in a temp dir)', async () => {
    const dataDir = join(tempDir(), 'tc');
    await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    const ca = await openCa({ dir: dataDir });
    let chain: readonly Uint8Array[];
    try {
      chain = await issueOne(ca);
    } finally {
      await ca.close();
    }
    const dir = tempDir('trustchain-go-');
    const f = writeChain(dir, chain);
    const out = await goX509(
      `func main() {
	root, intermediate, leaf := load(os.Args[1]), load(os.Args[2]), load(os.Args[3])
	at, _ := time.Parse(time.RFC3339, os.Args[4])
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	inter.AddCert(intermediate)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		chains, err := leaf.Verify(x509.VerifyOptions{DNSName: "caesar.hypermesh", Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}})
		if err != nil { fmt.Println("FAIL: verify", err); os.Exit(1) }
		if len(chains) != 1 || len(chains[0]) != 3 { fmt.Println("FAIL: chain length", len(chains[0])); os.Exit(1) }
	}
	// Without the intermediate the leaf must not verify.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at}); err == nil { fmt.Println("FAIL: verified without the intermediate"); os.Exit(1) }
	fmt.Println("ok")
}`,
      [f.root, f.intermediate, f.leaf, new Date(START_MS + 3600_000).toISOString()],
      dir,
      "Go's crypto/x509 refused the chain",
    );
    expect(out.trim()).toBe('ok');
  }, 120_000);

  it('ca init without --root-offline keeps the root in <data-dir>/ca/ and still signs with the intermediate', async () => {
    const dataDir = join(tempDir(), 'tc');
    const r = await initCa({ dataDir, rootOffline: false, now });
    expect(r.rootDir).toBe(join(dataDir, DATA_DIR_LAYOUT.ca));
    const ca = await openCa({ dir: dataDir });
    try {
      const chain = await issueOne(ca);
      expect(chain).toHaveLength(3);
      expect(parseHybridCertificate(chain[0]!).authorityKeyIdentifier).toEqual(ca.authority.issuerCertificate.subjectKeyIdentifier);
    } finally {
      await ca.close();
    }
  });

  it('refuses to initialize twice, a root dir inside the data dir, and an existing root dir; writes nothing', async () => {
    const base = tempDir();
    const dataDir = join(base, 'tc');
    await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    const again = await tcError(() => initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now }));
    expect(again.code).toBe('STATE_EXISTS');
    expect(again.message).toMatch(/already initialized .* never replaces a CA/);

    const other = join(base, 'other');
    const inside = await tcError(() => initCa({ dataDir: other, rootOffline: true, rootKeys: PLAIN, rootDir: join(other, 'root'), now }));
    expect(inside).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(inside.message).toMatch(/inside the data dir/);
    const taken = await tcError(() => initCa({ dataDir: other, rootOffline: true, rootKeys: PLAIN, rootDir: join(base, 'tc.root-ca'), now }));
    expect(taken.code).toBe('STATE_EXISTS');
    expect(existsSync(join(other, 'trustchain.db'))).toBe(false);
    expect(existsSync(join(other, 'intermediate'))).toBe(false);
  });
});

describe('serve without a signing key', () => {
  it('refuses a data dir whose intermediate is gone and whose root is offline, naming sign-intermediate', async () => {
    const dataDir = join(tempDir(), 'tc');
    await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    rmSync(join(dataDir, 'intermediate'), { recursive: true });
    const err = await tcError(() => openCa({ dir: dataDir }));
    expect(err.code).toBe('STATE_DAMAGED');
    expect(err.message).toMatch(/holds no root/);
    expect(err.message).toMatch(/trustchain ca sign-intermediate --data-dir/);
    expect(existsSync(join(dataDir, DATA_DIR_LAYOUT.ca))).toBe(false); // no new root made
  });

  it('refuses ca/ with the root certificate but not its key, and no intermediate (NO_SIGNING_KEY)', async () => {
    const dataDir = tempDir();
    const first = await openCa({ dir: dataDir });
    const fp = first.authority.fingerprint;
    await first.close();
    // The operator moved the root key away without making an intermediate first.
    for (const f of [DEV_CA_FILES.key, DEV_CA_FILES.falconKey]) rmSync(join(dataDir, DATA_DIR_LAYOUT.ca, f));
    const err = await tcError(() => openCa({ dir: dataDir }));
    expect(err.code).toBe('NO_SIGNING_KEY');
    expect(err.message).toMatch(/holds the root certificate but not its keys .* no intermediate/);
    expect(readFileSync(join(dataDir, DATA_DIR_LAYOUT.ca, DEV_CA_FILES.cert), 'utf8')).toContain('BEGIN CERTIFICATE');
    const store = CaStore.open(join(dataDir, DATA_DIR_LAYOUT.db));
    expect(store.meta('root_fingerprint')).toBe(fp);
    store.close();
  });

  it('refuses an intermediate that does not chain to its root.pem, and a root in ca/ that is not the intermediate root', async () => {
    const a = join(tempDir(), 'a');
    const b = join(tempDir(), 'b');
    await initCa({ dataDir: a, rootOffline: false, now });
    await initCa({ dataDir: b, rootOffline: false, now });
    // b's intermediate certificate (and keys) under a's root.pem.
    const mixed = join(tempDir(), 'mixed');
    await initCa({ dataDir: mixed, rootOffline: true, rootKeys: PLAIN, now });
    writeFileSync(join(mixed, 'intermediate', INTERMEDIATE_FILES.root), readFileSync(join(a, 'intermediate', INTERMEDIATE_FILES.root)));
    const bad = await tcError(() => openCa({ dir: mixed }));
    expect(bad.code).toBe('STATE_DAMAGED');
    expect(bad.message).toMatch(/is not signed by root "TrustChain Root CA"|belongs to root/);
    // a's intermediate beside b's online root.
    rmSync(join(b, 'intermediate'), { recursive: true });
    renameSync(join(a, 'intermediate'), join(b, 'intermediate'));
    const swapped = await tcError(() => openCa({ dir: b }));
    expect(swapped.code).toBe('STATE_DAMAGED');
    expect(swapped.message).toMatch(/holds root [0-9a-f]{64}, but .* chains to root [0-9a-f]{64}/);
  });
});

describe('ca sign-intermediate', () => {
  it('signs a replacement with the offline root; old leaves still verify, the CT log reopens, new leaves use the new intermediate', async () => {
    const dataDir = join(tempDir(), 'tc');
    const r = await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    let ca = await openCa({ dir: dataDir });
    const oldChain = await issueOne(ca, 'caesar-1');
    await ca.close();

    const exists = await tcError(() => signIntermediate({ dataDir, rootDir: r.rootDir, now }));
    expect(exists.code).toBe('STATE_EXISTS');
    expect(exists.message).toMatch(/never replaced in place/);

    renameSync(join(dataDir, 'intermediate'), join(dataDir, '..', 'intermediate.old'));
    const signed = await signIntermediate({ dataDir, rootDir: r.rootDir, now });
    expect(signed.rootFingerprint).toBe(r.rootFingerprint);
    expect(signed.intermediateFingerprint).not.toBe(r.intermediateFingerprint);

    ca = await openCa({ dir: dataDir }); // the log's last tree head was signed by the old intermediate
    try {
      const newChain = await issueOne(ca, 'caesar-2');
      expect(Buffer.from(newChain[1]!).equals(Buffer.from(oldChain[1]!))).toBe(false);
      for (const chain of [oldChain, newChain]) {
        const f = writeChain(tempDir(), chain);
        expect(await openssl(['verify', '-attime', at, '-CAfile', f.root, '-untrusted', f.intermediate, f.leaf])).toContain('leaf.pem: OK');
        expect(verifyAltSignatureChain(chain, [ca.authority.rootDer], nativeFalcon)).toHaveLength(3);
      }
    } finally {
      await ca.close();
    }
  });

  it('refuses a missing root dir, another root, and a root made by serve (pathLen 0)', async () => {
    const dataDir = join(tempDir(), 'tc');
    await initCa({ dataDir, rootOffline: true, rootKeys: PLAIN, now });
    rmSync(join(dataDir, 'intermediate'), { recursive: true });
    const missing = await tcError(() => signIntermediate({ dataDir, rootDir: join(tempDir(), 'nowhere'), now }));
    expect(missing.code).toBe('NO_SIGNING_KEY');
    expect(missing.message).toMatch(/root\.key/);

    const other = join(tempDir(), 'other');
    const o = await initCa({ dataDir: other, rootOffline: true, rootKeys: PLAIN, now });
    const wrong = await tcError(() => signIntermediate({ dataDir, rootDir: o.rootDir, now }));
    expect(wrong.code).toBe('STATE_DAMAGED');
    expect(wrong.message).toMatch(/belongs to root/);

    // A data dir from serve's first start: its root has pathLen 0 and signs leaves only.
    const legacy = tempDir();
    const ca = await openCa({ dir: legacy });
    await ca.close();
    const refused = await tcError(() => signIntermediate({ dataDir: legacy, now }));
    expect(refused.code).toBe('INVALID_ARGUMENT');
    expect(refused.message).toMatch(/pathLenConstraint 0/);
    expect(existsSync(join(legacy, 'intermediate'))).toBe(false);
  });
});

describe('existing data dirs', () => {
  it('a root made by serve keeps signing leaves directly (leaf + root, no intermediate)', async () => {
    const dataDir = tempDir();
    const ca = await openCa({ dir: dataDir });
    try {
      expect(ca.authority.intermediates).toEqual([]);
      const chain = await issueOne(ca);
      expect(chain).toHaveLength(2);
      expect(Buffer.from(chain[1]!).equals(Buffer.from(ca.authority.rootDer))).toBe(true);
      expect(ca.authority.rootCertificate.pathLen).toBe(0);
    } finally {
      await ca.close();
    }
  });

  it('DevCa.openExisting never creates a CA', async () => {
    const dir = join(tempDir(), 'none');
    await expect(DevCa.openExisting(dir, { label: 'TrustChain root CA' })).rejects.toMatchObject({ code: 'IDENTITY_INCOMPLETE' });
    expect(existsSync(dir)).toBe(false);
    mkdirSync(dir);
  });
});

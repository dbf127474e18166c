// Issuance end to end on a real CA in a temp dir (SQLite store, root, file CT log, native
// FALCON), on a ManualClock: enroll with a join token, renew with the current certificate,
// refusals that burn nothing, CT inclusion proofs, batching, and reconciling after a crash.
import { createPublicKey, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevCa, createCsr, falconCsrMessage, nativeFalcon, parseCsr, parseHybridCertificate } from '@stoq/core';
import {
  LogEntryType,
  V1,
  decodeMerkleTreeLeaf,
  decodeSct,
  encodeMerkleTreeLeaf,
  sha256Hasher,
  verifyInclusion,
  verifySct,
  verifySth,
  type SignedEntry,
} from '@stoq/ct-log';
import { TAG_SEQUENCE, children, encodeTlv, readSingle } from '@stoq/der';
import { parseIpv6 } from '@stoq/ipv6';
import type { IssueResult } from '../../src/ca/issuer';
import { certificateNames } from '../../src/core/issuance-policy';
import { hashToken } from '../../src/core/tokens';
import { START_MS, certPem, goX509, mintToken, nodeKeys, openCa, openssl, signedCsr, tcError, tempDir, type TestCa } from './support';

const HOUR = 3600_000;
const keys = nodeKeys();

let ca: TestCa;
beforeEach(async () => {
  ca = await openCa();
});
afterEach(async () => {
  await ca.close();
});

/** Checks what a client checks: the SCT and STH signatures and the inclusion proof of this leaf. */
function expectLoggedAndProven(ca: TestCa, r: IssueResult): void {
  const entry: SignedEntry = { entryType: LogEntryType.x509_entry, certificate: r.chain[0]! };
  const sct = decodeSct(r.ct.sct);
  expect(verifySct(sct, entry, ca.authority.logKey.publicKey)).toBe(true);
  const rootFalcon = ca.authority.rootCertificate.falconPublicKey;
  expect(verifySth(r.ct.sth, ca.authority.logKey.publicKey, { verify: (m, s) => nativeFalcon.verify(rootFalcon, m, s) })).toBe(true);
  // The leaf the client rebuilds from its own certificate and the SCT's timestamp.
  const leafHash = sha256Hasher.hashLeaf(encodeMerkleTreeLeaf({ version: V1, timestampedEntry: { timestamp: sct.timestamp, signedEntry: entry, extensions: new Uint8Array(0) } }));
  expect(verifyInclusion(r.ct.leafIndex, r.ct.sth.treeSize, leafHash, r.ct.auditPath, r.ct.sth.rootHash)).toBe(true);
  expect(ca.store.certificate(r.serial)?.ctIndex).toBe(r.ct.leafIndex);
}

async function enroll(service = 'caesar', instance = `${service}-1`, ips: string[] = ['2001:db8::1']): Promise<{ token: string; result: IssueResult }> {
  const token = mintToken(ca.store, service, ca.clock.now());
  const csr = signedCsr(keys, service, instance, ips);
  return { token, result: await ca.issuer.enroll(token, csr.der, csr.falconSignature) };
}

describe('enroll', () => {
  it('issues a hybrid leaf for the token’s service, burns the token, records and logs it', async () => {
    const { token, result } = await enroll();
    expect(result.chain).toHaveLength(2);
    expect(Buffer.from(result.chain[1]!).equals(Buffer.from(ca.authority.rootDer))).toBe(true);
    const leaf = parseHybridCertificate(result.chain[0]!);
    expect(leaf.isCa).toBe(false);
    expect(leaf.dnsNames).toEqual(['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar']);
    expect(leaf.ipAddresses).toEqual(['2001:db8::1']);
    expect(Buffer.from(leaf.falconPublicKey).equals(Buffer.from(keys.falcon.publicKey))).toBe(true);
    expect(Buffer.from(leaf.spkiDer).equals(createPublicKey(keys.tlsKey).export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(result.notBefore).toBe(START_MS - 60_000);
    expect(result.notAfter).toBe(START_MS + 24 * HOUR); // 24 h from issuance; notBefore is backdated 1 min
    expect(result.serial).toBe(leaf.serialNumber);
    expect(ca.store.token(hashToken(token))?.usedAt).toBe(START_MS);
    expect(ca.store.certificate(result.serial)).toMatchObject({ kind: 'enroll', service: 'caesar', instance: 'caesar-1', fingerprint: result.fingerprint });
    expectLoggedAndProven(ca, result);
    expect(ca.issuer.issued).toBe(1);
  });

  it('issues a leaf that openssl verifies against the root', async () => {
    const { result } = await enroll();
    const dir = tempDir();
    writeFileSync(join(dir, 'root.pem'), ca.authority.rootPem);
    writeFileSync(join(dir, 'leaf.pem'), certPem(result.chain[0]!));
    const at = String(Math.floor(START_MS / 1000) + 60);
    expect(await openssl(['verify', '-attime', at, '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')])).toContain('leaf.pem: OK');
  });

  it('issues a leaf Go’s crypto/x509 parses and verifies against the root (go run in a temp dir)', async () => {
    const { result } = await enroll();
    const dir = tempDir('trustchain-go-');
    writeFileSync(join(dir, 'root.pem'), ca.authority.rootPem);
    writeFileSync(join(dir, 'leaf.pem'), certPem(result.chain[0]!));
    const out = await goX509(
      `func main() {
	root, leaf := load(os.Args[1]), load(os.Args[2])
	at, _ := time.Parse(time.RFC3339, os.Args[3])
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		for _, name := range []string{"caesar-1.caesar.hypermesh", "caesar.hypermesh", "2001:db8::1"} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				fmt.Println("FAIL: verify", name, err); os.Exit(1)
			}
		}
	}
	fmt.Println("ok")
}`,
      ['root.pem', 'leaf.pem', new Date(START_MS + HOUR).toISOString()],
      dir,
      "Go's crypto/x509 refused TrustChain's root or leaf",
    );
    expect(out.trim()).toBe('ok');
  }, 120_000);

  it('refuses a second enrollment with the same token as TOKEN_USED', async () => {
    const { token } = await enroll();
    const csr = signedCsr(keys, 'caesar', 'caesar-2');
    const e = await tcError(() => ca.issuer.enroll(token, csr.der, csr.falconSignature));
    expect(e.code).toBe('TOKEN_USED');
    expect(e.message).toMatch(/single-use, mint a new one/);
    expect(ca.store.certificateCount()).toBe(1);
  });

  it('refuses an expired token as TOKEN_EXPIRED', async () => {
    const token = mintToken(ca.store, 'caesar', ca.clock.now(), 60);
    ca.clock.advance(60_000);
    const csr = signedCsr(keys, 'caesar', 'caesar-1');
    expect((await tcError(() => ca.issuer.enroll(token, csr.der, csr.falconSignature))).code).toBe('TOKEN_EXPIRED');
  });

  it('refuses unknown and malformed tokens as TOKEN_UNKNOWN', async () => {
    const csr = signedCsr(keys, 'caesar', 'caesar-1');
    const other = mintToken(ca.store, 'caesar', 0); // format-valid, but only its hash is stored
    expect((await tcError(() => ca.issuer.enroll(`${other.slice(0, -1)}${other.endsWith('A') ? 'B' : 'A'}`, csr.der, csr.falconSignature))).code).toBe('TOKEN_UNKNOWN');
    expect((await tcError(() => ca.issuer.enroll('hunter2', csr.der, csr.falconSignature))).code).toBe('TOKEN_UNKNOWN');
  });

  it('burns nothing when the CSR, the FALCON proof or the names are refused; the token still works after', async () => {
    const token = mintToken(ca.store, 'caesar', ca.clock.now());
    const good = signedCsr(keys, 'caesar', 'caesar-1');
    const other = nodeKeys();
    const tampered = Uint8Array.from(good.der);
    tampered[tampered.length - 5]! ^= 0xff; // inside the ECDSA signature
    const nineIps = Array.from({ length: 9 }, (_, i) => `2001:db8::${i + 1}`);
    const tooMany = signedCsr(keys, 'caesar', 'caesar-1', nineIps);
    const catalog = signedCsr(keys, 'catalog', 'catalog-1');
    const refusals: Array<[string, Uint8Array, Uint8Array]> = [
      ['CSR_REJECTED', new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), good.falconSignature],
      ['CSR_REJECTED', tampered, good.falconSignature],
      ['FALCON_PROOF_INVALID', good.der, new Uint8Array(0)],
      ['FALCON_PROOF_INVALID', good.der, nativeFalcon.sign(other.falcon.secretKey, falconCsrMessage(good.der))],
      ['FALCON_PROOF_INVALID', good.der, tooMany.falconSignature], // signed another CSR
      ['NAME_NOT_ALLOWED', tooMany.der, tooMany.falconSignature],
      ['TOKEN_WRONG_SERVICE', catalog.der, catalog.falconSignature],
    ];
    for (const [code, der, sig] of refusals) {
      expect((await tcError(() => ca.issuer.enroll(token, der, sig))).code).toBe(code);
      expect(ca.store.token(hashToken(token))?.usedAt).toBeNull();
    }
    expect(ca.store.certificateCount()).toBe(0);
    expect(ca.ct.treeSize).toBe(0);
    const r = await ca.issuer.enroll(token, good.der, good.falconSignature);
    expect(ca.store.certificate(r.serial)?.kind).toBe('enroll');
  });

  it('batches enrollments that arrive together into one store transaction, each with its own proof', async () => {
    const batches: number[] = [];
    const issueBatch = ca.store.issueBatch.bind(ca.store);
    ca.store.issueBatch = (certs) => {
      batches.push(certs.length);
      issueBatch(certs);
    };
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => {
        const token = mintToken(ca.store, 'caesar', ca.clock.now());
        const csr = signedCsr(keys, 'caesar', `caesar-${i}`);
        return ca.issuer.enroll(token, csr.der, csr.falconSignature);
      }),
    );
    expect(batches).toEqual([5]);
    expect(new Set(results.map((r) => r.ct.leafIndex)).size).toBe(5);
    for (const r of results) expectLoggedAndProven(ca, r);
  });

  it('lets exactly one of two concurrent enrollments with one token win', async () => {
    const token = mintToken(ca.store, 'caesar', ca.clock.now());
    const a = signedCsr(keys, 'caesar', 'caesar-1');
    const b = signedCsr(keys, 'caesar', 'caesar-2');
    const [ra, rb] = await Promise.allSettled([ca.issuer.enroll(token, a.der, a.falconSignature), ca.issuer.enroll(token, b.der, b.falconSignature)]);
    expect(ra.status).toBe('fulfilled');
    expect(rb).toMatchObject({ status: 'rejected', reason: { code: 'TOKEN_USED' } });
    expect(ca.store.certificateCount()).toBe(1);
  });
});

describe('renew', () => {
  it('renews with the current certificate: same service and instance, new key allowed', async () => {
    const { result: first } = await enroll();
    ca.clock.advance(16 * HOUR);
    const fresh = nodeKeys();
    const csr = signedCsr(fresh, 'caesar', 'caesar-1', ['2001:db8::2']);
    const r = await ca.issuer.renew(first.chain[0]!, csr.der, csr.falconSignature);
    const leaf = parseHybridCertificate(r.chain[0]!);
    expect(r.serial).not.toBe(first.serial);
    expect(leaf.dnsNames).toEqual(['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar']);
    expect(leaf.ipAddresses).toEqual(['2001:db8::2']);
    expect(Buffer.from(leaf.falconPublicKey).equals(Buffer.from(fresh.falcon.publicKey))).toBe(true);
    expect(r.notBefore).toBe(START_MS + 16 * HOUR - 60_000);
    expect(ca.store.certificate(r.serial)?.kind).toBe('renew');
    expectLoggedAndProven(ca, r);
  });

  it('refuses another instance or service than the current certificate’s', async () => {
    const { result } = await enroll();
    const otherInstance = signedCsr(keys, 'caesar', 'caesar-2');
    expect((await tcError(() => ca.issuer.renew(result.chain[0]!, otherInstance.der, otherInstance.falconSignature))).code).toBe('NAME_NOT_ALLOWED');
    const otherService = signedCsr(keys, 'catalog', 'caesar-1');
    expect((await tcError(() => ca.issuer.renew(result.chain[0]!, otherService.der, otherService.falconSignature))).code).toBe('NAME_NOT_ALLOWED');
  });

  it('an earned lineage renews until its stake attestation expires, then must be earned again', async () => {
    const csr = signedCsr(keys, 'storage', 'storage-1');
    const approval = { blockHeight: 12, blockHash: 'ab'.repeat(32), commitHash: 'cd'.repeat(32) };
    const stakeExpiresAt = START_MS + 20 * HOUR;
    const parsed = parseCsr(csr.der);
    const earned = await ca.issuer.issueEarned(parsed, certificateNames(parsed, 'storage'), approval, stakeExpiresAt);
    expect(parseHybridCertificate(earned.chain[0]!).consensusApproval).toEqual(approval);
    expect(ca.store.certificate(earned.serial)).toMatchObject({ kind: 'earned', stakeExpiresAt });
    ca.clock.advance(16 * HOUR);
    const renewal = signedCsr(keys, 'storage', 'storage-1');
    const renewed = await ca.issuer.renew(earned.chain[0]!, renewal.der, renewal.falconSignature);
    // The renewal carries the lineage's stake expiry; the attestation ends before its next renewal.
    expect(ca.store.certificate(renewed.serial)).toMatchObject({ kind: 'renew', stakeExpiresAt });
    ca.clock.advance(4 * HOUR);
    const again = signedCsr(keys, 'storage', 'storage-1');
    const e = await tcError(() => ca.issuer.renew(renewed.chain[0]!, again.der, again.falconSignature));
    expect(e.code).toBe('STAKE_EXPIRED');
    expect(e.message).toMatch(/earn it again \(trustchain\/issue_certificate with a fresh attestation/);
  });

  it('refuses a revoked current certificate', async () => {
    const { result } = await enroll();
    ca.store.revoke(result.serial, 1, ca.clock.now());
    const csr = signedCsr(keys, 'caesar', 'caesar-1');
    const e = await tcError(() => ca.issuer.renew(result.chain[0]!, csr.der, csr.falconSignature));
    expect(e.code).toBe('CERTIFICATE_REVOKED');
    expect(e.message).toMatch(/cannot be renewed, enroll again with a new token/);
  });

  it('refuses an expired current certificate', async () => {
    const { result } = await enroll();
    ca.clock.advance(result.notAfter - ca.clock.now());
    const csr = signedCsr(keys, 'caesar', 'caesar-1');
    expect((await tcError(() => ca.issuer.renew(result.chain[0]!, csr.der, csr.falconSignature))).code).toBe('CERTIFICATE_EXPIRED');
  });

  it('refuses a certificate this TrustChain did not issue', async () => {
    const stranger = await DevCa.openOrCreate(join(tempDir(), 'ca'), { now: new Date(START_MS) });
    const der = stranger.issueLeafCertificate({ service: 'caesar', instance: 'caesar-1', publicKey: keys.tlsKey, falconPublicKey: keys.falcon.publicKey, now: new Date(START_MS) }).der;
    const csr = signedCsr(keys, 'caesar', 'caesar-1');
    expect((await tcError(() => ca.issuer.renew(der, csr.der, csr.falconSignature))).code).toBe('CERTIFICATE_UNKNOWN');
  });
});

describe('reconcileCt', () => {
  /** A certificate recorded in the store as issue() would, but never sent to CT (the crash). */
  function recordOnly(c: TestCa, instance: string): string {
    const names = { service: 'caesar', instance, dnsNames: [], ipAddresses: [] };
    const leaf = c.authority.issueLeaf(createPublicKey(keys.tlsKey), keys.falcon.publicKey, names, c.clock.now(), 24 * HOUR);
    c.store.issueBatch([{ ...leaf, service: 'caesar', instance, kind: 'enroll', issuedAt: c.clock.now() }]);
    return leaf.serial;
  }

  async function logEntryFor(c: TestCa, index: number): Promise<Uint8Array> {
    const [e] = await c.ct.getEntries(index, index);
    const se = decodeMerkleTreeLeaf(e!.leafInput).timestampedEntry.signedEntry;
    if (se.entryType !== LogEntryType.x509_entry) throw new Error('not an x509 entry');
    return se.certificate;
  }

  it('after a crash between the store and CT, appends the recorded certificates on the next start', async () => {
    await enroll();
    const serials = [recordOnly(ca, 'caesar-2'), recordOnly(ca, 'caesar-3')];
    const dir = ca.dir;
    await ca.close();
    ca = await openCa({ dir, clock: ca.clock });
    expect(ca.store.pendingCt().map((r) => r.serial).sort()).toEqual([...serials].sort());
    expect(await ca.issuer.reconcileCt()).toEqual({ found: 0, appended: 2 });
    expect(ca.store.pendingCt()).toEqual([]);
    expect(ca.ct.treeSize).toBe(3);
    for (const s of serials) {
      const row = ca.store.certificate(s)!;
      expect(Buffer.from(await logEntryFor(ca, row.ctIndex!)).equals(Buffer.from(row.der))).toBe(true);
    }
    expect(ca.lines.some((l) => l.msg.startsWith('reconciled recorded certificates'))).toBe(true);
    expect(await ca.issuer.reconcileCt()).toEqual({ found: 0, appended: 0 });
  });

  it('finds certificates already in the log (crash before their index was written) instead of logging them twice', async () => {
    const serial = recordOnly(ca, 'caesar-2');
    const row = ca.store.certificate(serial)!;
    await ca.ct.appendEntry({ entryType: LogEntryType.x509_entry, certificate: row.der }, new Uint8Array(0));
    expect(await ca.issuer.reconcileCt()).toEqual({ found: 1, appended: 0 });
    expect(ca.store.certificate(serial)?.ctIndex).toBe(0);
    expect(ca.ct.treeSize).toBe(1);
  });

  it('reads the whole log tail even when the log returns short pages', async () => {
    const dir = ca.dir;
    await ca.close();
    ca = await openCa({ dir, maxGetEntries: 2 });
    const serials = ['a', 'b', 'c', 'd', 'e'].map((x) => recordOnly(ca, `caesar-${x}`));
    for (const s of serials) await ca.ct.appendEntry({ entryType: LogEntryType.x509_entry, certificate: ca.store.certificate(s)!.der }, new Uint8Array(0));
    expect(await ca.issuer.reconcileCt()).toEqual({ found: 5, appended: 0 });
    expect(ca.ct.treeSize).toBe(5);
  });
});

describe('enroll with an IPv4-mapped address', () => {
  /** A real, correctly signed CSR whose iPAddress SAN is ::ffff:192.0.2.1 (createCsr refuses to make one). */
  function mappedCsr(): Uint8Array {
    const der = createCsr({ service: 'caesar', instance: 'caesar-1', tlsKey: keys.tlsKey, falconPublicKey: keys.falcon.publicKey, ipAddresses: ['2001:db8::1'] });
    const top = children(der, readSingle(der));
    const info = Uint8Array.from(der.subarray(top[0]!.start, top[0]!.end));
    const at = Buffer.from(info).indexOf(Buffer.from(parseIpv6('2001:db8::1')));
    info.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1], at);
    const sig = sign('sha256', info, { key: keys.tlsKey, dsaEncoding: 'der' });
    return encodeTlv(TAG_SEQUENCE, info, der.subarray(top[1]!.start, top[1]!.end), encodeTlv(0x03, Uint8Array.of(0), sig));
  }

  it('is refused as NAME_NOT_ALLOWED (not a signing failure) and burns nothing', async () => {
    const der = mappedCsr();
    expect(parseCsr(der).ipAddresses).toEqual(['::ffff:c000:201']); // parseCsr lets it through as IPv6 text
    const token = mintToken(ca.store, 'caesar', ca.clock.now());
    const e = await tcError(() => ca.issuer.enroll(token, der, nativeFalcon.sign(keys.falcon.secretKey, falconCsrMessage(der))));
    expect(e.code).toBe('NAME_NOT_ALLOWED');
    expect(e.message).toMatch(/IPv4-mapped/);
    expect(ca.store.token(hashToken(token))?.usedAt).toBeNull();
  });
});

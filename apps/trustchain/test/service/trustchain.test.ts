// TrustChain as a running service: a real startTrustChain on [::1]:0 (SQLite, root, file CT log,
// QUIC transport, DNS), driven by real STOQ clients: the admin identity, enrolling clients
// without a certificate, and the identities TrustChain issues. openssl reads the CRL, dig the DNS.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevCa, falconCsrMessage, nativeFalcon, parseHybridCertificate } from '@stoq/core';
import { Status } from '@stoq/rpc';
import { dig } from '../dns/support';
import { captureLogger, nodeKeys, openssl, signedCsr, tempDir } from '../ca/support';
import { startTrustChain } from '../../src/server';
import { M, adminClient, clientOf, crlPath, enroll, enrollingClient, identityOf, rpcError, sha256Hex, startTestTrustChain, type TestTrustChain } from './support';

const CODE = 'trustchain-error-code';
let t: TestTrustChain;
beforeAll(async () => {
  t = await startTestTrustChain();
});
afterAll(async () => {
  await t.tc.close();
});

describe('start', () => {
  it('logs the root fingerprint and serves get_ca to a certificate-less client pinning it', async () => {
    expect(t.lines.find((l) => l.msg === 'TrustChain serving')).toMatchObject({ rootFingerprint: t.tc.rootFingerprint });
    const ca = await enrollingClient(t.tc).rpc.call(M.getCa, {});
    expect(ca.rootFingerprint).toBe(t.tc.rootFingerprint);
    expect(sha256Hex(ca.roots![0]!)).toBe(t.tc.rootFingerprint);
  });

  it('keeps its own and the admin identity in the data dir, recorded like any certificate', () => {
    const own = t.tc.store.certificateByFingerprint(t.tc.identity().fingerprint);
    expect(own).toMatchObject({ service: 'trustchain', instance: 'trustchain-1', kind: 'self' });
    expect(t.tc.store.certificateByFingerprint(t.tc.adminIdentity().fingerprint)).toMatchObject({ service: 'admin', instance: 'admin' });
    expect(existsSync(join(t.dir, 'admin', 'identity', 'tls.key'))).toBe(true);
    expect(existsSync(crlPath(t.dir))).toBe(true);
  });
});

describe('tokens', () => {
  it('are minted by the admin only, never for TrustChain’s own names', async () => {
    const admin = adminClient(t.tc);
    const r = await admin.rpc.call(M.createToken, { service: 'caesar' });
    expect(r.token).toMatch(/^stoqjt_/);
    expect(Number(r.expiresAtMs) - Date.now()).toBeGreaterThan(3500_000);
    for (const service of ['admin', 'trustchain', 'Not A Label']) {
      const e = await rpcError(admin.rpc.call(M.createToken, { service }));
      expect([e.code, e.metadata[CODE]]).toEqual([Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT']);
    }
    expect((await rpcError(admin.rpc.call(M.createToken, { service: 'caesar', ttlSeconds: 8 * 86400 }))).code).toBe(Status.INVALID_ARGUMENT);
    expect((await rpcError(enrollingClient(t.tc).rpc.call(M.createToken, { service: 'caesar' }))).code).toBe(Status.UNAUTHENTICATED);
    const { identity } = await enroll(t.tc, nodeKeys(), 'catalog', 'catalog-1');
    expect((await rpcError(clientOf(t.tc, identity).rpc.call(M.createToken, { service: 'caesar' }))).code).toBe(Status.PERMISSION_DENIED);
  });

  it('enroll another administrator only when asked for (admin: true), under its own instance name, revocable alone', async () => {
    const admin = adminClient(t.tc);
    const refused = await rpcError(admin.rpc.call(M.createToken, { service: 'admin' }));
    expect(refused.message).toMatch(/trustchain token create --admin/);
    expect((await rpcError(admin.rpc.call(M.createToken, { service: 'caesar', admin: true }))).code).toBe(Status.INVALID_ARGUMENT);
    // TrustChain's own admin name is not for a token.
    const { token } = await admin.rpc.call(M.createToken, { service: 'admin', admin: true });
    const anon = enrollingClient(t.tc);
    const own = signedCsr(nodeKeys(), 'admin', 'admin', ['::1']);
    const e = await rpcError(anon.rpc.call(M.enroll, { token: token!, csr: own.der, falconSignature: own.falconSignature }));
    expect(e.metadata[CODE]).toBe('NAME_NOT_ALLOWED');
    await anon.close();
    // Under another name it is an administrator: it mints tokens and lists certificates.
    const { issued, identity } = await enroll(t.tc, nodeKeys(), 'admin', 'admin-cli');
    const second = clientOf(t.tc, identity);
    expect((await second.rpc.call(M.createToken, { service: 'caesar' })).token).toMatch(/^stoqjt_/);
    expect((await second.rpc.call(M.listCertificates, { service: 'admin' })).certificates!.map((c) => c.instance).sort()).toEqual(['admin', 'admin-cli']);
    await second.close();
    // Revoking it leaves TrustChain's own admin working.
    await admin.rpc.call(M.revokeCertificate, { serial: issued.serial });
    expect((await admin.rpc.call(M.createToken, { service: 'caesar' })).token).toMatch(/^stoqjt_/);
    await admin.close();
  });
});

describe('enroll and renew', () => {
  it('enrolls over a certificate-less connection; the identity connects, renews with the same keys and with new ones', async () => {
    const keys = nodeKeys();
    const { issued, identity } = await enroll(t.tc, keys, 'caesar', 'caesar-1');
    const leaf = parseHybridCertificate(issued.chain![0]!);
    expect(leaf.dnsNames).toEqual(['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar']);
    expect(issued.ct?.sct?.length).toBeGreaterThan(0);
    expect(t.tc.store.certificate(issued.serial!)).toMatchObject({ kind: 'enroll', service: 'caesar' });

    const caesar = clientOf(t.tc, identity);
    const same = signedCsr(keys, 'caesar', 'caesar-1', ['::1']);
    const renewed = await caesar.rpc.call(M.renewCertificate, { csr: same.der, falconSignature: same.falconSignature });
    expect(renewed.serial).not.toBe(issued.serial);
    expect(t.tc.store.certificate(renewed.serial!)?.kind).toBe('renew');

    const newKeys = nodeKeys();
    const rekey = signedCsr(newKeys, 'caesar', 'caesar-1', ['::1']);
    const rekeyed = await caesar.rpc.call(M.renewCertificate, { csr: rekey.der, falconSignature: rekey.falconSignature });
    expect(Buffer.from(parseHybridCertificate(rekeyed.chain![0]!).falconPublicKey)).toEqual(Buffer.from(newKeys.falcon.publicKey));
    // The rekeyed identity works on a new connection.
    expect((await clientOf(t.tc, identityOf(newKeys, 'caesar', 'caesar-1', rekeyed)).rpc.call(M.getCa, {})).rootFingerprint).toBe(t.tc.rootFingerprint);

    // Renewal keeps service and instance.
    const other = signedCsr(keys, 'ledger', 'ledger-1');
    const e = await rpcError(caesar.rpc.call(M.renewCertificate, { csr: other.der, falconSignature: other.falconSignature }));
    expect([e.code, e.metadata[CODE]]).toEqual([Status.INVALID_ARGUMENT, 'NAME_NOT_ALLOWED']);
    expect((await rpcError(enrollingClient(t.tc).rpc.call(M.renewCertificate, { csr: same.der, falconSignature: same.falconSignature }))).code).toBe(Status.UNAUTHENTICATED);
  });

  it('refuses every bad enrollment with its code, burns the token for none of them, and refuses a replay', async () => {
    const admin = adminClient(t.tc);
    const anon = enrollingClient(t.tc);
    const { token } = await admin.rpc.call(M.createToken, { service: 'caesar' });
    const keys = nodeKeys();
    const good = signedCsr(keys, 'caesar', 'caesar-2');
    const tampered = Uint8Array.from(good.der);
    tampered[tampered.length - 5]! ^= 0xff; // inside the CSR's ECDSA signature
    const tooMany = signedCsr(keys, 'caesar', 'caesar-2', Array.from({ length: 9 }, (_, i) => `2001:db8::${i + 1}`));
    const catalog = signedCsr(keys, 'catalog', 'catalog-2');
    const refusals: Array<[string, Status, Uint8Array, Uint8Array]> = [
      ['CSR_REJECTED', Status.INVALID_ARGUMENT, Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00]), good.falconSignature],
      ['CSR_REJECTED', Status.INVALID_ARGUMENT, tampered, good.falconSignature],
      ['FALCON_PROOF_INVALID', Status.INVALID_ARGUMENT, good.der, tooMany.falconSignature], // proof over another CSR
      ['NAME_NOT_ALLOWED', Status.INVALID_ARGUMENT, tooMany.der, tooMany.falconSignature], // extra SANs
      ['TOKEN_WRONG_SERVICE', Status.PERMISSION_DENIED, catalog.der, catalog.falconSignature], // another service's name
    ];
    for (const [code, status, csr, falconSignature] of refusals) {
      const e = await rpcError(anon.rpc.call(M.enroll, { token: token!, csr, falconSignature }));
      expect([e.metadata[CODE], e.code]).toEqual([code, status]);
    }
    await anon.rpc.call(M.enroll, { token: token!, csr: good.der, falconSignature: good.falconSignature });
    const replay = await rpcError(anon.rpc.call(M.enroll, { token: token!, csr: good.der, falconSignature: good.falconSignature }));
    expect([replay.code, replay.metadata[CODE]]).toEqual([Status.PERMISSION_DENIED, 'TOKEN_USED']);
    const unknown = await rpcError(anon.rpc.call(M.enroll, { token: 'stoqjt_nope', csr: good.der, falconSignature: good.falconSignature }));
    expect(unknown.metadata[CODE]).toBe('TOKEN_UNKNOWN');
  });

  it('answers issue_certificate with FAILED_PRECONDITION after checking the CSR, never with a certificate', async () => {
    const anon = enrollingClient(t.tc);
    const keys = nodeKeys();
    const csr = signedCsr(keys, 'miner', 'miner-1');
    const e = await rpcError(anon.rpc.call(M.issueCertificate, { csr: csr.der, falconSignature: csr.falconSignature, proofSet: Uint8Array.of(1, 2, 3) }));
    expect([e.code, e.metadata[CODE]]).toEqual([Status.FAILED_PRECONDITION, 'NO_VALIDATOR_SET']);
    expect(e.message).toMatch(/no HyperMesh validator set configured/);
    const bad = await rpcError(anon.rpc.call(M.issueCertificate, { csr: csr.der, falconSignature: nativeFalcon.sign(nodeKeys().falcon.secretKey, falconCsrMessage(csr.der)), proofSet: Uint8Array.of(1) }));
    expect(bad.metadata[CODE]).toBe('FALCON_PROOF_INVALID');
    expect((await rpcError(anon.rpc.call(M.issueCertificate, { csr: csr.der, falconSignature: csr.falconSignature }))).code).toBe(Status.INVALID_ARGUMENT);
    // Never an administrator or TrustChain's own name, whatever the proofs.
    for (const [service, instance] of [['admin', 'admin-x'], ['trustchain', 'trustchain-2']]) {
      const reserved = signedCsr(nodeKeys(), service, instance);
      const refused = await rpcError(anon.rpc.call(M.issueCertificate, { csr: reserved.der, falconSignature: reserved.falconSignature, proofSet: Uint8Array.of(1, 2, 3) }));
      expect(refused.metadata[CODE]).toBe('NAME_NOT_ALLOWED');
    }
  });
});

describe('revocation', () => {
  it('lets the holder revoke itself, refuses another service, streams the new list, publishes the CRL and refuses the revoked certificate', async () => {
    const keys = nodeKeys();
    const { issued, identity } = await enroll(t.tc, keys, 'ledger', 'ledger-1');
    const { issued: caesarCert, identity: caesarId } = await enroll(t.tc, nodeKeys(), 'caesar', 'caesar-9');
    const ledger = clientOf(t.tc, identity);
    const caesar = clientOf(t.tc, caesarId);
    const admin = adminClient(t.tc);

    // A watch opened before the revocation.
    const before = await ledger.rpc.call(M.getRevocations, {});
    const known = Number(before.version);
    const abort = new AbortController();
    const watched = (async () => {
      for await (const list of enrollingClient(t.tc).rpc.serverStream(M.revocations, { knownVersion: known }, { signal: abort.signal })) return list;
      return null;
    })();

    const denied = await rpcError(caesar.rpc.call(M.revokeCertificate, { serial: issued.serial!, reason: 1 }));
    expect([denied.code, denied.metadata[CODE]]).toEqual([Status.PERMISSION_DENIED, 'NOT_AUTHORIZED']);
    expect(denied.message).toMatch(/caesar\/caesar-9.*ledger\/ledger-1/);
    const unknown = await rpcError(admin.rpc.call(M.revokeCertificate, { serial: 'abcdef0123', reason: 1 }));
    expect([unknown.code, unknown.metadata[CODE]]).toEqual([Status.NOT_FOUND, 'CERTIFICATE_UNKNOWN']);
    for (const reason of [7, 8, 11]) expect((await rpcError(ledger.rpc.call(M.revokeCertificate, { serial: issued.serial!, reason }))).code).toBe(Status.INVALID_ARGUMENT);

    const r = await ledger.rpc.call(M.revokeCertificate, { serial: issued.serial!, reason: 1 });
    expect(Number(r.version)).toBe(known + 1);
    const list = await watched;
    abort.abort();
    expect(Number(list!.version)).toBe(known + 1);
    expect(list!.entries!.map((e) => e.serial)).toContain(issued.serial);
    // Revoking again answers with the same revocation (the method is idempotent).
    expect(Number((await admin.rpc.call(M.revokeCertificate, { serial: issued.serial!, reason: 1 })).version)).toBe(known + 1);

    // The CRL: by RPC and in the data dir, readable by openssl, numbered with the list version.
    const crl = await enrollingClient(t.tc).rpc.call(M.getCrl, {});
    expect(Number(crl.version)).toBe(known + 1);
    const dir = tempDir();
    writeFileSync(join(dir, 'crl.der'), crl.crl!);
    const text = await openssl(['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-text', '-noout']);
    expect(text).toMatch(new RegExp(`Serial Number: ${issued.serial!.toUpperCase()}`));
    expect(text).toMatch(/Key Compromise/);
    expect(text).toMatch(new RegExp(`X509v3 CRL Number: \\n\\s*${known + 1}`));
    const fileText = await openssl(['crl', '-inform', 'DER', '-in', crlPath(t.dir), '-text', '-noout']);
    expect(fileText).toMatch(new RegExp(`Serial Number: ${issued.serial!.toUpperCase()}`));

    // The revoked holder: its open connection is refused per call, a new handshake is refused.
    const csr = signedCsr(keys, 'ledger', 'ledger-1');
    const renew = await rpcError(ledger.rpc.call(M.renewCertificate, { csr: csr.der, falconSignature: csr.falconSignature }));
    expect([renew.code, renew.metadata[CODE]]).toEqual([Status.FAILED_PRECONDITION, 'CERTIFICATE_REVOKED']);
    await expect(clientOf(t.tc, identity).transport.connect(t.tc.stoqAddress)).rejects.toThrow(/revoked/);
    // Others are unaffected.
    expect((await caesar.rpc.call(M.getCa, {})).rootFingerprint).toBe(t.tc.rootFingerprint);
    expect(caesarCert.serial).toBeDefined();
  });
});

describe('validate_certificate', () => {
  it('names each check: good, revoked, foreign chain', async () => {
    const anon = enrollingClient(t.tc);
    const { issued } = await enroll(t.tc, nodeKeys(), 'ngauge', 'ngauge-1');
    const good = await anon.rpc.call(M.validateCertificate, { chain: issued.chain!, ct: issued.ct! });
    expect(good.valid).toBe(true);
    expect(good.checks!.map((c) => [c.check, c.ok])).toEqual([
      ['classical_chain', true],
      ['falcon_chain', true],
      ['validity', true],
      ['revocation', true],
      ['ct_inclusion', true],
    ]);
    expect(good).toMatchObject({ service: 'ngauge', instance: 'ngauge-1', serial: issued.serial });
    // Without an SCT the log is searched.
    expect((await anon.rpc.call(M.validateCertificate, { chain: [issued.chain![0]!] })).valid).toBe(true);

    await adminClient(t.tc).rpc.call(M.revokeCertificate, { serial: issued.serial!, reason: 4 });
    const revoked = await anon.rpc.call(M.validateCertificate, { chain: issued.chain!, ct: issued.ct! });
    expect(revoked.valid).toBe(false);
    expect(revoked.checks!.find((c) => c.check === 'revocation')).toMatchObject({ ok: false, detail: expect.stringMatching(/superseded/) });

    const foreign = await DevCa.openOrCreate(join(tempDir(), 'ca'));
    const keys = nodeKeys();
    const leafPem = foreign.issueLeaf({ service: 'caesar', instance: 'caesar-1', publicKey: keys.tlsKey, falconPublicKey: keys.falcon.publicKey });
    const leafDer = Buffer.from(leafPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const v = await anon.rpc.call(M.validateCertificate, { chain: [leafDer, foreign.rootDer] });
    expect(v.valid).toBe(false);
    const checks = Object.fromEntries(v.checks!.map((c) => [c.check, c.ok]));
    expect(checks).toMatchObject({ classical_chain: false, falcon_chain: false, validity: true, revocation: false, ct_inclusion: false });
    expect((await rpcError(anon.rpc.call(M.validateCertificate, { chain: [] }))).code).toBe(Status.INVALID_ARGUMENT);
    expect((await rpcError(anon.rpc.call(M.validateCertificate, { chain: [Uint8Array.of(1, 2, 3)] }))).code).toBe(Status.INVALID_ARGUMENT);
  });
});

describe('discovery', () => {
  it('registers a caller under its own name only; dig and resolve_dns find it; deregister withdraws it', async () => {
    const { identity } = await enroll(t.tc, nodeKeys(), 'caesar', 'caesar-5');
    const caesar = clientOf(t.tc, identity);
    const res = await caesar.rpc.call(M.registerService, { service: 'caesar', instance: 'caesar-5', address: '::1', port: 4433, leaseSeconds: 60 });
    expect(res.names).toEqual(['_stoq._udp.caesar.hypermesh.', 'caesar-5.caesar.hypermesh.']);
    expect(t.tc.store.leases().find((l) => l.instance === 'caesar-5')).toMatchObject({ address: '::1', port: 4433 });

    for (const [service, instance] of [['trustchain', 'trustchain-1'], ['caesar', 'caesar-6']] as const) {
      const e = await rpcError(caesar.rpc.call(M.registerService, { service, instance, address: '::1', port: 4433 }));
      expect([e.code, e.metadata[CODE]]).toEqual([Status.PERMISSION_DENIED, 'NOT_AUTHORIZED']);
      expect(e.message).toContain(`caesar/caesar-5 may register only itself, not ${service}/${instance}`);
    }
    expect((await rpcError(caesar.rpc.call(M.registerService, { service: 'caesar', instance: 'caesar-5', address: '127.0.0.1', port: 4433 }))).code).toBe(Status.INVALID_ARGUMENT);
    expect((await rpcError(caesar.rpc.call(M.registerService, { service: 'caesar', instance: 'caesar-5', address: '::1', port: 4433, leaseSeconds: 4 }))).code).toBe(Status.INVALID_ARGUMENT);
    expect((await rpcError(enrollingClient(t.tc).rpc.call(M.registerService, { service: 'caesar', instance: 'caesar-5', address: '::1', port: 1 }))).code).toBe(Status.UNAUTHENTICATED);

    const port = t.tc.dnsAddress.slice(t.tc.dnsAddress.lastIndexOf(':') + 1);
    const d = await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.caesar.hypermesh']);
    expect(d.status).toBe('NOERROR');
    expect(d.section('ANSWER').map((r) => r.slice(4).join(' '))).toEqual(['0 1 4433 caesar-5.caesar.hypermesh.']);
    const own = await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.trustchain.hypermesh']);
    expect(own.section('ANSWER')[0]!.slice(4).join(' ')).toBe(`0 1 ${t.tc.stoqAddress.slice(t.tc.stoqAddress.lastIndexOf(':') + 1)} trustchain-1.trustchain.hypermesh.`);

    const resolved = await enrollingClient(t.tc).rpc.call(M.resolveDns, { name: '_stoq._udp.caesar.hypermesh.', type: 'SRV' });
    expect(resolved.rcode).toBe('NOERROR');
    expect(resolved.answers!.map((a) => a.data)).toEqual(['0 1 4433 caesar-5.caesar.hypermesh.']);
    expect(resolved.additionals!.map((a) => a.data)).toEqual(['::1']);

    expect((await caesar.rpc.call(M.deregisterService, { service: 'caesar', instance: 'caesar-5' })).removed).toBe(true);
    expect((await enrollingClient(t.tc).rpc.call(M.resolveDns, { name: '_stoq._udp.caesar.hypermesh', type: 'SRV' })).rcode).toBe('NXDOMAIN');
  });
});

describe('admin listing', () => {
  it('lists and shows certificates to the admin only', async () => {
    const admin = adminClient(t.tc);
    const all = await admin.rpc.call(M.listCertificates, { service: 'caesar' });
    expect(all.certificates!.length).toBeGreaterThan(0);
    expect(all.certificates!.every((c) => c.service === 'caesar')).toBe(true);
    const first = all.certificates![0]!;
    expect((await admin.rpc.call(M.getCertificate, { id: first.fingerprint! })).serial).toBe(first.serial);
    expect((await admin.rpc.call(M.getCertificate, { id: first.serial! })).fingerprint).toBe(first.fingerprint);
    expect((await rpcError(admin.rpc.call(M.getCertificate, { id: 'ff' }))).code).toBe(Status.NOT_FOUND);
    expect((await rpcError(admin.rpc.call(M.listCertificates, { limit: 5000 }))).code).toBe(Status.INVALID_ARGUMENT);
  });
});

describe('restart', () => {
  it('keeps the root, the identities, the certificates, burned tokens and live leases', async () => {
    const first = await startTestTrustChain();
    const keys = nodeKeys();
    const { token, issued, identity } = await enroll(first.tc, keys, 'caesar', 'caesar-1');
    await clientOf(first.tc, identity).rpc.call(M.registerService, { service: 'caesar', instance: 'caesar-1', address: '::1', port: 4433, leaseSeconds: 600 });
    const root = first.tc.rootFingerprint;
    const own = first.tc.identity().fingerprint;
    await first.tc.close();

    const again = await startTestTrustChain(first.dir);
    try {
      expect(again.tc.rootFingerprint).toBe(root);
      expect(again.tc.identity().fingerprint).toBe(own);
      expect(readFileSync(join(first.dir, 'ca', 'root.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
      const admin = adminClient(again.tc);
      expect((await admin.rpc.call(M.getCertificate, { id: issued.serial! })).fingerprint).toBe(issued.fingerprint);
      const csr = signedCsr(keys, 'caesar', 'caesar-1');
      const e = await rpcError(enrollingClient(again.tc).rpc.call(M.enroll, { token, csr: csr.der, falconSignature: csr.falconSignature }));
      expect(e.metadata[CODE]).toBe('TOKEN_USED');
      const resolved = await enrollingClient(again.tc).rpc.call(M.resolveDns, { name: '_stoq._udp.caesar.hypermesh', type: 'SRV' });
      expect(resolved.answers!.map((a) => a.data)).toEqual(['0 1 4433 caesar-1.caesar.hypermesh.']);
      // The enrolled identity still works against the restarted TrustChain.
      expect((await clientOf(again.tc, identity).rpc.call(M.getCa, {})).rootFingerprint).toBe(root);
    } finally {
      await again.tc.close();
    }
  });
});

describe('own identity renewal', () => {
  it('renews TrustChain’s leaf at 2/3 of its life without dropping connections; new handshakes see the new certificate', async () => {
    const { logger, lines } = captureLogger();
    const renewed = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (lines.some((l) => l.msg === 'TrustChain identity renewed')) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    // 9 s leaves: renewal after about 6 s.
    const tc = await startTrustChain({ dataDir: tempDir(), bind: '[::1]:0', dnsBind: '[::1]:0', logger, lifetimeMs: 9000 });
    try {
      const first = tc.identity().fingerprint;
      const { identity } = await enroll(tc, nodeKeys(), 'caesar', 'caesar-1');
      const open = clientOf(tc, identity);
      const conn = await open.transport.connect(tc.stoqAddress);
      expect(conn.peer.fingerprint).toBe(first);
      // A pooled connection of an RpcClient, opened before the renewal.
      expect((await open.rpc.call(M.getCa, {})).rootFingerprint).toBe(tc.rootFingerprint);
      await renewed;
      expect(tc.identity().fingerprint).not.toBe(first);
      expect((await open.rpc.call(M.getCa, {})).rootFingerprint).toBe(tc.rootFingerprint);
      const fresh = await clientOf(tc, tc.adminIdentity()).transport.connect(tc.stoqAddress);
      expect(fresh.peer.fingerprint).toBe(tc.identity().fingerprint);
      expect(tc.store.certificateByFingerprint(tc.identity().fingerprint)?.kind).toBe('self');
      conn.close(0, 'done');
      fresh.close(0, 'done');
    } finally {
      await tc.close();
    }
  }, 30_000);
});

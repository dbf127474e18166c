// A real TrustChain on a data dir made by `ca init --root-offline` (no root key in it): clients
// pin only the root's fingerprint, every chain is leaf + intermediate + root, the handshake carries
// the intermediate both ways (enrolling client, mutual TLS with an issued identity), the CRL and
// the revocation list are signed by the intermediate and check out against the root (openssl
// -crl_check; @stoq/service's rootListVerifier), validate_certificate completes a lone leaf.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeFalcon, parseHybridCertificate, verifyAltSignatureChain } from '@stoq/core';
import { trustchain } from '@stoq/protos';
import { RevocationSet, rootListVerifier } from '@stoq/service';
import { initCa } from '../../src/ca/ca-setup';
import { startTrustChain, type RunningTrustChain } from '../../src/server';
import { captureLogger, certPem, nodeKeys, openssl, signedCsr, tempDir } from '../ca/support';
import { M, adminClient, clientOf, enroll, enrollingClient, sha256Hex } from './support';

let tc: RunningTrustChain;
let dataDir: string;
let rootFingerprint: string;
beforeAll(async () => {
  dataDir = join(tempDir('trustchain-int-'), 'tc');
  const init = await initCa({ dataDir, rootOffline: true, rootKeys: { insecureNoPassword: true } });
  rootFingerprint = init.rootFingerprint;
  expect(existsSync(join(dataDir, 'ca'))).toBe(false);
  tc = await startTrustChain({ dataDir, bind: '[::1]:0', dnsBind: '[::1]:0', logger: captureLogger().logger });
});
afterAll(async () => {
  await tc.close();
});

const pemFiles = (chain: readonly Uint8Array[]): { leaf: string; intermediate: string; root: string } => {
  const dir = tempDir();
  const f = { leaf: join(dir, 'leaf.pem'), intermediate: join(dir, 'intermediate.pem'), root: join(dir, 'root.pem') };
  writeFileSync(f.leaf, certPem(chain[0]!));
  writeFileSync(f.intermediate, certPem(chain[1]!));
  writeFileSync(f.root, certPem(chain[2]!));
  return f;
};

it('serves with the root key offline: get_ca names the root and the intermediate; its own identity chains through the intermediate', async () => {
  expect(tc.rootFingerprint).toBe(rootFingerprint);
  const ca = await enrollingClient(tc).rpc.call(M.getCa, {});
  expect(ca.rootFingerprint).toBe(rootFingerprint);
  expect(sha256Hex(ca.roots![0]!)).toBe(rootFingerprint);
  expect(ca.intermediates).toHaveLength(1);
  expect(parseHybridCertificate(ca.intermediates![0]!)).toMatchObject({ commonName: 'TrustChain Intermediate CA', isCa: true, pathLen: 0 });
  expect(tc.identity().certChainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
});

it('enrolls a client that pins only the root fingerprint; the identity calls with mutual TLS, renews, and its chains pass openssl and the FALCON check', async () => {
  const keys = nodeKeys();
  const { issued, identity } = await enroll(tc, keys, 'caesar', 'caesar-1');
  const chain = issued.chain!;
  expect(chain).toHaveLength(3);
  expect(sha256Hex(chain[2]!)).toBe(rootFingerprint);
  const f = pemFiles(chain);
  expect(await openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', f.root, '-untrusted', f.intermediate, f.leaf])).toContain('leaf.pem: OK');
  expect(verifyAltSignatureChain(chain, [chain[2]!], nativeFalcon)).toHaveLength(3);

  // Mutual TLS: TrustChain verifies the client chain (leaf + intermediate) against the root.
  const caesar = clientOf(tc, identity);
  expect((await caesar.rpc.call(M.getCa, {})).rootFingerprint).toBe(rootFingerprint);
  const csr = signedCsr(keys, 'caesar', 'caesar-1', ['::1']);
  const renewed = await caesar.rpc.call(M.renewCertificate, { csr: csr.der, falconSignature: csr.falconSignature });
  expect(renewed.chain).toHaveLength(3);
  expect(Buffer.from(renewed.chain![1]!).equals(Buffer.from(chain[1]!))).toBe(true);

  // CT add_chain takes the chain to the root through the intermediate (and refuses it without).
  const ctAdd = await caesar.rpc.call(trustchain.CtMethods.addChain, { chain: [chain[0]!, chain[1]!] });
  expect(ctAdd.sct?.length).toBeGreaterThan(0);
  await expect(caesar.rpc.call(trustchain.CtMethods.addChain, { chain: [chain[0]!] })).rejects.toThrow();

  // validate_certificate: the full chain, and the leaf alone (completed with the intermediate).
  const anon = enrollingClient(tc);
  for (const given of [chain, [chain[0]!], [chain[0]!, chain[2]!]]) {
    const v = await anon.rpc.call(M.validateCertificate, { chain: given });
    expect(v.checks!.map((c) => [c.check, c.ok])).toEqual([
      ['classical_chain', true],
      ['falcon_chain', true],
      ['validity', true],
      ['revocation', true],
      ['ct_inclusion', true],
    ]);
  }
});

it('signs the CRL and the revocation list with the intermediate: openssl -crl_check and rootListVerifier accept them', async () => {
  const { issued, identity: revokedIdentity } = await enroll(tc, nodeKeys(), 'ledger', 'ledger-1');
  const { issued: kept } = await enroll(tc, nodeKeys(), 'ledger', 'ledger-2');
  await adminClient(tc).rpc.call(M.revokeCertificate, { serial: issued.serial!, reason: trustchain.RevocationReason.KEY_COMPROMISE });

  const crl = await enrollingClient(tc).rpc.call(M.getCrl, {});
  const f = pemFiles(issued.chain!);
  const crlFile = join(tempDir(), 'crl.der');
  writeFileSync(crlFile, crl.crl!);
  const text = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
  expect(text).toMatch(/Issuer: O ?= ?STOQ, CN ?= ?TrustChain Intermediate CA/);
  const crlPem = join(tempDir(), 'crl.pem');
  await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-out', crlPem]);
  // The CRL's signature verifies under the intermediate (openssl crl -CAfile).
  expect(await openssl(['crl', '-in', crlPem, '-noout', '-CAfile', f.intermediate])).toMatch(/verify OK/);
  await expect(openssl(['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', f.root, '-untrusted', f.intermediate, f.leaf])).rejects.toThrow(/certificate revoked/);
  const g = pemFiles(kept.chain!);
  expect(await openssl(['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', g.root, '-untrusted', g.intermediate, g.leaf])).toContain('leaf.pem: OK');

  const list = await enrollingClient(tc).rpc.call(M.getRevocations, {});
  expect(list.signerChain).toHaveLength(1);
  const set = new RevocationSet(rootListVerifier(issued.chain![2]!));
  expect(set.apply(list)).toContain(issued.fingerprint);
  // The revoked holder cannot open a new connection.
  await expect(clientOf(tc, revokedIdentity).transport.connect(tc.stoqAddress)).rejects.toThrow(/revoked/);
});

#!/usr/bin/env node
// Time per operation of the identity code a CA and a handshake run per certificate: reading a
// hybrid certificate and a CSR, issuing a leaf, the signatures inside it. No peer: these are the
// figures behind TrustChain's enrollment profile (apps/trustchain/README.md) and
// libs/stoq-core/README.md's "reading is by byte offset". Prints one JSON line per operation.
//
//   node libs/stoq-core/bench/identity-ops.mjs
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const core = require('@stoq/core');
const native = require('@stoq/native');

function time(bench, n, fn) {
  for (let i = 0; i < Math.min(n, 50); i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  console.log(JSON.stringify({ bench, unit: 'ms/op', value: Math.round(((performance.now() - t0) / n) * 1000) / 1000, n }));
}

const dir = mkdtempSync(join(tmpdir(), 'identity-ops-'));
try {
  const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
  const falcon = core.nativeFalcon.keypair();
  const tls = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = core.createCsr({ service: 'bench', instance: 'bench-1', tlsKey: tls.privateKey, falconPublicKey: falcon.publicKey });
  const parsed = core.parseCsr(csr);
  const leaf = () => ca.issueLeafCertificate({ service: 'bench', instance: 'bench-1', publicKey: parsed.publicKey, falconPublicKey: parsed.falconPublicKey, dnsNames: [], ipAddresses: [], notBefore: new Date(), notAfter: new Date(Date.now() + 3_600_000) });
  const der = leaf().der;
  const msg = Buffer.alloc(1500, 7);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const signer = native.EcdsaSigner.fromPkcs8(p384.privateKey.export({ type: 'pkcs8', format: 'der' }));
  const falconSig = core.nativeFalcon.sign(falcon.secretKey, msg);
  time('identity.parse_hybrid_certificate', 2000, () => core.parseHybridCertificate(der));
  time('identity.parse_csr', 1000, () => core.parseCsr(csr));
  time('identity.issue_leaf', 300, leaf);
  time('identity.p384_sign_aws_lc', 2000, () => signer.sign(msg));
  time('identity.p384_sign_node_openssl', 500, () => sign('sha384', msg, p384.privateKey));
  time('identity.falcon1024_sign', 300, () => core.nativeFalcon.sign(falcon.secretKey, msg));
  time('identity.falcon1024_verify', 2000, () => core.nativeFalcon.verify(falcon.publicKey, msg, falconSig));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

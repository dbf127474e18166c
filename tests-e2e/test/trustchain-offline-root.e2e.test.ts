// The step-ca shaped flow across real processes: `trustchain ca init --root-offline` puts the
// root key outside the data dir; `trustchain serve` runs on the intermediate alone; `stoq node`
// enrolls (pinning only the root fingerprint) and is called over STOQ by a client that trusts
// only the root: both handshake directions carry leaf + intermediate (classical and FALCON
// chains). `stoq verify-cert` audits the node's certificate, and a revocation (signed by the
// intermediate) reaches the node's peer within a second.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList } from '@stoq/core';
import { RpcClient, StaticResolver } from '@stoq/rpc';
import { NodeMethods } from '../../apps/stoq-cli/src/node.proto';
import { StoqProcess, runStoq, runTrustChain, writeServiceConfig } from './support';

jest.setTimeout(120_000);

let dir: string;
let tcDir: string;
let rootDir: string;
let tc: StoqProcess;
let stoqAddress: string;
let dnsAddress: string;
let rootFingerprint: string;
const nodes: StoqProcess[] = [];

/** Every file under `d`, recursively. */
function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-tc-offline-'));
  tcDir = join(dir, 'trustchain');
  rootDir = join(dir, 'offline-root');
  // The offline root's keys are encrypted with a password (read from a file, as openssl -passin does).
  const passwordFile = join(dir, 'root-password');
  writeFileSync(passwordFile, 'e2e root password\n', { mode: 0o600 });
  const init = await runTrustChain(['ca', 'init', '--root-offline', '--root-dir', rootDir, '--password-file', passwordFile, '--json', '--data-dir', tcDir], dir);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  const r = JSON.parse(init.stdout) as { root_fingerprint: string; root_dir: string; root_offline: boolean; root_encrypted: boolean };
  expect(r).toMatchObject({ root_dir: rootDir, root_offline: true, root_encrypted: true });
  rootFingerprint = r.root_fingerprint;
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  const ready = await tc.waitFor((l) => l.msg === 'trustchain serve ready');
  stoqAddress = ready.stoq as string;
  dnsAddress = ready.dns as string;
  expect(ready.rootFingerprint).toBe(rootFingerprint);
});

afterAll(async () => {
  for (const n of nodes) await n.stop();
  expect(await tc.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

async function startNode(name: string): Promise<{ node: StoqProcess; address: string; home: string }> {
  const t = await runTrustChain(['token', 'create', '--service', 'node', '--ttl', '10m', '--data-dir', tcDir], dir);
  expect(t.code).toBe(0);
  const home = join(dir, name);
  writeServiceConfig(home, 'stoq.toml', name, { rootFingerprint, stoq: stoqAddress, dns: dnsAddress });
  const node = StoqProcess.start(['node', '--config', 'stoq.toml'], home, { env: { STOQ_JOIN_TOKEN: t.stdout.trim() } });
  nodes.push(node);
  const ready = await node.waitFor((l) => l.msg === 'stoq node listening');
  return { node, address: ready.address as string, home };
}

/** A client identity trusting only the root (TrustChain's admin identity: its trust roots are the root alone). */
async function rootPinnedClient(): Promise<NodeIdentity> {
  const dataDir = join(tcDir, 'admin');
  const identity = await NodeIdentity.loadOrCreate({ dataDir, service: 'admin', instance: 'admin', ca: null, ipAddresses: ['::1'] });
  const roots = pemToDerList(identity.trustRootsPem, 'CERTIFICATE', 'trust roots');
  expect(roots.map((d) => createHash('sha256').update(d).digest('hex'))).toEqual([rootFingerprint]);
  return identity;
}

test('serve runs with no root key in its data dir; a node enrolls and gets leaf + intermediate + root', async () => {
  const files = filesUnder(tcDir).map((p) => p.slice(tcDir.length + 1));
  expect(files.filter((f) => /root\.key|root-falcon\.key/.test(f))).toEqual([]);
  expect(files).toContain(join('intermediate', 'intermediate.key'));
  expect(readdirSync(rootDir).sort()).toEqual(['root-falcon.key', 'root-falcon.pub', 'root.key', 'root.pem']);
  expect(readFileSync(join(rootDir, 'root.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  expect(readFileSync(join(rootDir, 'root-falcon.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED FALCON-1024 SECRET KEY-----/);

  const a = await startNode('node-a');
  const chainPem = readFileSync(join(a.home, 'data', NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8');
  const chain = pemToDerList(chainPem, 'CERTIFICATE', 'chain').map(parseHybridCertificate);
  expect(chain.map((c) => c.commonName)).toEqual(['node-a', 'TrustChain Intermediate CA', 'TrustChain Root CA']);
  expect(chain[2]!.fingerprintSha256).toBe(rootFingerprint);

  // get_ca over STOQ names the intermediate.
  const ca = await runStoq(['call', 'trustchain/get_ca', '--dns', dnsAddress, '--identity', join(tcDir, 'admin')], dir);
  expect(ca.stderr).toBe('');
  const got = JSON.parse(ca.stdout) as { rootFingerprint: string; intermediates: string[] };
  expect(got.rootFingerprint).toBe(rootFingerprint);
  expect(got.intermediates).toHaveLength(1);
});

test('a client trusting only the root calls the node over STOQ (mutual TLS, FALCON chains through the intermediate); stoq verify-cert accepts the node certificate', async () => {
  const a = await startNode('node-b');
  const transport = StoqTransport.create({ identity: await rootPinnedClient(), bind: '[::]:0' });
  try {
    const conn = await transport.connect(a.address, { serverName: 'node.hypermesh', expectedService: 'node' });
    expect(conn.peer).toMatchObject({ service: 'node', instance: 'node-b' });
    const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ node: [a.address] }), retry: { maxAttempts: 1 } });
    await expect(rpc.call(NodeMethods.echo, { text: 'through the intermediate' })).resolves.toMatchObject({ text: 'through the intermediate', instance: 'node-b' });
    rpc.close();
    conn.close(0, 'done');
  } finally {
    await transport.close();
  }

  const certFile = join(a.home, 'data', NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain);
  const verify = await runStoq(['verify-cert', certFile, '--dns', dnsAddress, '--identity', join(tcDir, 'admin'), '--json'], dir);
  expect(verify.stderr).toBe('');
  const verdict = JSON.parse(verify.stdout) as { valid: boolean; checks: Array<{ check: string; ok: boolean; detail: string }> };
  expect(verdict.checks.map((c) => [c.check, c.ok])).toEqual([
    ['classical_chain', true],
    ['falcon_chain', true],
    ['validity', true],
    ['revocation', true],
    ['ct_inclusion', true],
    ['consensus_approval', true],
  ]);
  expect(verify.code).toBe(0);
});

test('a revocation signed by the intermediate reaches the node’s peer within a second', async () => {
  const x = await startNode('node-x');
  const y = await startNode('node-y');
  const chainPem = readFileSync(join(x.home, 'data', NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8');
  const leaf = parseHybridCertificate(pemToDerList(chainPem, 'CERTIFICATE', 'chain')[0]!);
  const revoke = await runTrustChain(['revoke', leaf.serialNumber, '--reason', 'key-compromise', '--data-dir', tcDir], dir);
  expect(revoke.code).toBe(0);
  const revokedAt = await tc.waitFor((l) => l.msg === 'certificate revoked' && l.serial === leaf.serialNumber);
  const refusing = await y.node.waitFor((l) => l.msg === 'certificates revoked: refusing their holders' && (l.revoked as string[]).includes(leaf.fingerprintSha256));
  expect((refusing.time as number) - (revokedAt.time as number)).toBeLessThan(1000);
  // The peer never saw an unverifiable list.
  expect(y.node.lines.some((l) => /REVOCATION_LIST_INVALID|not signed by the pinned/.test(JSON.stringify(l)))).toBe(false);
});

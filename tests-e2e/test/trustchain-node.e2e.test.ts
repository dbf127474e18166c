// Issue 9's "done when", across real processes: `trustchain serve` starts from nothing but its
// data dir; `stoq node` (on @stoq/service) enrolls with a join token, registers, is found by
// real `dig` and by `stoq call` by name, renews live while a call stays open on an old
// connection, is revoked and then refused by its peers within a second.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList, type DialedConnection } from '@stoq/core';
import { RpcClient, StaticResolver } from '@stoq/rpc';
import { NodeMethods } from '../../apps/stoq-cli/src/node.proto';
import { StoqProcess, runStoq, runTrustChain, until, writeServiceConfig, type LogLine } from './support';

const run = promisify(execFile);
jest.setTimeout(120_000);

/** Leaves live 24 s, so renewal (at 2/3 of notBefore..notAfter) comes ~15 s after issuance. */
const CERT_LIFETIME = '24s';

let dir: string;
let tcDir: string;
let tc: StoqProcess;
let stoqAddress: string;
let dnsAddress: string;
let dnsPort: string;
let rootFingerprint: string;
const nodes: StoqProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-tc-e2e-'));
  tcDir = join(dir, 'trustchain');
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0', '--cert-lifetime', CERT_LIFETIME], dir);
  const ready = await tc.waitFor((l) => l.msg === 'trustchain serve ready');
  stoqAddress = ready.stoq as string;
  dnsAddress = ready.dns as string;
  dnsPort = dnsAddress.slice(dnsAddress.lastIndexOf(':') + 1);
  const fp = await runTrustChain(['ca', 'fingerprint', '--data-dir', tcDir], dir);
  expect(fp.code).toBe(0);
  rootFingerprint = fp.stdout.trim();
  expect(rootFingerprint).toBe(ready.rootFingerprint);
});

afterAll(async () => {
  for (const n of nodes) await n.stop();
  expect(await tc.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

async function token(service: string): Promise<string> {
  const r = await runTrustChain(['token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], dir);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

/** A stoq.toml for a node on this TrustChain, in its own directory. */
function nodeConfig(name: string): string {
  const home = join(dir, name);
  writeServiceConfig(home, 'stoq.toml', name, { rootFingerprint, stoq: stoqAddress, dns: dnsAddress });
  return home;
}

async function startNode(name: string, joinToken: string): Promise<{ node: StoqProcess; address: string; home: string; ready: LogLine }> {
  const home = nodeConfig(name);
  const node = StoqProcess.start(['node', '--config', 'stoq.toml'], home, { env: { STOQ_JOIN_TOKEN: joinToken } });
  nodes.push(node);
  const ready = await node.waitFor((l) => l.msg === 'stoq node listening');
  return { node, address: ready.address as string, home, ready };
}

/** A stored identity (a node's data dir, TrustChain's admin dir), names read from its certificate. */
async function storedIdentity(dataDir: string): Promise<NodeIdentity> {
  const pem = readFileSync(join(dataDir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8');
  const leaf = parseHybridCertificate(pemToDerList(pem, 'CERTIFICATE', 'cert')[0]!);
  const service = leaf.dnsNames.find((n) => /^[^.]+\.hypermesh$/.test(n))!.split('.')[0]!;
  return NodeIdentity.loadOrCreate({ dataDir, service, instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
}

interface Client {
  transport: StoqTransport;
  conn: DialedConnection;
  rpc: RpcClient;
  close(): Promise<void>;
}

async function dialNode(identity: NodeIdentity, address: string): Promise<Client> {
  const transport = StoqTransport.create({ identity, bind: '[::]:0' });
  try {
    const conn = await transport.connect(address, { serverName: 'node.hypermesh', expectedService: 'node' });
    const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ node: [address] }), retry: { maxAttempts: 1 } });
    return {
      transport,
      conn,
      rpc,
      close: async () => {
        rpc.close();
        conn.close(0, 'done');
        await transport.close();
      },
    };
  } catch (err) {
    await transport.close();
    throw err;
  }
}

test('a node enrolls with a join token, registers, and is found by dig and by stoq call by name', async () => {
  const t = await token('node');
  const a = await startNode('node-a', t);
  const port = a.address.slice(a.address.lastIndexOf(':') + 1);

  const dig = await run('dig', ['@::1', '-p', dnsPort, '+short', 'SRV', '_stoq._udp.node.hypermesh']);
  expect(dig.stdout.trim().split('\n')).toContain(`0 1 ${port} node-a.node.hypermesh.`);
  const aaaa = await run('dig', ['@::1', '-p', dnsPort, '+short', 'AAAA', 'node-a.node.hypermesh']);
  expect(aaaa.stdout.trim()).toBe('::1');

  const admin = join(tcDir, 'admin');
  const echo = await runStoq(['call', 'node/echo', '--dns', dnsAddress, '--identity', admin, '--data', '{"text":"by name"}'], dir);
  expect(echo.stderr).toBe('');
  expect(JSON.parse(echo.stdout)).toMatchObject({ text: 'by name', instance: 'node-a' });
  const ca = await runStoq(['call', 'trustchain/get_ca', '--dns', dnsAddress, '--identity', admin], dir);
  expect(ca.stderr).toBe('');
  expect(JSON.parse(ca.stdout)).toMatchObject({ rootFingerprint });

  // The token is spent: a second node cannot enroll with it, and says why.
  const home = nodeConfig('node-replay');
  const replay = await runStoq(['node', '--config', 'stoq.toml'], home, { env: { STOQ_JOIN_TOKEN: t } });
  expect(replay.code).toBe(1);
  expect(replay.stderr).toMatch(/already used|single-use/);
});

test('the node renews live: a call in flight on a pre-renewal connection completes, new handshakes see the new certificate', async () => {
  const a = await startNode('node-renew', await token('node'));
  const client = await dialNode(await storedIdentity(join(tcDir, 'admin')), a.address);
  try {
    const before = client.conn.peer.fingerprint;
    const leaf = new X509Certificate(Buffer.from(client.conn.peer.certificateDer));
    const from = Date.parse(leaf.validFrom);
    const renewAt = from + ((Date.parse(leaf.validTo) - from) * 2) / 3;
    // Outlives the renewal by a few seconds (the node allows up to 60 s).
    const inFlight = client.rpc.call(NodeMethods.echo, { text: 'across renewal', delayMs: Math.max(0, renewAt - Date.now()) + 3000 }, { timeoutMs: 60_000 });
    const renewed = await a.node.waitFor((l) => l.msg === 'certificate renewed; new handshakes use it');
    expect(renewed.previous).toBe(before);
    // The old connection still carries calls, and the one in flight finishes on it.
    await expect(client.rpc.call(NodeMethods.echo, { text: 'after' })).resolves.toMatchObject({ text: 'after' });
    await expect(inFlight).resolves.toMatchObject({ text: 'across renewal', instance: 'node-renew' });
    expect(client.conn.peer.fingerprint).toBe(before);
    const fresh = await dialNode(await storedIdentity(join(tcDir, 'admin')), a.address);
    try {
      expect(fresh.conn.peer.fingerprint).toBe(renewed.fingerprint);
      expect(fresh.conn.peer.fingerprint).not.toBe(before);
    } finally {
      await fresh.close();
    }
  } finally {
    await client.close();
  }
});

test('a revoked node is refused by its peers within a second, and its open connections are closed', async () => {
  const a = await startNode('node-x', await token('node'));
  const b = await startNode('node-y', await token('node'));
  const asA = await storedIdentity(join(a.home, 'data'));
  const conn = await dialNode(asA, b.address);
  await expect(conn.rpc.call(NodeMethods.echo, { text: 'before' })).resolves.toMatchObject({ instance: 'node-y' });

  const shown = await runTrustChain(['certs', 'show', asA.fingerprint, '--json', '--data-dir', tcDir], dir);
  expect(shown.code).toBe(0);
  const serial = (JSON.parse(shown.stdout) as { serial: string }).serial;
  const revoke = await runTrustChain(['revoke', serial, '--reason', 'key-compromise', '--data-dir', tcDir], dir);
  expect(revoke.stderr).toBe('');
  expect(revoke.code).toBe(0);

  const revokedAt = await tc.waitFor((l) => l.msg === 'certificate revoked' && l.serial === serial);
  const refusing = await b.node.waitFor((l) => l.msg === 'certificates revoked: refusing their holders' && (l.revoked as string[]).includes(asA.fingerprint));
  const lagMs = (refusing.time as number) - (revokedAt.time as number);
  process.stdout.write(`revocation reached the peer ${lagMs} ms after TrustChain recorded it\n`);
  expect(lagMs).toBeLessThan(1000);

  // The open connection was closed by the peer, and a new handshake is refused.
  await conn.conn.closed;
  await conn.close();
  await expect(dialNode(asA, b.address)).rejects.toThrow(/revoked|refused|PEER_REJECTED|closed/i);
});

test('a client identity renews itself when used past 2/3 of its lifetime: stoq call renews it with TrustChain first', async () => {
  const home = join(dir, 'client');
  const enrolled = await runStoq(['enroll', '--trustchain', stoqAddress, '--root-fingerprint', rootFingerprint, '--service', 'cli', '--instance', 'cli-renewal', '--data-dir', home, '--token', await token('cli'), '--json'], dir);
  expect(enrolled.stderr).toBe('');
  expect(enrolled.code).toBe(0);
  const certFile = join(home, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain);
  const leafOf = () => parseHybridCertificate(pemToDerList(readFileSync(certFile, 'utf8'), 'CERTIFICATE', 'cert')[0]!);
  const first = leafOf();
  // Used before its renewal time: nothing is renewed (checked only if the call did finish before
  // it: a loaded machine may take that long).
  const renewAt = first.notBefore.getTime() + ((first.notAfter.getTime() - first.notBefore.getTime()) * 2) / 3;
  const early = await runStoq(['call', 'trustchain/get_ca', '--dns', dnsAddress, '--identity', home], dir);
  expect(early.code).toBe(0);
  if (Date.now() < renewAt) expect(leafOf().fingerprintSha256).toBe(first.fingerprintSha256);
  // The certificate's own clock: wait until it is past 2/3 of its lifetime (24 s leaves: ~16 s).
  await until('the client certificate is due for renewal', async () => (Date.now() > renewAt + 100 ? true : null), 30_000);
  const renewedEarly = leafOf().fingerprintSha256 !== first.fingerprintSha256; // the early call ran past renewAt
  const used = await runStoq(['call', 'trustchain/get_ca', '--dns', dnsAddress, '--identity', home], dir);
  expect(used.code).toBe(0);
  if (!renewedEarly) expect(used.stderr).toMatch(/renewed the certificate of .* with TrustChain \(valid until /);
  const renewed = leafOf();
  expect(renewed.fingerprintSha256).not.toBe(first.fingerprintSha256);
  expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
  expect(Buffer.from(renewed.spkiDer).equals(Buffer.from(first.spkiDer))).toBe(true); // same keys, new certificate
  // Expired (not used in time): a clear error naming what to do, nothing written.
  await until('the renewed certificate has expired', async () => (Date.now() > renewed.notAfter.getTime() + 100 ? true : null), 40_000);
  const late = await runStoq(['call', 'trustchain/get_ca', '--dns', dnsAddress, '--identity', home], dir);
  expect(late.code).toBe(1);
  expect(late.stderr).toMatch(/its certificate expired at .*restart `npm start`.*or enroll it with a new join token/);
  expect(leafOf().fingerprintSha256).toBe(renewed.fingerprintSha256);
});

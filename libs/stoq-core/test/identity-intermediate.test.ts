// A root with pathLen 1 signing an intermediate (DevCa.issueCaCertificate / fromIssuingCa, as
// TrustChain's `ca init` does) and identities issued by the intermediate: NodeIdentity stores and
// re-validates leaf + intermediate + root, and the transport carries the whole chain: an enrolling
// client pinning only the root's SHA-256 accepts it, mutual TLS works both ways, and a server that
// leaves the intermediate out is refused.
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { DevCa } from '../src/identity/dev-ca';
import { isIdentityError } from '../src/identity/errors';
import { generateClassicalKey } from '../src/identity/key-files';
import { NodeIdentity } from '../src/identity/node-identity';
import { parseHybridCertificate, verifyAltSignatureChain } from '../src/identity/parse';
import { pemToDer, pemToDerList } from '../src/identity/pem';
import type { CertificateSource } from '../src/identity/certificate-source';
import { nativeFalcon } from '../src/falcon';
import { StoqTransport, type TransportIdentity } from '../src/transport';
import { Fixture } from './support/net';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(() => fx.close());

interface Pki {
  root: DevCa;
  intermediate: DevCa;
  /** Issues leaves from the intermediate; `withIntermediate: false` leaves it out of the chain. */
  source(withIntermediate?: boolean): CertificateSource;
}

async function pki(): Promise<Pki> {
  const root = await DevCa.openOrCreate(join(fx.dir, 'root'), { pathLen: 1, commonName: 'Test Root' });
  const key = generateClassicalKey('P-384');
  const falconKeys = nativeFalcon.keypair();
  const cert = root.issueCaCertificate({ commonName: 'Test Intermediate', publicKey: key.key, falconPublicKey: falconKeys.publicKey, now: new Date(), lifetimeMs: 86_400_000 });
  const intermediate = DevCa.fromIssuingCa(join(fx.dir, 'intermediate'), key.key, falconKeys, cert.der);
  return {
    root,
    intermediate,
    source: (withIntermediate = true) => ({
      async issue(req) {
        const leaf = intermediate.issueLeaf({ service: req.service, instance: req.instance, publicKey: req.tlsKey, falconPublicKey: req.falconPublicKey, ipAddresses: [...req.ipAddresses], now: req.now });
        return { chainPem: leaf + (withIntermediate ? intermediate.rootPem : '') + root.rootPem, rootsPem: root.rootPem };
      },
    }),
  };
}

const identityOf = (p: Pki, service: string, withIntermediate = true): Promise<NodeIdentity> =>
  NodeIdentity.loadOrCreate({ dataDir: join(fx.dir, 'nodes', `${service}-${Math.random().toString(36).slice(2)}`), service, instance: `${service}-1`, ca: p.source(withIntermediate) });

const pin = (ca: DevCa): string => createHash('sha256').update(pemToDer(ca.rootPem, 'CERTIFICATE', 'root')).digest('hex');

test('the intermediate is a pathLen-0 CA under the root, with both signatures; leaves chain through it', async () => {
  const p = await pki();
  const int = p.intermediate.certificate;
  expect(int).toMatchObject({ isCa: true, pathLen: 0, commonName: 'Test Intermediate' });
  expect(p.root.certificate.pathLen).toBe(1);
  expect(int.notAfter.getTime()).toBeLessThanOrEqual(p.root.certificate.notAfter.getTime());
  const id = await identityOf(p, 'caesar');
  const chain = pemToDerList(id.certChainPem, 'CERTIFICATE', 'chain');
  expect(chain).toHaveLength(3);
  expect(verifyAltSignatureChain(chain, [p.root.rootDer]).map((c) => c.commonName)).toEqual(['caesar-1', 'Test Intermediate', 'Test Root']);
  // Reloading validates the stored 3-certificate chain and keeps it.
  const again = await NodeIdentity.loadOrCreate({ dataDir: dirname(id.dir), service: 'caesar', instance: 'caesar-1', ca: p.source() });
  expect(again.reissued).toBe(false);
  expect(parseHybridCertificate(again.leafDer).fingerprintSha256).toBe(id.fingerprint);
});

test('an enrolling client pinning only the root accepts a server chain through the intermediate; mutual TLS with leaf + intermediate both ways', async () => {
  const p = await pki();
  const server = fx.echoServer(await identityOf(p, 'trustchain'), { acceptAnonymousClients: true });
  const anon = StoqTransport.create({ identity: { enrolling: true, trustRootSha256: pin(p.root) }, bind: '[::1]:0' });
  try {
    const conn = await anon.connect(server.localAddress);
    expect(conn.peer.service).toBe('trustchain');
  } finally {
    await anon.close();
  }
  const client = fx.client(await identityOf(p, 'caesar'));
  const conn = await client.connect(server.localAddress);
  expect(conn.peer).toMatchObject({ service: 'trustchain', instance: 'trustchain-1' });
});

test('a server that leaves the intermediate out of its chain is refused by a client trusting the root', async () => {
  const p = await pki();
  const server = fx.server(await identityOf(p, 'trustchain', false));
  const client = fx.client((await identityOf(p, 'caesar')) as TransportIdentity);
  await expect(client.connect(server.localAddress)).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED' });
});

test('refusals: a root with pathLen 0 signs no CA; keys not matching the intermediate; openExisting never creates', async () => {
  const leafOnly = await DevCa.openOrCreate(join(fx.dir, 'leaf-only'));
  const key = generateClassicalKey('P-384');
  const fk = nativeFalcon.keypair();
  expect(() => leafOnly.issueCaCertificate({ commonName: 'X', publicKey: key.key, falconPublicKey: fk.publicKey, now: new Date(), lifetimeMs: 1000 })).toThrow(/pathLenConstraint 0/);
  const p = await pki();
  let err: unknown;
  try {
    DevCa.fromIssuingCa(join(fx.dir, 'x'), generateClassicalKey('P-384').key, fk, p.intermediate.rootDer);
  } catch (e) {
    err = e;
  }
  expect(isIdentityError(err, 'IDENTITY_DAMAGED')).toBe(true);
  await expect(DevCa.openExisting(join(fx.dir, 'absent'))).rejects.toMatchObject({ code: 'IDENTITY_INCOMPLETE' });
  expect((await DevCa.openExisting(join(fx.dir, 'root'))).fingerprint).toBe(p.root.fingerprint);
});

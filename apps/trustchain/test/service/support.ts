// Helpers for the service tests: a real TrustChain (startTrustChain on [::1]:0) in a temp dir,
// and real STOQ clients: the admin identity, an enrolling (certificate-less) client pinning the
// root's SHA-256, and clients with identities TrustChain issued.
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { StoqTransport, derToPem, type EnrollingIdentity, type TransportIdentity } from '@stoq/core';
import { trustchain } from '@stoq/protos';
import { RpcClient, StaticResolver, isRpcError, type RpcError } from '@stoq/rpc';
import { startTrustChain, type RunningTrustChain } from '../../src/server';
import { captureLogger, signedCsr, tempDir, type LogLine, type NodeKeys } from '../ca/support';

export const M = trustchain.TrustChainMethods;

export interface TestTrustChain {
  readonly tc: RunningTrustChain;
  readonly dir: string;
  readonly lines: LogLine[];
}

export async function startTestTrustChain(dir = tempDir('trustchain-svc-')): Promise<TestTrustChain> {
  const { logger, lines } = captureLogger();
  const tc = await startTrustChain({ dataDir: dir, bind: '[::1]:0', dnsBind: '[::1]:0', logger });
  return { tc, dir, lines };
}

export interface TestClient {
  readonly rpc: RpcClient;
  readonly transport: StoqTransport;
  close(): Promise<void>;
}

const clients: TestClient[] = [];
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** An RpcClient to TrustChain over a fresh transport with `identity` (no retries: tests see each answer). */
export function clientOf(tc: RunningTrustChain, identity: TransportIdentity | EnrollingIdentity): TestClient {
  const transport = StoqTransport.create({ identity, bind: '[::1]:0' });
  const rpc = new RpcClient({
    connector: (ep) => transport.connect(ep, { expectedService: 'trustchain' }),
    resolver: new StaticResolver({ trustchain: [tc.stoqAddress] }),
    retry: { maxAttempts: 1 },
  });
  let closed = false;
  const c: TestClient = {
    rpc,
    transport,
    async close() {
      if (closed) return;
      closed = true;
      rpc.close();
      await transport.close();
    },
  };
  clients.push(c);
  return c;
}

export const adminClient = (tc: RunningTrustChain): TestClient => clientOf(tc, tc.adminIdentity());
export const enrollingClient = (tc: RunningTrustChain): TestClient => clientOf(tc, { enrolling: true, trustRootSha256: tc.rootFingerprint });

/** The identity a node holds after TrustChain issued `issued` for `keys`. */
export function identityOf(keys: NodeKeys, service: string, instance: string, issued: trustchain.IssuedCertificate): TransportIdentity {
  const chain = issued.chain ?? [];
  return {
    service,
    instance,
    certChainPem: chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''),
    keyPem: keys.tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    trustRootsPem: derToPem(chain[chain.length - 1]!, 'CERTIFICATE'),
    falconPublicKey: keys.falcon.publicKey,
    falconSecretKey: keys.falcon.secretKey,
  };
}

/** Mints a token (admin) and enrolls `service/instance` over an anonymous connection. */
export async function enroll(tc: RunningTrustChain, keys: NodeKeys, service: string, instance: string): Promise<{ token: string; issued: trustchain.IssuedCertificate; identity: TransportIdentity }> {
  const admin = adminClient(tc);
  const { token } = await admin.rpc.call(M.createToken, { service, ttlSeconds: 600, admin: service === 'admin' });
  const anon = enrollingClient(tc);
  const csr = signedCsr(keys, service, instance, ['::1']);
  const issued = await anon.rpc.call(M.enroll, { token: token!, csr: csr.der, falconSignature: csr.falconSignature });
  await Promise.all([admin.close(), anon.close()]);
  return { token: token!, issued, identity: identityOf(keys, service, instance, issued) };
}

/** The RpcError `p` rejects with. */
export async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (isRpcError(err)) return err;
    throw new Error(`expected an RpcError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected an RpcError, but the call succeeded');
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const crlPath = (dir: string): string => join(dir, 'crl.der');

// A HyperMesh cluster of real processes for e2e tests: `trustchain serve`, 4 validators enrolled
// with join tokens, a genesis from their keys, 4 `hypermesh serve` processes (extra serve
// arguments, e.g. --four-proof), and an RPC client with TrustChain's admin identity.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList } from '@stoq/core';
import { RpcClient, StaticResolver } from '@stoq/rpc';
import { HYPERMESH_BIN, StoqProcess, runStoq, runTrustChain, writeServiceConfig, type TrustChainEndpoints } from './support';

export const N = 4;

export interface HyperMeshCluster {
  dir: string;
  tcDir: string;
  genesisPath: string;
  homes: string[];
  validators: Array<StoqProcess | null>;
  addresses: string[];
  /** A client for validator i over a fresh connection, with `identity` (default: TrustChain's admin). */
  withValidator<T>(i: number, body: (rpc: RpcClient) => Promise<T>, identity?: NodeIdentity): Promise<T>;
  /** A NodeIdentity for `service`/`instance`, issued by the cluster's TrustChain with a join token. */
  enrollClient(service: string, instance: string): Promise<NodeIdentity>;
  close(): Promise<void>;
}

async function adminIdentity(tcDir: string): Promise<NodeIdentity> {
  const adminDir = join(tcDir, 'admin');
  const pem = readFileSync(join(adminDir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8');
  const leaf = parseHybridCertificate(pemToDerList(pem, 'CERTIFICATE', 'cert')[0]!);
  const service = leaf.dnsNames.find((n) => /^[^.]+\.hypermesh$/.test(n))!.split('.')[0]!;
  return NodeIdentity.loadOrCreate({ dataDir: adminDir, service, instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
}

export async function startHyperMeshCluster(o: { chainId: string; serveArgs?: (dir: string) => string[] }): Promise<HyperMeshCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'stoq-hypermesh-e2e-'));
  const tcDir = join(dir, 'trustchain');
  const processes: StoqProcess[] = [];
  const tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  processes.push(tc);
  const tcReady = (await tc.waitFor((l) => l.msg === 'trustchain serve ready')) as unknown as TrustChainEndpoints & Record<string, unknown>;
  const homes: string[] = [];
  const token = async (service: string): Promise<string> => {
    const t = await runTrustChain(['token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], dir);
    if (t.code !== 0) throw new Error(`token create: ${t.stderr}`);
    return t.stdout.trim();
  };
  for (let i = 0; i < N; i++) {
    const home = join(dir, `hypermesh-${i + 1}`);
    homes.push(home);
    writeServiceConfig(home, 'hypermesh.toml', `hypermesh-${i + 1}`, tcReady);
    const r = await runStoq(['enroll', '--config', 'hypermesh.toml'], home, { bin: HYPERMESH_BIN, env: { STOQ_JOIN_TOKEN: await token('hypermesh') } });
    if (r.code !== 0) throw new Error(`hypermesh enroll: ${r.stderr}`);
  }
  const genesisPath = join(dir, 'genesis.json');
  const g = await runStoq(['genesis', '--chain-id', o.chainId, '--out', genesisPath, ...homes.flatMap((h) => ['--config', join(h, 'hypermesh.toml')])], dir, { bin: HYPERMESH_BIN });
  if (g.code !== 0) throw new Error(`hypermesh genesis: ${g.stderr}`);
  const extra = o.serveArgs?.(dir) ?? [];
  const validators: Array<StoqProcess | null> = [];
  const addresses: string[] = [];
  for (let i = 0; i < N; i++) {
    const p = StoqProcess.start(['serve', '--config', 'hypermesh.toml', '--genesis', genesisPath, ...extra], homes[i]!, { bin: HYPERMESH_BIN });
    processes.push(p);
    validators.push(p);
  }
  for (let i = 0; i < N; i++) addresses[i] = (await validators[i]!.waitFor((l) => l.msg === 'hypermesh validator ready')).stoq as string;
  const admin = await adminIdentity(tcDir);
  const transports: StoqTransport[] = [];
  const transportFor = new Map<NodeIdentity, StoqTransport>();
  const transport = (identity: NodeIdentity): StoqTransport => {
    let t = transportFor.get(identity);
    if (!t) {
      t = StoqTransport.create({ identity, bind: '[::1]:0' });
      transportFor.set(identity, t);
      transports.push(t);
    }
    return t;
  };
  return {
    dir,
    tcDir,
    genesisPath,
    homes,
    validators,
    addresses,
    async withValidator(i, body, identity = admin) {
      const address = addresses[i]!;
      const conn = await transport(identity).connect(address, { serverName: 'hypermesh.hypermesh', expectedService: 'hypermesh' });
      const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ hypermesh: [address] }), retry: { maxAttempts: 1 } });
      try {
        return await body(rpc);
      } finally {
        rpc.close();
        conn.close(0, 'done');
      }
    },
    async enrollClient(service, instance) {
      // `stoq node` enrolls with the join token (bound to `service`) and is stopped once listening.
      const home = join(dir, `client-${instance}`);
      writeServiceConfig(home, 'stoq.toml', instance, tcReady);
      const node = StoqProcess.start(['node', '--config', 'stoq.toml'], home, { env: { STOQ_JOIN_TOKEN: await token(service) } });
      try {
        await node.waitFor((l) => l.msg === 'stoq node listening');
      } finally {
        await node.stop();
      }
      return NodeIdentity.loadOrCreate({ dataDir: join(home, 'data'), service, instance, ca: null, ipAddresses: ['::1'] });
    },
    async close() {
      await Promise.allSettled(transports.map((t) => t.close()));
      await Promise.all(validators.map((v) => v?.stop()));
      await tc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Catalog registering uploaded programs in HyperMesh (`catalog serve --register-assets`), against
// real processes: TrustChain, 4 HyperMesh validators (tests-e2e/test/hypermesh-cluster.ts) and
// Catalog. An upload answers once the program's `program:<hash>` asset is committed; every
// validator's registry then holds it with Catalog as owner and the uploader as an attribute, and
// a second upload of the same bytes is a duplicate that registers nothing new.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { storedIdentity } from '@stoq/client';
import { StoqTransport } from '@stoq/core';
import { watToWasm } from '@stoq/native';
import { catalog, hypermesh } from '@stoq/protos';
import { DnsSrvResolver, RpcClient } from '@stoq/rpc';
import { startHyperMeshCluster, N, type HyperMeshCluster } from './hypermesh-cluster';
import { StoqProcess, runTrustChain, writeServiceConfig, type TrustChainEndpoints, until } from './support';

jest.setTimeout(300_000);

const CATALOG_BIN = join(__dirname, '..', '..', 'apps', 'catalog', 'bin', 'catalog.js');
let cluster: HyperMeshCluster;
let catalogProc: StoqProcess;
let transport: StoqTransport;
let rpc: RpcClient;

beforeAll(async () => {
  cluster = await startHyperMeshCluster({ chainId: 'catalog-assets-e2e' });
  // Where TrustChain listens: its serve.json (the cluster helper keeps its ready line to itself).
  const tc = JSON.parse(readFileSync(join(cluster.tcDir, 'serve.json'), 'utf8')) as TrustChainEndpoints;
  const home = join(cluster.dir, 'catalog');
  writeServiceConfig(home, 'catalog.toml', 'catalog-1', tc);
  const t = await runTrustChain(['token', 'create', '--service', 'catalog', '--ttl', '10m', '--data-dir', cluster.tcDir], cluster.dir);
  expect(t.code).toBe(0);
  catalogProc = StoqProcess.start(['serve', '--config', 'catalog.toml', '--register-assets'], home, { bin: CATALOG_BIN, env: { STOQ_JOIN_TOKEN: t.stdout.trim() } });
  await catalogProc.waitFor((l) => l.msg === 'catalog serving');
  transport = StoqTransport.create({ identity: await storedIdentity(join(cluster.tcDir, 'admin')), bind: '[::]:0' });
  rpc = new RpcClient({
    connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
    resolver: new DnsSrvResolver({ server: tc.dns }),
    retry: { maxAttempts: 1 },
  });
  await until('catalog by name', async () => rpc.call(catalog.CatalogMethods.stats, {}, { timeoutMs: 2000 }).catch(() => null));
});

afterAll(async () => {
  rpc?.close();
  await transport?.close();
  if (catalogProc) expect(await catalogProc.stop()).toBe(0);
  await cluster?.close();
});

test('an uploaded program is a committed HyperMesh asset on every validator', async () => {
  const module = watToWasm(readFileSync(join(__dirname, '..', '..', 'native', 'test', 'wasm', 'add.wat'), 'utf8'));
  const up = await rpc.call(catalog.CatalogMethods.uploadProgram, { module }, { timeoutMs: 60_000 });
  const hash = up.program!.hash!;
  expect(up.program).toMatchObject({ assetId: `program:${hash}` });
  const height = Number(up.program!.assetHeight!.toString());
  expect(height).toBeGreaterThan(0);
  for (let i = 0; i < N; i++) {
    const got = await until(`validator ${i} applied the asset`, () =>
      cluster.withValidator(i, (v) => v.call(hypermesh.AssetsMethods.get, { assetId: `program:${hash}` }, { timeoutMs: 5_000 })).catch(() => null),
    );
    expect(got.asset).toMatchObject({ assetId: `program:${hash}`, kind: 'program', owner: 'catalog/catalog-1', attributes: { sha256: hash, size: String(module.length), uploader: expect.stringMatching(/^admin\//) } });
    expect(Number(got.asset!.createdHeight!.toString())).toBe(height);
  }
  const again = await rpc.call(catalog.CatalogMethods.uploadProgram, { module });
  expect(again).toMatchObject({ duplicate: true, program: { assetId: `program:${hash}` } });
  expect(catalogProc.lines.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
});

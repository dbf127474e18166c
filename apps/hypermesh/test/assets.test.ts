// hypermesh/assets/* over STOQ against four in-process validators: every change is a committed
// operation applied in commit order to each validator's registry; the owner is the caller's
// certificate identity; transfers only by the owner; get/list read the applied state.
import { randomUUID } from 'node:crypto';
import { hypermesh as proto } from '@stoq/protos';
import { isRpcError, Status, type RpcClient } from '@stoq/rpc';
import { startServiceCluster, type ServiceCluster } from './service-harness';

jest.setTimeout(120_000);
const A = proto.AssetsMethods;

let cluster: ServiceCluster;
let catalog: RpcClient;
let other: RpcClient;
beforeAll(async () => {
  cluster = await startServiceCluster();
  catalog = await cluster.client('catalog');
  other = await cluster.client('ngauge');
});
afterAll(async () => {
  expect(cluster.fatal).toEqual([]);
  await cluster.close();
});

async function refusal(call: Promise<unknown>): Promise<{ code: Status; message: string }> {
  try {
    await call;
  } catch (err) {
    if (isRpcError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the call succeeded');
}

test('register: owned by the caller, committed with a QC, the same on every validator; idempotent by request id', async () => {
  const requestId = randomUUID();
  const r = await catalog.call(A.register, { requestId, assetId: 'program:hello', kind: 'program', attributes: { wasm_sha256: 'ab'.repeat(32), name: 'hello' } });
  expect(r.asset).toMatchObject({ assetId: 'program:hello', kind: 'program', owner: 'catalog/catalog-1', attributes: { name: 'hello', wasm_sha256: 'ab'.repeat(32) } });
  const height = Number(r.height);
  expect(Number(r.asset!.createdHeight)).toBe(height);
  expect(r.qc!.blockHash).toBe(r.blockHash);
  await Promise.all([1, 2, 3].map((id) => cluster.committed(id, height)));
  for (const s of cluster.stores) expect(s.asset('program:hello')).toEqual({ assetId: 'program:hello', kind: 'program', owner: 'catalog/catalog-1', attributes: { name: 'hello', wasm_sha256: 'ab'.repeat(32) }, createdHeight: height, updatedHeight: height });
  const again = await catalog.call(A.register, { requestId, assetId: 'program:hello', kind: 'program', attributes: { wasm_sha256: 'ab'.repeat(32), name: 'hello' } });
  expect({ duplicate: again.duplicate, height: Number(again.height) }).toEqual({ duplicate: true, height });
  const got = await other.call(A.get, { assetId: 'program:hello' });
  expect(got.asset!.owner).toBe('catalog/catalog-1');
  expect(Number(got.appliedHeight)).toBeGreaterThanOrEqual(height);
});

test('an asset id is registered once: a second registration (another caller, another request) is ALREADY_EXISTS, committed as refused', async () => {
  await catalog.call(A.register, { requestId: randomUUID(), assetId: 'node:n1', kind: 'node', attributes: {} });
  const r = await refusal(other.call(A.register, { requestId: randomUUID(), assetId: 'node:n1', kind: 'node', attributes: {} }));
  expect(r.code).toBe(Status.ALREADY_EXISTS);
  expect(r.message).toMatch(/asset node:n1 was registered at height \d+ \(owner catalog\/catalog-1\)/);
  expect((await other.call(A.get, { assetId: 'node:n1' })).asset!.owner).toBe('catalog/catalog-1');
});

test('transfer only by the owner; then the new owner may transfer it on', async () => {
  await catalog.call(A.register, { requestId: randomUUID(), assetId: 'storage:s1', kind: 'storage', attributes: { gib: '100' } });
  const stolen = await refusal(other.call(A.transfer, { requestId: randomUUID(), assetId: 'storage:s1', newOwner: 'ngauge/ngauge-1' }));
  expect(stolen.code).toBe(Status.PERMISSION_DENIED);
  expect(stolen.message).toMatch(/owned by catalog\/catalog-1, not ngauge\/ngauge-1/);
  const t = await catalog.call(A.transfer, { requestId: randomUUID(), assetId: 'storage:s1', newOwner: 'ngauge/ngauge-1' });
  expect(t.asset).toMatchObject({ owner: 'ngauge/ngauge-1', attributes: { gib: '100' } });
  expect(Number(t.asset!.updatedHeight)).toBe(Number(t.height));
  expect(Number(t.asset!.createdHeight)).toBeLessThan(Number(t.height));
  const back = await other.call(A.transfer, { requestId: randomUUID(), assetId: 'storage:s1', newOwner: 'catalog/catalog-1' });
  expect(back.asset!.owner).toBe('catalog/catalog-1');
  expect((await refusal(other.call(A.transfer, { requestId: randomUUID(), assetId: 'storage:none', newOwner: 'x/y' }))).code).toBe(Status.NOT_FOUND);
});

test('list filters by kind and owner, pages in asset id order', async () => {
  for (let i = 0; i < 5; i++) await other.call(A.register, { requestId: randomUUID(), assetId: `compute:c${i}`, kind: 'compute', attributes: { cores: String(i + 1) } });
  const page1 = await catalog.call(A.list, { kind: 'compute', pageSize: 2 });
  expect(page1.assets!.map((a) => a.assetId)).toEqual(['compute:c0', 'compute:c1']);
  const page2 = await catalog.call(A.list, { kind: 'compute', pageSize: 2, pageToken: page1.nextPageToken! });
  const page3 = await catalog.call(A.list, { kind: 'compute', pageSize: 2, pageToken: page2.nextPageToken! });
  expect([...page2.assets!, ...page3.assets!].map((a) => a.assetId)).toEqual(['compute:c2', 'compute:c3', 'compute:c4']);
  expect(page3.nextPageToken).toBe('');
  const mine = await catalog.call(A.list, { owner: 'ngauge/ngauge-1' });
  expect(mine.assets!.every((a) => a.owner === 'ngauge/ngauge-1')).toBe(true);
  expect(mine.assets!.map((a) => a.assetId)).toEqual(['compute:c0', 'compute:c1', 'compute:c2', 'compute:c3', 'compute:c4']);
  expect(Number(mine.appliedHeight)).toBeGreaterThan(0);
});

test('bad requests are INVALID_ARGUMENT; unknown assets NOT_FOUND', async () => {
  const bad = [
    catalog.call(A.register, { requestId: randomUUID(), assetId: 'x', kind: 'vehicle', attributes: {} }),
    catalog.call(A.register, { requestId: randomUUID(), assetId: 'has space', kind: 'node', attributes: {} }),
    catalog.call(A.register, { requestId: '', assetId: 'x', kind: 'node', attributes: {} }),
    catalog.call(A.register, { requestId: randomUUID(), assetId: 'x', kind: 'node', attributes: { big: 'v'.repeat(1025) } }),
    catalog.call(A.transfer, { requestId: randomUUID(), assetId: 'x', newOwner: '' }),
    catalog.call(A.list, { pageSize: 5000 }),
    catalog.call(A.list, { kind: 'vehicle' }),
  ];
  for (const call of bad) expect((await refusal(call)).code).toBe(Status.INVALID_ARGUMENT);
  expect((await refusal(catalog.call(A.get, { assetId: 'nothing-here' }))).code).toBe(Status.NOT_FOUND);
});

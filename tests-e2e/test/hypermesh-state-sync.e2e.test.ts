// HyperMesh state sync across real processes: 4 validators snapshot every 10 blocks and keep 40
// in their logs (enough that the blocks compared below are still there). One is killed with -9; the others register assets and move on until they have
// pruned far past its height; restarted from its data dir, it installs a snapshot that the others
// signed (log: "state sync: snapshot installed"), follows with ordinary blocks, and then holds the
// same blocks and the same asset registry as the others, and commits what is submitted to it.
// Then one is stopped (SIGSTOP) while the others move past what they keep; continued, it finds
// itself stuck, fetches a snapshot and installs it in place, without a restart.
// Waits poll conditions with deadlines (no fixed sleeps).
import { hypermesh as proto } from '@stoq/protos';
import { RpcError, Status, metricsMethod } from '@stoq/rpc';
import { HYPERMESH_BIN, StoqProcess, until as untilWithin } from './support';
import { startHyperMeshCluster, type HyperMeshCluster } from './hypermesh-cluster';

jest.setTimeout(300_000);

const M = proto.ConsensusMethods;
const A = proto.AssetsMethods;
// Short views: with one validator down, every fourth view waits for its timeout.
const SERVE_ARGS = ['--snapshot-interval', '10', '--retain-blocks', '40', '--caesar-reports', 'off', '--base-timeout-ms', '400', '--empty-block-delay-ms', '100'];
let c: HyperMeshCluster;

const num = (v: number | proto.Long | null | undefined): number => (v === null || v === undefined ? 0 : Number(v.toString()));

const until = <T>(what: string, probe: () => Promise<T | null>, timeoutMs = 90_000): Promise<T> => untilWithin(what, probe, timeoutMs);

const height = (i: number): Promise<number> => c.withValidator(i, async (rpc) => num((await rpc.call(M.status, {}, { timeoutMs: 10_000 })).committedHeight));
const blockHash = (i: number, h: number): Promise<string> => c.withValidator(i, async (rpc) => (await rpc.call(M.block, { height: h }, { timeoutMs: 10_000 })).hash ?? '');
const assets = (i: number): Promise<string[]> =>
  c.withValidator(i, async (rpc) => ((await rpc.call(A.list, { pageSize: 1000 }, { timeoutMs: 10_000 })).assets ?? []).map((a) => `${a.assetId}:${a.kind}:${a.owner}:${JSON.stringify(a.attributes)}`));

beforeAll(async () => {
  c = await startHyperMeshCluster({ chainId: 'e2e-state-sync', serveArgs: () => SERVE_ARGS });
});

afterAll(async () => {
  await c?.close();
});

test('a validator killed while the others pruned past it comes back through a snapshot, with their state', async () => {
  const victim = 3;
  await until('all four committing', async () => ((await Promise.all([0, 1, 2, 3].map(height))).every((h) => h >= 3) ? true : null));
  await c.withValidator(0, (rpc) => rpc.call(A.register, { requestId: 'before-1', assetId: 'compute:before-1', kind: 'compute', attributes: { n: '1' } }, { timeoutMs: 60_000 }));
  c.validators[victim]!.child.kill('SIGKILL');
  expect(await c.validators[victim]!.exited).toBe('SIGKILL');
  const downAt = await height(0);
  for (let i = 0; i < 5; i++) {
    await c.withValidator(i % 3, (rpc) => rpc.call(A.register, { requestId: `while-down-${i}`, assetId: `compute:down-${i}`, kind: 'compute', attributes: { n: String(i) } }, { timeoutMs: 60_000 }));
  }
  // The others move on past two snapshots and prune the blocks the victim would need.
  await until('the others pruned past the victim', async () => ((await height(0)) >= downAt + 50 ? true : null));
  const pruned = await c.withValidator(0, (rpc) => rpc.call(M.block, { height: downAt }, { timeoutMs: 10_000 })).then(
    () => null,
    (err: unknown) => err,
  );
  expect(pruned).toBeInstanceOf(RpcError);
  expect((pruned as RpcError).code).toBe(Status.NOT_FOUND);

  const restarted = StoqProcess.start(['serve', '--config', 'hypermesh.toml', '--genesis', c.genesisPath, ...SERVE_ARGS], c.homes[victim]!, { bin: HYPERMESH_BIN });
  c.validators[victim] = restarted;
  const installed = await restarted.waitFor((l) => l.msg === 'state sync: snapshot installed');
  expect(num(installed.height as number)).toBeGreaterThan(downAt);
  expect(num(installed.height as number) % 10).toBe(0);
  const metric = (i: number, name: string): Promise<number> =>
    c.withValidator(i, async (rpc) => Number((await rpc.call(metricsMethod('hypermesh'), {}, { timeoutMs: 10_000 })).serviceMetrics?.find((m) => m.name === name)?.value ?? NaN));
  c.addresses[victim] = (await restarted.waitFor((l) => l.msg === 'hypermesh validator ready')).stoq as string; // a new port
  const target = await height(0);
  await until(`restarted validator caught up to ${target}`, async () => ((await height(victim)) >= target ? true : null), 120_000);
  // Same block at the target height, same registry (the assets registered while it was down
  // reached it only through the snapshot).
  expect(await blockHash(victim, target)).toBe(await blockHash(0, target));
  // Its log starts at the snapshot; the others' logs are bounded (40 kept) and snapshotted too.
  expect(await metric(victim, 'hypermesh_block_log_oldest_height')).toBe(num(installed.height as number));
  expect(await metric(0, 'hypermesh_block_log_oldest_height')).toBeGreaterThan(downAt);
  expect(await metric(0, 'hypermesh_snapshot_height')).toBeGreaterThanOrEqual(num(installed.height as number));
  const registry = await assets(0);
  expect(registry).toHaveLength(6);
  expect(await assets(victim)).toEqual(registry);
  // It takes part again: an asset registered through it commits, and every validator has it.
  const after = await c.withValidator(victim, (rpc) => rpc.call(A.register, { requestId: 'after-sync', assetId: 'compute:after-sync', kind: 'compute', attributes: {} }, { timeoutMs: 60_000 }));
  expect(num(after.height)).toBeGreaterThan(target);
  await until('every validator has the new asset', async () => ((await Promise.all([0, 1, 2, 3].map(assets))).every((a) => a.length === 7) ? true : null));
});

test('a running validator stopped (SIGSTOP) until the others pruned past it installs a snapshot once continued', async () => {
  const victim = 2;
  await c.withValidator(0, (rpc) => rpc.call(A.register, { requestId: 'before-stop', assetId: 'compute:before-stop', kind: 'compute', attributes: {} }, { timeoutMs: 60_000 }));
  const stoppedAt = await height(victim);
  c.validators[victim]!.child.kill('SIGSTOP');
  try {
    await c.withValidator(0, (rpc) => rpc.call(A.register, { requestId: 'while-stopped', assetId: 'compute:while-stopped', kind: 'compute', attributes: {} }, { timeoutMs: 60_000 }));
    // Past what the others keep in memory and on disk (40 blocks): block catch-up cannot work.
    await until('the others 60 blocks past the stopped validator', async () => ((await height(0)) >= stoppedAt + 60 ? true : null));
  } finally {
    c.validators[victim]!.child.kill('SIGCONT');
  }
  // Its monitor sees a QC far above its committed height that does not move, and syncs in place.
  const installed = await c.validators[victim]!.waitFor((l) => l.msg === 'state sync: snapshot installed' && num(l.height as number) > stoppedAt);
  expect(num(installed.height as number) % 10).toBe(0);
  const target = await height(0);
  await until(`continued validator caught up to ${target}`, async () => ((await height(victim)) >= target ? true : null), 120_000);
  expect(await blockHash(victim, target)).toBe(await blockHash(0, target));
  expect(await assets(victim)).toEqual(await assets(0));
  expect((await assets(victim)).some((a) => a.startsWith('compute:while-stopped:'))).toBe(true);
  // Never restarted: the same process.
  expect(c.validators[victim]!.child.exitCode).toBeNull();
});

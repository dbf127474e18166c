// HyperMesh across real processes: `trustchain serve`, then 4 `hypermesh` validators that enroll
// with join tokens (`hypermesh enroll`), a genesis built from their FALCON keys (`hypermesh
// genesis`), and 4 `hypermesh serve` processes that find each other through TrustChain DNS and
// run consensus over STOQ with FALCON-1024 signatures and an fsync'd store. Submissions commit
// with identical blocks on all four; kill -9 of one validator: the other three keep committing;
// restarted from its data dir, it catches up with identical blocks. A validator's damaged store
// stops it with STATE_DAMAGED. Waits poll conditions with deadlines (no fixed sleeps).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList } from '@stoq/core';
import { hypermesh as proto } from '@stoq/protos';
import { RpcClient, StaticResolver, metricsMethod } from '@stoq/rpc';
import { HYPERMESH_BIN, StoqProcess, runStoq, runTrustChain, until as untilWithin, writeServiceConfig, type TrustChainEndpoints } from './support';

jest.setTimeout(300_000);

const N = 4;
let dir: string;
let tcDir: string;
let tcReady: TrustChainEndpoints & Record<string, unknown>;
let tc: StoqProcess;
const homes: string[] = [];
const validators: Array<StoqProcess | null> = [];
const addresses: string[] = [];
let transport: StoqTransport;
const M = proto.ConsensusMethods;

const until = <T>(what: string, probe: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> => untilWithin(what, probe, timeoutMs);

/** A client for validator i (admin identity of the test TrustChain), over a fresh connection. */
async function withValidator<T>(i: number, body: (rpc: RpcClient) => Promise<T>): Promise<T> {
  const address = addresses[i]!;
  const conn = await transport.connect(address, { serverName: 'hypermesh.hypermesh', expectedService: 'hypermesh' });
  const rpc = new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ hypermesh: [address] }), retry: { maxAttempts: 1 } });
  try {
    return await body(rpc);
  } finally {
    rpc.close();
    conn.close(0, 'done');
  }
}

const num = (v: number | proto.Long | null | undefined): number => (v === null || v === undefined ? 0 : Number(v.toString()));

async function status(i: number): Promise<proto.StatusResponse> {
  return withValidator(i, (rpc) => rpc.call(M.status, {}, { timeoutMs: 10_000 }));
}

async function blockHashes(i: number, from: number, to: number): Promise<string[]> {
  return withValidator(i, async (rpc) => {
    const out: string[] = [];
    for (let h = from; h <= to; h++) {
      const b = await rpc.call(M.block, { height: h }, { timeoutMs: 10_000 });
      expect(num(b.height)).toBe(h);
      out.push(`${h}:${b.hash}:${b.parentHash}`);
    }
    return out;
  });
}

function startValidator(i: number): StoqProcess {
  const p = StoqProcess.start(['serve', '--config', 'hypermesh.toml', '--genesis', join(dir, 'genesis.json')], homes[i]!, { bin: HYPERMESH_BIN });
  validators[i] = p;
  allProcesses.push(p);
  return p;
}

async function ready(i: number): Promise<void> {
  const line = await validators[i]!.waitFor((l) => l.msg === 'hypermesh validator ready');
  addresses[i] = line.stoq as string;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-hypermesh-e2e-'));
  tcDir = join(dir, 'trustchain');
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  tcReady = (await tc.waitFor((l) => l.msg === 'trustchain serve ready')) as unknown as TrustChainEndpoints & Record<string, unknown>;
  for (let i = 0; i < N; i++) {
    const home = join(dir, `hypermesh-${i + 1}`);
    homes.push(home);
    writeServiceConfig(home, 'hypermesh.toml', `hypermesh-${i + 1}`, tcReady);
    if (process.env['HYPERMESH_E2E_DEBUG']) writeFileSync(join(home, 'hypermesh.toml'), `${readFileSync(join(home, 'hypermesh.toml'), 'utf8')}[logging]\nlevel = "debug"\n`);
    const t = await runTrustChain(['token', 'create', '--service', 'hypermesh', '--ttl', '10m', '--data-dir', tcDir], dir);
    expect(t.code).toBe(0);
    const r = await runStoq(['enroll', '--config', 'hypermesh.toml'], home, { bin: HYPERMESH_BIN, env: { STOQ_JOIN_TOKEN: t.stdout.trim() } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"msg":"hypermesh enrolled"');
  }
  const g = await runStoq(['genesis', '--chain-id', 'hypermesh-e2e', '--out', join(dir, 'genesis.json'), ...homes.flatMap((h) => ['--config', join(h, 'hypermesh.toml')])], dir, { bin: HYPERMESH_BIN });
  expect(g.stderr).toBe('');
  expect(g.code).toBe(0);
  for (let i = 0; i < N; i++) startValidator(i);
  for (let i = 0; i < N; i++) await ready(i);
  // The test client: TrustChain's admin identity (any authenticated peer may submit and read).
  const adminDir = join(tcDir, 'admin');
  const pem = readFileSync(join(adminDir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8');
  const leaf = parseHybridCertificate(pemToDerList(pem, 'CERTIFICATE', 'cert')[0]!);
  const service = leaf.dnsNames.find((n) => /^[^.]+\.hypermesh$/.test(n))!.split('.')[0]!;
  const identity = await NodeIdentity.loadOrCreate({ dataDir: adminDir, service, instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
  transport = StoqTransport.create({ identity, bind: '[::1]:0' });
});

const allProcesses: StoqProcess[] = [];

afterAll(async () => {
  await transport?.close();
  await Promise.all(validators.map((v) => v?.stop()));
  await tc?.stop();
  // HYPERMESH_E2E_LOGS=dir keeps every validator's log there (for a failed run).
  const keep = process.env['HYPERMESH_E2E_LOGS'];
  if (keep) allProcesses.forEach((p, k) => writeFileSync(join(keep, `validator-${k}.jsonl`), p.lines.map((l) => JSON.stringify(l)).join('\n')));
  rmSync(dir, { recursive: true, force: true });
});

test('genesis lists the four enrolled validators; all four connect and agree on the status', async () => {
  const genesis = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as { chainId: string; validators: Array<{ id: number; instance: string; falconPublicKey: string }> };
  expect(genesis.validators.map((v) => `${v.id} ${v.instance}`)).toEqual(['0 hypermesh-1', '1 hypermesh-2', '2 hypermesh-3', '3 hypermesh-4']);
  for (let i = 0; i < N; i++) {
    const key = readFileSync(join(homes[i]!, 'data', NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.falconPub), 'utf8');
    expect(Buffer.from(pemToDerList(key, 'FALCON-1024 PUBLIC KEY', 'key')[0]!).toString('base64')).toBe(genesis.validators[i]!.falconPublicKey);
  }
  for (let i = 0; i < N; i++) {
    const s = await until(`validator ${i} linked to the 3 others and committing`, async () => {
      const st = await status(i);
      return (st.validators ?? []).filter((v) => v.connected).length === N - 1 && num(st.committedHeight) >= 3 ? st : null;
    });
    expect(s.chainId).toBe('hypermesh-e2e');
    expect(s.self).toBe(i);
    expect(s.instance).toBe(`hypermesh-${i + 1}`);
  }
});

async function submitAll(prefix: string, count: number, to: readonly number[]): Promise<proto.SubmitResponse[]> {
  return Promise.all(
    Array.from({ length: count }, (_, k) =>
      withValidator(to[k % to.length]!, (rpc) => rpc.call(M.submit, { operationId: `${prefix}-${k}`, payload: Buffer.from(`payload ${prefix} ${k}`) }, { timeoutMs: 60_000 })),
    ),
  );
}

async function expectIdenticalChains(among: readonly number[], upTo: number): Promise<void> {
  for (const i of among) await until(`validator ${i} at height ${upTo}`, async () => (num((await status(i)).committedHeight) >= upTo ? true : null));
  const chains = await Promise.all(among.map((i) => blockHashes(i, 1, upTo)));
  for (const c of chains.slice(1)) expect(c).toEqual(chains[0]);
}

test('submissions to every validator commit, with identical blocks on all four', async () => {
  const answers = await submitAll('op', 12, [0, 1, 2, 3]);
  for (const a of answers) {
    expect(num(a.height)).toBeGreaterThan(0);
    expect(a.blockHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.qc!.blockHash).toBe(a.blockHash);
    expect(a.qc!.signatures!.length).toBeGreaterThanOrEqual(3);
  }
  const top = Math.max(...answers.map((a) => num(a.height)));
  await expectIdenticalChains([0, 1, 2, 3], top);
  // The committed block carries the operation, on every validator.
  const first = answers[0]!;
  for (let i = 0; i < N; i++) {
    const b = await withValidator(i, (rpc) => rpc.call(M.block, { height: first.height }, { timeoutMs: 10_000 }));
    expect(b.hash).toBe(first.blockHash);
    expect((b.operations ?? []).map((o) => o.operationId)).toContain('op-0');
  }
  // Idempotent: the same id again answers with the first commit.
  const again = await withValidator(2, (rpc) => rpc.call(M.submit, { operationId: 'op-0', payload: Buffer.from('payload op 0') }, { timeoutMs: 60_000 }));
  expect(again.duplicate).toBe(true);
  expect(num(again.height)).toBe(num(first.height));
  const conflict = await withValidator(1, (rpc) => rpc.call(M.submit, { operationId: 'op-0', payload: Buffer.from('another payload') }, { timeoutMs: 10_000 }).catch((e: Error) => e));
  expect((conflict as Error).message).toMatch(/ALREADY_EXISTS|another payload/);
});

test('kill -9 of one validator: the other three keep committing; restarted, it catches up with identical blocks', async () => {
  const victim = 3;
  const before = num((await status(0)).committedHeight);
  // Mid-load: submissions are in flight to the three others when the victim dies.
  const load = submitAll('mid-load', 9, [0, 1, 2]);
  validators[victim]!.child.kill('SIGKILL');
  expect(await validators[victim]!.exited).toBe('SIGKILL');
  validators[victim] = null;
  const during = [...(await load), ...(await submitAll('while-down', 6, [0, 1, 2]))];
  const top = Math.max(...during.map((a) => num(a.height)));
  expect(top).toBeGreaterThan(before);
  await expectIdenticalChains([0, 1, 2], top);
  // Restart from its data dir (no join token: the identity is there), same genesis.
  startValidator(victim);
  await ready(victim);
  const target = num((await status(0)).committedHeight);
  await until(`restarted validator caught up to ${target}`, async () => (num((await status(victim)).committedHeight) >= target ? true : null), 120_000);
  await expectIdenticalChains([0, 1, 2, 3], target);
  // And it takes part again: an operation submitted to it commits.
  const [after] = await submitAll('after-restart', 1, [victim]);
  expect(num(after!.height)).toBeGreaterThan(target);
});

test('watch streams committed blocks in order; metrics carry height, view, leader and links', async () => {
  const from = num((await status(1)).committedHeight);
  const seen = await withValidator(1, async (rpc) => {
    const heights: number[] = [];
    const hashes: string[] = [];
    const ac = new AbortController();
    const stream = rpc.serverStream(M.watch, { fromHeight: from }, { signal: ac.signal, timeoutMs: 60_000 });
    const submitted = submitAll('watched', 2, [1]);
    for await (const b of stream) {
      heights.push(num(b.height));
      hashes.push(b.hash!);
      if ((b.operations ?? []).some((o) => o.operationId === 'watched-1')) break;
    }
    await submitted;
    return { heights, hashes };
  });
  expect(seen.heights[0]).toBe(from);
  seen.heights.forEach((h, k) => expect(h).toBe(from + k));
  const m = await withValidator(1, (rpc) => rpc.call(metricsMethod('hypermesh'), {}, { timeoutMs: 10_000 }));
  const byName = new Map((m.serviceMetrics ?? []).map((x) => [x.name!, x]));
  expect(byName.get('hypermesh_consensus_height')!.value).toBeGreaterThanOrEqual(seen.heights[seen.heights.length - 1]!);
  expect(byName.get('hypermesh_consensus_view')!.value).toBeGreaterThan(0);
  expect(byName.get('hypermesh_consensus_leader')!.labels!['leader']).toMatch(/^hypermesh-[1-4]$/);
  expect(byName.get('hypermesh_validators_connected')!.value).toBe(N - 1);
  expect(byName.get('hypermesh_commit_latency_seconds')).toBeDefined();
});

test('a validator stopped (SIGSTOP) is partitioned: the others commit; continued (SIGCONT), it catches up', async () => {
  const victim = 1;
  validators[victim]!.child.kill('SIGSTOP');
  try {
    const during = await submitAll('partitioned', 4, [0, 2, 3]);
    const top = Math.max(...during.map((a) => num(a.height)));
    await expectIdenticalChains([0, 2, 3], top);
  } finally {
    validators[victim]!.child.kill('SIGCONT');
  }
  const target = num((await status(0)).committedHeight);
  await until(`continued validator caught up to ${target}`, async () => (num((await status(victim)).committedHeight) >= target ? true : null), 120_000);
  await expectIdenticalChains([0, 1, 2, 3], target);
});

test('no validator reported equivocation evidence, a safety assertion or a failed write', () => {
  for (const p of allProcesses) {
    const bad = p.lines.filter((l) => l.msg === 'equivocation evidence' || (typeof l['level'] === 'number' && (l['level'] as number) >= 60));
    expect(bad).toEqual([]);
  }
});

test('an enrolled hypermesh instance that genesis does not list refuses to serve (NOT_A_VALIDATOR)', async () => {
  const home = join(dir, 'hypermesh-5');
  writeServiceConfig(home, 'hypermesh.toml', 'hypermesh-5', tcReady);
  const t = await runTrustChain(['token', 'create', '--service', 'hypermesh', '--ttl', '10m', '--data-dir', tcDir], dir);
  const r = await runStoq(['serve', '--config', 'hypermesh.toml', '--genesis', join(dir, 'genesis.json')], home, { bin: HYPERMESH_BIN, env: { STOQ_JOIN_TOKEN: t.stdout.trim() } });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/NOT_A_VALIDATOR: instance "hypermesh-5" is not in the genesis validator set/);
});

test('a damaged store: the validator refuses to start with STATE_DAMAGED and leaves the file as it was', async () => {
  const victim = 2;
  expect(await validators[victim]!.stop()).toBe(0); // SIGTERM: an orderly stop
  validators[victim] = null;
  const file = join(homes[victim]!, 'data', 'consensus', 'hypermesh.sqlite');
  const bytes = readFileSync(file);
  const damaged = Buffer.from(bytes);
  damaged.write('this is not an SQLite file header', 0);
  writeFileSync(file, damaged);
  const r = await runStoq(['serve', '--config', 'hypermesh.toml', '--genesis', join(dir, 'genesis.json')], homes[victim]!, { bin: HYPERMESH_BIN });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/STATE_DAMAGED/);
  expect(readFileSync(file).equals(damaged)).toBe(true);
});

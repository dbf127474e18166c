// Caesar end to end through STOQ: transfers/s and batch latency of caesar/create_transfers with
// concurrent clients, against a Caesar service in a child process (real QUIC on ::1, TLS + FALCON,
// dev CA identities, the durable store with group commit). Runs the built packages
// (npm run build -w @stoq/caesar, and the libs' dist).
//
//   node apps/caesar/bench/service.mjs [--transfers 200000] [--accounts 10000] [--json] [--postgres]
//
// Workloads: `rpc_8190x4` (4 clients, batches of 8,190), `rpc_512x16` (16 clients, batches of
// 512), each client on its own connection, every batch awaited before the client sends the next.
// --postgres: then the same run's peer, PostgreSQL with the same client counts (bench/postgres.mjs:
// one transfer per transaction, row locks on both accounts, synchronous_commit = on), printed as
// JSON lines (benchLines, below): throughput, p50/p99 latency, and the client's time per transfer.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { p50p99 } from './percentile.mjs';

const require = createRequire(import.meta.url);
const { DevCa, NodeIdentity, StoqTransport } = require('@stoq/core');
const { RpcClient, RpcServer, StaticResolver } = require('@stoq/rpc');
const { caesar: proto } = require('@stoq/protos');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const round = (x, digits) => Number(x.toFixed(digits));
// [name, clients, transfers per batch]; the PostgreSQL peer runs with the same client counts.
const WORKLOADS = [['rpc_8190x4', 4, 8190], ['rpc_512x16', 16, 512]];

if (opt('serve', null) !== null) {
  // The service side: a Caesar on [::1]:0, its address on stdout.
  const dir = opt('serve');
  const pino = require('pino');
  const { DurableLedger } = require('../dist/index.js');
  const { AccessPolicy } = require('../dist/service/access-policy.js');
  const { addCaesarMethods } = require('../dist/service/caesar-service.js');
  const { ChangeFeed } = require('../dist/service/change-feed.js');
  const { GenesisVerifier } = require('../dist/service/proof-verifiers.js');
  const { settingsFromFlags } = require('../dist/settings.js');
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const id = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'caesar'), service: 'caesar', instance: 'caesar-1', ca, ipAddresses: ['::1'] });
  const listener = StoqTransport.listen({ identity: id, bind: '[::1]:0' });
  const feed = new ChangeFeed();
  const ledger = DurableLedger.open(join(dir, 'ledger.sqlite'), { create: true, onCommit: (c) => feed.publish(c) });
  const rpc = new RpcServer({ service: 'caesar', limits: { maxMessageBytes: 16 * 1024 * 1024 } });
  const settings = settingsFromFlags({});
  addCaesarMethods(rpc, { ledger, policy: new AccessPolicy(settings.access), feed, economics: settings.economics, verifier: new GenesisVerifier(null, { verify: () => false }) /* no genesis: reward_block and slash refuse, as without --hypermesh-genesis */, signer: () => { throw new Error('no attestations in the bench'); }, now: () => Date.now(), logger: pino({ level: 'silent' }) });
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void rpc.serveConnection(conn);
  })();
  process.stdout.write(`${JSON.stringify({ address: listener.localAddress })}\n`);
  process.on('SIGTERM', async () => {
    await ledger.close();
    process.exit(0);
  });
} else {
  const TRANSFERS = Number(opt('transfers', '200000'));
  const ACCOUNTS = Number(opt('accounts', '10000'));
  const json = args.includes('--json');
  const dir = mkdtempSync(join(tmpdir(), 'caesar-bench-service-'));
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const server = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { address } = await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', (l) => resolve(JSON.parse(l))));
  const admin = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'admin'), service: 'admin', instance: 'admin-1', ca });
  const transports = [];
  const client = () => {
    const t = StoqTransport.create({ identity: admin, bind: '[::1]:0' });
    transports.push(t);
    return new RpcClient({ connector: (ep, o) => t.connect(ep, o), resolver: new StaticResolver({ caesar: [address] }), retry: { maxAttempts: 1 }, limits: { maxMessageBytes: 16 * 1024 * 1024 } });
  };
  const M = proto.CaesarMethods;
  const setup = client();
  const MINT = 1_000_000_000n;
  await setup.call(M.createAccounts, { accounts: [{ id: String(MINT), ledger: 1, code: 1, flags: 1 << 14 }] });
  for (let i = 0; i < ACCOUNTS; i += 8190) {
    const n = Math.min(8190, ACCOUNTS - i);
    await setup.call(M.createAccounts, { accounts: Array.from({ length: n }, (_, k) => ({ id: String(i + k + 1), ledger: 1, code: 1, flags: 2 })) });
    await setup.call(M.createTransfers, { transfers: Array.from({ length: n }, (_, k) => ({ id: String(10_000_000_000 + i + k), debitAccountId: String(MINT), creditAccountId: String(i + k + 1), amount: '1000000000', ledger: 1, code: 1 })) });
  }
  let nextId = 20_000_000_000;
  let seed = 7;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const randomTransfers = (n) => Array.from({ length: n }, () => {
    const a = 1 + Math.floor(rand() * ACCOUNTS);
    const b = 1 + ((a + Math.floor(rand() * (ACCOUNTS - 1))) % ACCOUNTS);
    return { id: String(nextId++), debitAccountId: String(a), creditAccountId: String(b), amount: '1', ledger: 1, code: 1 };
  });
  // One workload: `clients` connections, each sending batches of `batch` and awaiting each answer
  // (the answer comes after the group commit's fsync, so a batch's latency is send to durable
  // answer, and it is the latency of every transfer in it).
  const runWorkload = async (name, clients, batch) => {
    const rpcs = Array.from({ length: clients }, client);
    const latencies = [];
    let left = TRANSFERS;
    const t0 = performance.now();
    await Promise.all(rpcs.map(async (rpc) => {
      while (left > 0) {
        const n = Math.min(batch, left);
        left -= n;
        const transfers = randomTransfers(n);
        const s = performance.now();
        const r = await rpc.call(M.createTransfers, { transfers }, { timeoutMs: 120_000 });
        latencies.push(performance.now() - s);
        if (r.results.some((x) => x !== 0)) throw new Error(`unexpected results ${[...new Set(r.results)]}`);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    for (const r of rpcs) r.close();
    const { p50, p99, count } = p50p99(latencies);
    return { workload: name, clients, batch, transfers: TRANSFERS, transfersPerSecond: Math.round(TRANSFERS / seconds), batches: count, batchP50Ms: round(p50, 1), batchP99Ms: round(p99, 1) };
  };
  const results = [];
  for (const [name, clients, batch] of WORKLOADS) results.push(await runWorkload(name, clients, batch));
  setup.close();
  await Promise.all(transports.map((t) => t.close()));
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  // The peer runs after Caesar has stopped, so the two never share the cores; same client counts.
  const peers = args.includes('--postgres') ? results.map((r) => runPostgres(r.clients)) : [];
  if (json) process.stdout.write(`${JSON.stringify([...results, ...peers])}\n`);
  else if (peers.length > 0) for (const [i, r] of results.entries()) for (const line of benchLines(r, peers[i])) process.stdout.write(`${JSON.stringify(line)}\n`);
  else for (const r of results) process.stdout.write(`${r.workload.padEnd(12)} ${String(r.transfersPerSecond).padStart(8)} transfers/s  batch p50 ${r.batchP50Ms} ms  p99 ${r.batchP99Ms} ms (${r.batches} batches of <= ${r.batch})\n`);
}

// PostgreSQL with `clients` pgbench clients, in its own process (bench/postgres.mjs).
function runPostgres(clients) {
  const script = new URL('./postgres.mjs', import.meta.url).pathname;
  return JSON.parse(execFileSync(process.execPath, [script, '--clients', String(clients), '--accounts', opt('accounts', '10000'), '--json'], { encoding: 'utf8' }))[0];
}

// The repository's benchmark line format, {bench, unit, stoq, peer, peerName, ratio}, ratio =
// stoq / peer: higher is better for throughput, LOWER is better for the latency lines. What is
// compared: throughput in transfers/s; latency of a transfer (Caesar: its batch's latency, send to
// durable answer; PostgreSQL: its transaction's); and the client's time per transfer (Caesar: batch
// latency / batch size; PostgreSQL: the same transaction latency, a client runs one at a time).
function benchLines(caesar, pg) {
  const bench = `caesar.transfers_durable_${caesar.workload.replace(/\W+/g, '_')}`;
  const peerName = `PostgreSQL (${pg.workload}, one locked transaction per transfer)`;
  const line = (suffix, unit, stoq, peer, extra) => ({ bench: `${bench}${suffix}`, unit, stoq, peer, peerName, ratio: Number((stoq / peer).toPrecision(3)), ...extra });
  const latency = [['p50', caesar.batchP50Ms, pg.latencyP50Ms], ['p99', caesar.batchP99Ms, pg.latencyP99Ms]];
  const batch = caesar.batch.toLocaleString('en-US');
  return [
    line('', 'transfers/s', caesar.transfersPerSecond, pg.transfersPerSecond, { better: 'higher' }),
    ...latency.map(([p, stoq, peer]) => line(`_latency_${p}`, 'ms', stoq, peer, { better: 'lower', stoqIs: `a batch of ${batch} transfers, send to durable answer (${caesar.batches} batches)`, peerIs: `one transfer's transaction, BEGIN to COMMIT answered (${pg.transactionsLogged} transactions)` })),
    ...latency.map(([p, stoq, peer]) => line(`_client_time_per_transfer_${p}`, 'µs', round((stoq * 1000) / caesar.batch, 1), round(peer * 1000, 1), { better: 'lower', stoqIs: `batch latency / ${batch}`, peerIs: 'transaction latency (a client runs one transaction at a time)' })),
  ];
}

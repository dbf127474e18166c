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
// one transfer per transaction, row locks on both accounts, synchronous_commit = on), and ratios.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { DevCa, NodeIdentity, StoqTransport } = require('@stoq/core');
const { RpcClient, RpcServer, StaticResolver } = require('@stoq/rpc');
const { caesar: proto } = require('@stoq/protos');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

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
  const results = [];
  for (const [name, clients, batch] of [['rpc_8190x4', 4, 8190], ['rpc_512x16', 16, 512]]) {
    const rpcs = Array.from({ length: clients }, client);
    const latencies = [];
    let left = TRANSFERS;
    const t0 = performance.now();
    await Promise.all(rpcs.map(async (rpc) => {
      while (left > 0) {
        const n = Math.min(batch, left);
        left -= n;
        const transfers = Array.from({ length: n }, () => {
          const a = 1 + Math.floor(rand() * ACCOUNTS);
          const b = 1 + ((a + Math.floor(rand() * (ACCOUNTS - 1))) % ACCOUNTS);
          return { id: String(nextId++), debitAccountId: String(a), creditAccountId: String(b), amount: '1', ledger: 1, code: 1 };
        });
        const s = performance.now();
        const r = await rpc.call(M.createTransfers, { transfers }, { timeoutMs: 120_000 });
        latencies.push(performance.now() - s);
        if (r.results.some((x) => x !== 0)) throw new Error(`unexpected results ${[...new Set(r.results)]}`);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((x, y) => x - y);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    results.push({ workload: name, transfers: TRANSFERS, transfersPerSecond: Math.round(TRANSFERS / seconds), batchP50Ms: Math.round(q(0.5)), batchP99Ms: Math.round(q(0.99)) });
    for (const r of rpcs) r.close();
  }
  setup.close();
  await Promise.all(transports.map((t) => t.close()));
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  if (args.includes('--postgres')) {
    const pg = (clients) => JSON.parse(execFileSync(process.execPath, [new URL('./postgres.mjs', import.meta.url).pathname, '--clients', String(clients), '--accounts', String(ACCOUNTS), '--json'], { encoding: 'utf8' }))[0];
    for (const [i, clients] of [[0, 4], [1, 16]]) {
      const p = pg(clients);
      results.push(p);
      results[i].ratioToPostgres = Number((results[i].transfersPerSecond / p.transfersPerSecond).toFixed(1));
    }
  }
  if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else if (args.includes('--postgres')) {
    // The repository's benchmark line format: one JSON object per figure, ratio = stoq / peer.
    const peers = results.filter((r) => r.batchP50Ms === undefined);
    results.filter((r) => r.ratioToPostgres !== undefined).forEach((r, i) => {
      const p = peers[i];
      process.stdout.write(`${JSON.stringify({ bench: `caesar.transfers_durable_${r.workload.replace(/\W+/g, '_')}`, unit: 'transfers/s', stoq: r.transfersPerSecond, peer: p.transfersPerSecond, peerName: `PostgreSQL (${p.workload}, one locked transaction per transfer)`, ratio: r.ratioToPostgres, batchP50Ms: r.batchP50Ms, batchP99Ms: r.batchP99Ms })}\n`);
    });
  } else
    for (const r of results) {
      const detail = r.batchP50Ms !== undefined ? `batch p50 ${r.batchP50Ms} ms  p99 ${r.batchP99Ms} ms` : `latency avg ${r.latencyAverageMs} ms per transfer`;
      process.stdout.write(`${r.workload.padEnd(12)} ${String(r.transfersPerSecond).padStart(8)} transfers/s  ${detail}${r.ratioToPostgres ? `  (${r.ratioToPostgres}x PostgreSQL)` : ''}\n`);
    }
}

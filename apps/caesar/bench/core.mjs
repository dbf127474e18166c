// Caesar micro-benchmark: transfers/s of the pure ledger core and of the durable store
// (SQLite WAL + synchronous=FULL, group commit). Runs the built package (npm run build first).
//
//   node --expose-gc apps/caesar/bench/core.mjs [--transfers 400000] [--accounts 10000] [--json]
//   (npm run bench; --expose-gc only for the heap-per-transfer figure)
//
// Workloads (seeded, deterministic):
//   core_transfers        single-phase transfers between random accounts, batches of 8,190
//   core_two_phase        the same as pending transfers, each posted in the next batch
//   durable_one_client    one client, batches of 8,190, each awaited (one commit per batch)
//   durable_concurrent    16 clients × batches of 512 in flight at once (group commit)
//   durable_random_ids    as durable_one_client with random 127-bit transfer ids (schema version 1
//                         inserted them at random into its id index; version 2 has none on disk)
// The durable runs do --transfers / 2; run with --transfers 2000000 to include WAL checkpoints,
// balance checkpoints and a heap of a million transfers. The peer comparison (PostgreSQL) is the
// service benchmark's.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { AccountFlags, DurableLedger, Ledger, TransferFlags } = require('../dist/index.js');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const TRANSFERS = opt('transfers', 400_000);
const ACCOUNTS = opt('accounts', 10_000);
const json = args.includes('--json');
const BATCH = 8190;
const MINT = 1_000_000n;
const T0 = 1_700_000_000_000_000_000n;

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function accounts() {
  const list = [{ id: MINT, ledger: 1, code: 1, flags: AccountFlags.mint }];
  for (let i = 1; i <= ACCOUNTS; i++) list.push({ id: BigInt(i), ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits });
  return list;
}

function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Funding (mint → every account) then `n` random transfers between accounts. */
function workload(n, seed, flags = 0, firstId = 1n, randomIds = false) {
  const rnd = prng(seed);
  const u32 = () => BigInt(Math.floor(rnd() * 2 ** 32));
  const randomId = () => ((u32() << 96n) | (u32() << 64n) | (u32() << 32n) | u32()) & ~(1n << 127n) || 1n;
  const funding = [];
  let id = firstId;
  for (let i = 1; i <= ACCOUNTS; i++) funding.push({ id: id++, debitAccountId: MINT, creditAccountId: BigInt(i), amount: 1_000_000_000n, ledger: 1, code: 1 });
  const transfers = [];
  for (let i = 0; i < n; i++) {
    const a = 1 + Math.floor(rnd() * ACCOUNTS);
    let b = 1 + Math.floor(rnd() * (ACCOUNTS - 1));
    if (b >= a) b += 1;
    transfers.push({ id: randomIds ? randomId() : id++, debitAccountId: BigInt(a), creditAccountId: BigInt(b), amount: BigInt(1 + Math.floor(rnd() * 1000)), ledger: 1, code: 1, flags });
  }
  return { funding, transfers };
}

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function checkOk(results, what) {
  for (const r of results) if (r !== 'ok') throw new Error(`${what}: unexpected result ${r}`);
}

function benchCore() {
  const ledger = new Ledger();
  for (const c of chunks(accounts(), BATCH)) checkOk(ledger.createAccounts(c, T0).results, 'accounts');
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const { funding, transfers } = workload(TRANSFERS, 1);
  for (const c of chunks(funding, BATCH)) checkOk(ledger.createTransfers(c, T0).results, 'funding');
  const batches = chunks(transfers, BATCH);
  const t = performance.now();
  for (const b of batches) checkOk(ledger.createTransfers(b, T0).results, 'core');
  const seconds = (performance.now() - t) / 1000;
  batches.length = 0;
  transfers.length = 0;
  funding.length = 0;
  globalThis.gc?.();
  // Heap the core holds per stored transfer (only with --expose-gc, as `npm run bench` runs it).
  const bytesPerTransfer = globalThis.gc ? Math.round((process.memoryUsage().heapUsed - heapBefore) / ledger.transferCount) : undefined;
  return { name: 'core_transfers', transfers: ledger.transferCount - ACCOUNTS, seconds, perSecond: (ledger.transferCount - ACCOUNTS) / seconds, bytesPerTransfer };
}

function benchCoreTwoPhase() {
  const ledger = new Ledger();
  for (const c of chunks(accounts(), BATCH)) checkOk(ledger.createAccounts(c, T0).results, 'accounts');
  const n = Math.floor(TRANSFERS / 2);
  const { funding, transfers } = workload(n, 2, TransferFlags.pending);
  for (const c of chunks(funding, BATCH)) checkOk(ledger.createTransfers(c, T0).results, 'funding');
  const pendings = chunks(transfers, BATCH / 2);
  let postId = 10_000_000_000n;
  const batches = pendings.map((p, i) => [...p, ...(i > 0 ? pendings[i - 1].map((q) => ({ id: postId++, pendingId: q.id, flags: TransferFlags.postPendingTransfer })) : [])]);
  batches.push(pendings[pendings.length - 1].map((q) => ({ id: postId++, pendingId: q.id, flags: TransferFlags.postPendingTransfer })));
  let count = 0;
  const t = performance.now();
  for (const b of batches) {
    checkOk(ledger.createTransfers(b, T0).results, 'two-phase');
    count += b.length;
  }
  const seconds = (performance.now() - t) / 1000;
  return { name: 'core_two_phase', transfers: count, seconds, perSecond: count / seconds };
}

async function benchDurable(name, clients, batchSize, randomIds = false) {
  const dir = mkdtempSync(join(tmpdir(), 'caesar-bench-'));
  try {
    const ledger = DurableLedger.open(join(dir, 'ledger.db'), { create: true });
    for (const c of chunks(accounts(), BATCH)) checkOk(await ledger.createAccounts(c), 'accounts');
    const n = Math.floor(TRANSFERS / 2);
    const { funding, transfers } = workload(n, 3, 0, 1n, randomIds);
    for (const c of chunks(funding, BATCH)) checkOk(await ledger.createTransfers(c), 'funding');
    const batches = chunks(transfers, batchSize);
    const latencies = [];
    let next = 0;
    // The previous workload's ledger is garbage now: collect it here, not inside this timing.
    globalThis.gc?.();
    const cpu = process.cpuUsage();
    const t = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < batches.length) {
          const b = batches[next++];
          const start = performance.now();
          checkOk(await ledger.createTransfers(b), name);
          latencies.push(performance.now() - start);
        }
      }),
    );
    const seconds = (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    const stats = ledger.groupCommitStats;
    await ledger.close();
    latencies.sort((a, b) => a - b);
    return {
      name,
      transfers: transfers.length,
      seconds,
      perSecond: transfers.length / seconds,
      batchP50ms: percentile(latencies, 50),
      batchP99ms: percentile(latencies, 99),
      // CPU the process used (user + system, all threads): on a shared box, wall time also
      // holds time other processes took the cores.
      cpuSeconds: (used.user + used.system) / 1e6,
      commits: stats.commits,
      largestGroup: stats.largestGroup,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [
  benchCore(),
  benchCoreTwoPhase(),
  await benchDurable('durable_one_client', 1, BATCH),
  await benchDurable('durable_concurrent', 16, 512),
  await benchDurable('durable_random_ids', 1, BATCH, true),
];
if (json) {
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, accounts: ACCOUNTS, results }, null, 2));
} else {
  console.log(`caesar bench ${new Date().toISOString()} node ${process.version}, ${ACCOUNTS} accounts`);
  for (const r of results) {
    const memory = r.bytesPerTransfer === undefined ? '' : `  core heap ≈ ${r.bytesPerTransfer} bytes per stored transfer`;
    const extra = r.batchP50ms === undefined ? memory : `  batch p50 ${r.batchP50ms.toFixed(1)} ms p99 ${r.batchP99ms.toFixed(1)} ms  ${r.commits} commits, largest group ${r.largestGroup}, CPU ${r.cpuSeconds.toFixed(2)} s`;
    console.log(`${r.name.padEnd(20)} ${Math.round(r.perSecond).toLocaleString('en-US').padStart(10)} transfers/s  (${r.transfers} in ${r.seconds.toFixed(2)} s)${extra}`);
  }
}

// Caesar's durable store on PostgreSQL against the default SQLite store, same workload, same run:
// 10,000 accounts, random single-phase transfers, one client with batches of 8,190 awaited, then
// 16 clients × 512 in flight (group commit). PostgreSQL 15 (Debian's package, PG_BIN) on a temp
// data dir with fsync and synchronous_commit on, on the same disk as the SQLite file.
//
//   npm run build -w @stoq/caesar && node apps/caesar/bench/store-postgres.mjs [--transfers 200000] [--json]
//
// --json prints one line per workload: {"bench","unit","stoq","peer","peerName","ratio"} where
// stoq = Caesar on PostgreSQL, peer = Caesar on SQLite, ratio = stoq / peer. As root the server
// runs as the `postgres` user (initdb refuses root; setpriv execs in place so signals reach it).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { AccountFlags, DurableLedger } = require('../dist/index.js');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const TRANSFERS = opt('transfers', 200_000);
const ACCOUNTS = 10_000;
const BATCH = 8190;
const MINT = 1_000_000n;
const json = args.includes('--json');
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
if (!existsSync(join(BIN, 'initdb'))) {
  process.stderr.write(`no PostgreSQL in ${BIN} (Debian: apt-get install postgresql, or set PG_BIN)\n`);
  process.exit(2);
}

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
const chunks = (list, size) => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
const checkOk = (results, what) => {
  for (const r of results) if (r !== 'ok') throw new Error(`${what}: unexpected result ${r}`);
};

async function run(open, clients, batchSize) {
  const ledger = await open();
  const accounts = [{ id: MINT, ledger: 1, code: 1, flags: AccountFlags.mint }];
  for (let i = 1; i <= ACCOUNTS; i++) accounts.push({ id: BigInt(i), ledger: 1, code: 1, flags: AccountFlags.debitsMustNotExceedCredits });
  for (const c of chunks(accounts, BATCH)) checkOk(await ledger.createAccounts(c), 'accounts');
  let id = 1n;
  const funding = [];
  for (let i = 1; i <= ACCOUNTS; i++) funding.push({ id: id++, debitAccountId: MINT, creditAccountId: BigInt(i), amount: 1_000_000_000n, ledger: 1, code: 1 });
  for (const c of chunks(funding, BATCH)) checkOk(await ledger.createTransfers(c), 'funding');
  const rnd = prng(3);
  const transfers = [];
  for (let i = 0; i < TRANSFERS; i++) {
    const a = 1 + Math.floor(rnd() * ACCOUNTS);
    let b = 1 + Math.floor(rnd() * (ACCOUNTS - 1));
    if (b >= a) b += 1;
    transfers.push({ id: id++, debitAccountId: BigInt(a), creditAccountId: BigInt(b), amount: BigInt(1 + Math.floor(rnd() * 1000)), ledger: 1, code: 1 });
  }
  const batches = chunks(transfers, batchSize);
  let next = 0;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < batches.length) checkOk(await ledger.createTransfers(batches[next++]), 'transfers');
    }),
  );
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  const stats = ledger.groupCommitStats;
  await ledger.close();
  return { perSecond: TRANSFERS / seconds, seconds, cpuSeconds: (used.user + used.system) / 1e6, commits: stats.commits };
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '::1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const asRoot = process.getuid?.() === 0;
const AS_POSTGRES = ['--reuid=postgres', '--regid=postgres', '--init-groups'];
const dir = mkdtempSync(join(tmpdir(), 'caesar-bench-store-pg-'));
chmodSync(dir, 0o755);
if (asRoot) {
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
}
const data = join(dir, 'data');
const port = await freePort();
const initdb = [join(BIN, 'initdb'), '-D', data, '-A', 'trust', '-U', 'caesar', '--no-sync'];
execFileSync(asRoot ? 'setpriv' : initdb[0], asRoot ? [...AS_POSTGRES, ...initdb] : initdb.slice(1), { stdio: 'ignore' });
const serverArgs = [join(BIN, 'postgres'), '-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=::1', '-c', 'synchronous_commit=on', '-c', 'fsync=on', '-c', 'shared_buffers=256MB', '-c', 'max_wal_size=4GB'];
const server = asRoot ? spawn('setpriv', [...AS_POSTGRES, ...serverArgs], { stdio: 'ignore' }) : spawn(serverArgs[0], serverArgs.slice(1), { stdio: 'ignore' });
const sqliteDir = mkdtempSync(join(tmpdir(), 'caesar-bench-store-sqlite-'));
try {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      execFileSync(join(BIN, 'pg_isready'), ['-q', '-h', '::1', '-p', String(port)], { stdio: 'ignore' });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('postgres did not start within 60 s');
      await new Promise((r) => setTimeout(r, 100)); // polling readiness of a process we started
    }
  }
  let n = 0;
  const postgres = () => DurableLedger.openPostgres({ url: `postgresql://caesar@[::1]:${port}/postgres`, schema: `bench_${n++}` }, { create: true });
  const sqlite = () => DurableLedger.open(join(sqliteDir, `ledger-${n++}.db`), { create: true });
  const workloads = [
    { name: 'one_client', clients: 1, batch: BATCH },
    { name: 'concurrent', clients: 16, batch: 512 },
  ];
  const lines = [];
  for (const w of workloads) {
    const peer = await run(sqlite, w.clients, w.batch);
    const stoq = await run(postgres, w.clients, w.batch);
    lines.push({ w, stoq, peer });
  }
  for (const { w, stoq, peer } of lines) {
    const bench = w.name === 'one_client' ? 'transfers_durable_postgres_backend' : `transfers_durable_postgres_backend_${w.name}`;
    if (json) {
      process.stdout.write(`${JSON.stringify({ bench, unit: 'transfers/s', stoq: Math.round(stoq.perSecond), peer: Math.round(peer.perSecond), peerName: 'caesar durable store on SQLite (default)', ratio: Number((stoq.perSecond / peer.perSecond).toFixed(3)) })}\n`);
    } else {
      process.stdout.write(
        `${bench.padEnd(46)} postgres ${Math.round(stoq.perSecond).toLocaleString('en-US').padStart(9)}/s (CPU ${stoq.cpuSeconds.toFixed(2)} s, ${stoq.commits} commits)  sqlite ${Math.round(peer.perSecond).toLocaleString('en-US').padStart(9)}/s (CPU ${peer.cpuSeconds.toFixed(2)} s)  ratio ${(stoq.perSecond / peer.perSecond).toFixed(2)}\n`,
      );
    }
  }
} finally {
  server.kill('SIGINT');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  rmSync(sqliteDir, { recursive: true, force: true });
}

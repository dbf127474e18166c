// The peer for Caesar's service benchmark: PostgreSQL (Debian's package) on a temp data dir with
// synchronous_commit = on and fsync on (the defaults, stated explicitly), running the same
// double-entry transfer as one transaction per transfer with row locks on both accounts, driven by
// pgbench with the same client counts. The schema and SQL are below (what a competent user would
// write: lock both rows in id order, overdraft check in the UPDATE, an insert into transfers).
// Latency: pgbench's per-transaction log (-l), one line per transaction with its latency in µs
// (BEGIN to COMMIT's answer, measured by the client); p50/p99 are exact over every logged
// transaction (percentile.mjs), and one transaction is one transfer.
//
//   node apps/caesar/bench/postgres.mjs [--seconds 10] [--accounts 10000] [--clients 16] [--json]
//
// Needs initdb/postgres/pgbench (PG_BIN, default /usr/lib/postgresql/15/bin). initdb refuses to
// run as root: as root the cluster runs as the `postgres` user (setpriv, which execs in place so
// signals reach postgres itself).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p50p99 } from './percentile.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SECONDS = Number(opt('seconds', '10'));
const ACCOUNTS = Number(opt('accounts', '10000'));
const CLIENTS = Number(opt('clients', '16'));
const json = args.includes('--json');
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
// The peer comes from Debian's packages when it is missing (as root, with apt-get).
if (!existsSync(join(BIN, 'pgbench')) && process.env.PG_BIN === undefined && process.getuid?.() === 0) {
  process.stderr.write('[postgres] installing Debian\'s postgresql (apt-get)\n');
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

export const SCHEMA = `
CREATE TABLE accounts (
  id bigint PRIMARY KEY,
  ledger integer NOT NULL,
  code integer NOT NULL,
  debits_pending numeric(39,0) NOT NULL DEFAULT 0,
  debits_posted numeric(39,0) NOT NULL DEFAULT 0,
  credits_pending numeric(39,0) NOT NULL DEFAULT 0,
  credits_posted numeric(39,0) NOT NULL DEFAULT 0
);
CREATE SEQUENCE transfer_ids;
CREATE TABLE transfers (
  id bigint PRIMARY KEY,
  debit_account_id bigint NOT NULL REFERENCES accounts,
  credit_account_id bigint NOT NULL REFERENCES accounts,
  amount numeric(39,0) NOT NULL CHECK (amount > 0),
  ledger integer NOT NULL,
  code integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfers_debit ON transfers (debit_account_id, created_at);
CREATE INDEX transfers_credit ON transfers (credit_account_id, created_at);
INSERT INTO accounts (id, ledger, code, credits_posted) SELECT g, 1, 1, 1000000000 FROM generate_series(1, ${ACCOUNTS}) g;
VACUUM ANALYZE;
`;

// One transfer per transaction: lock both accounts (in id order: no deadlocks), debit with the
// overdraft check, credit, record the transfer.
export const TRANSFER = `
\\set a random(1, ${ACCOUNTS})
\\set d random(1, ${ACCOUNTS - 1})
\\set b 1 + ((:a - 1 + :d) % ${ACCOUNTS})
BEGIN;
SELECT id FROM accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE accounts SET debits_posted = debits_posted + 1 WHERE id = :a AND credits_posted - debits_posted - debits_pending >= 1;
UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = :b;
INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, ledger, code) VALUES (nextval('transfer_ids'), :a, :b, 1, 1, 1);
COMMIT;
`;

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '::1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const asRoot = process.getuid?.() === 0;
const AS_POSTGRES = ['--reuid=postgres', '--regid=postgres', '--init-groups'];
const run = (cmd, argv, opts = {}) => (asRoot ? execFileSync('setpriv', [...AS_POSTGRES, cmd, ...argv], opts) : execFileSync(cmd, argv, opts));

// pgbench -l -j 2 writes one log per thread (<prefix>.<pid>, <prefix>.<pid>.1). A line is
// `client_id transaction_no time script_no time_epoch time_us [...]`, `time` the latency in µs, or
// `skipped`/`failed` for a transaction that did not complete (none expected: ids ordered, no
// --rate); those are left out of the latencies and counted so that a surprise shows.
const LOG_PREFIX = 'txlog';
const transactionLatenciesUs = (logDir) => {
  const latencies = [];
  let incomplete = 0;
  for (const file of readdirSync(logDir).filter((f) => f.startsWith(`${LOG_PREFIX}.`))) {
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const us = Number(line.split(' ')[2]);
      if (Number.isFinite(us)) latencies.push(us);
      else incomplete++;
    }
  }
  if (incomplete > 0) process.stderr.write(`[postgres] ${incomplete} transactions skipped or failed (left out of the latencies)\n`);
  return latencies;
};

const dir = mkdtempSync(join(tmpdir(), 'caesar-bench-pg-'));
chmodSync(dir, 0o755);
if (asRoot) chownSync(dir, 101, 104);
const data = join(dir, 'data');
const port = await freePort();
run(join(BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'bench', '--no-sync'], { stdio: 'ignore' });
const serverArgs = [join(BIN, 'postgres'), '-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=::1', '-c', 'synchronous_commit=on', '-c', 'fsync=on', '-c', `max_connections=${CLIENTS + 10}`];
const server = asRoot ? spawn('setpriv', [...AS_POSTGRES, ...serverArgs], { stdio: 'ignore' }) : spawn(serverArgs[0], serverArgs.slice(1), { stdio: 'ignore' });
try {
  for (;;) {
    try {
      execFileSync(join(BIN, 'pg_isready'), ['-h', '::1', '-p', String(port)], { stdio: 'ignore' });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100)); // polling readiness of a process we started
    }
  }
  const schema = join(dir, 'schema.sql');
  const script = join(dir, 'transfer.sql');
  writeFileSync(schema, SCHEMA);
  writeFileSync(script, TRANSFER);
  chmodSync(schema, 0o644);
  chmodSync(script, 0o644);
  execFileSync(join(BIN, 'psql'), ['-h', '::1', '-p', String(port), '-U', 'bench', '-d', 'postgres', '-q', '-v', 'ON_ERROR_STOP=1', '-f', schema], { stdio: 'ignore' });
  const out = execFileSync(join(BIN, 'pgbench'), ['-h', '::1', '-p', String(port), '-U', 'bench', '-n', '-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS), '-r', '-l', '--log-prefix', join(dir, LOG_PREFIX), '-f', script, 'postgres'], { encoding: 'utf8' });
  const tps = Number(/tps = ([0-9.]+)/.exec(out)?.[1]);
  const latency = Number(/latency average = ([0-9.]+) ms/.exec(out)?.[1]);
  const { p50, p99, count } = p50p99(transactionLatenciesUs(dir));
  const result = { workload: `postgres_c${CLIENTS}`, clients: CLIENTS, transfersPerSecond: Math.round(tps), latencyAverageMs: latency, latencyP50Ms: p50 / 1000, latencyP99Ms: p99 / 1000, transactionsLogged: count, seconds: SECONDS };
  if (json) process.stdout.write(`${JSON.stringify([result])}\n`);
  else process.stdout.write(`${result.workload.padEnd(12)} ${String(result.transfersPerSecond).padStart(8)} transfers/s  latency p50 ${result.latencyP50Ms} ms  p99 ${result.latencyP99Ms} ms  avg ${latency} ms (one transfer per transaction, ${count} transactions)\n`);
} finally {
  server.kill('SIGINT');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}

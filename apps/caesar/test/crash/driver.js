// Child process for the crash test: opens the ledger, then `workers` concurrent loops each submit
// batch after batch (crash/workload.ts) and print "send <worker> <seq>" before submitting and
// "ack <worker> <seq> <result indices>" once the batch is durable. The parent SIGKILLs it at a
// random moment. It runs the current TypeScript sources, transpiled once per test run by the
// test into <jsRoot> (so it never depends on a stale dist/ and starts in milliseconds).
// <path> is an SQLite file, or `postgres:<schema>` for a ledger in PostgreSQL at
// $CAESAR_CRASH_PG_URL (password from $PGPASSWORD, as node-postgres reads it).
'use strict';
const { join } = require('node:path');

async function main() {
  const [jsRoot, path, seed, round, workers] = process.argv.slice(2).map((v, i) => (i < 2 ? v : Number(v)));
  const { DurableLedger, CREATE_TRANSFER_RESULTS } = require(join(jsRoot, 'src', 'index.js'));
  const { CRASH_ACCOUNTS, crashBatch } = require(join(jsRoot, 'test', 'crash', 'workload.js'));
  // Balance checkpoints every 300 transfers, so kills also land in and between checkpoints and
  // reopening verifies stored balances as of an older instant.
  const options = { create: true, checkpointEvery: 300 };
  const ledger = path.startsWith('postgres:')
    ? await DurableLedger.openPostgres({ url: process.env.CAESAR_CRASH_PG_URL, schema: path.slice('postgres:'.length) }, options)
    : DurableLedger.open(path, options);
  const out = (line) => process.stdout.write(`${line}\n`);
  const accounts = await ledger.createAccounts(CRASH_ACCOUNTS);
  if (accounts.some((r) => r !== 'ok' && r !== 'exists')) throw new Error(`setup accounts: ${accounts}`);
  out('open');
  const index = new Map(CREATE_TRANSFER_RESULTS.map((r, i) => [r, i]));
  const worker = async (w) => {
    for (let seq = 0; ; seq++) {
      const batch = crashBatch(seed, round, w, seq);
      out(`send ${w} ${seq}`);
      const results = await ledger.createTransfers(batch);
      out(`ack ${w} ${seq} ${results.map((r) => index.get(r)).join('.')}`);
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
}

main().catch((err) => {
  process.stderr.write(`crash driver failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

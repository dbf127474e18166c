// Crash safety with real processes: a child (crash/driver.js) runs 4 concurrent submitters against
// one DurableLedger and prints each batch it sends and each batch acknowledged (durable). We
// SIGKILL it after a seeded random number of acknowledgements — waiting on its output, never on
// time — reopen the ledger (which re-verifies balances against transfers and every invariant),
// and check: every acknowledged transfer is present with the result it was acknowledged with
// (ok ⇔ stored, with its fields; a post/void's pending transfer resolved), and no linked chain of
// any batch sent — acknowledged or in flight at the kill — is partly applied. 20 rounds on one
// database; each round's child continues from what the previous ones left. Against SQLite, and
// against PostgreSQL when installed (there the kill drops Caesar's connection mid-transaction;
// the reopen waits for the dead session's advisory lock, see PostgresStoreOptions.lockWaitMs).
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import * as ts from 'typescript';
import { createInterface } from 'node:readline';
import { CREATE_TRANSFER_RESULTS, DurableLedger, TransferFlags, type TransferInput } from '../src';
import { chainsOf, crashBatch, prng } from './crash/workload';
import { type LedgerBackend, ledgerBackends } from './helpers/ledger-backends';

const backends = ledgerBackends();

const ROUNDS = 20;
const WORKERS = 4;
let dir = '';
let jsRoot = '';

/** Transpiles src/ and the crash workload to CommonJS under jsRoot, for the child processes. */
function transpile(root: string, out: string): void {
  const files: string[] = [join(root, 'test', 'crash', 'workload.ts')];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(root, 'src'));
  for (const file of files) {
    const js = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'caesar-crash-'));
  jsRoot = join(dir, 'js');
  transpile(join(__dirname, '..'), jsRoot);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Round {
  sent: Array<{ worker: number; seq: number }>;
  acked: Array<{ worker: number; seq: number; results: string[] }>;
}

function runAndKill(backend: LedgerBackend, path: string, seed: number, round: number, killAfter: number): Promise<Round> {
  const pg = backend.name === 'postgres' ? backends.postgres!.server : null;
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'crash', 'driver.js'), [jsRoot, pg ? `postgres:${path}` : path, String(seed), String(round), String(WORKERS)], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      // The transpiled sources live in a temp dir: resolve better-sqlite3 from the workspace.
      env: {
        ...process.env,
        NODE_PATH: [join(__dirname, '..', 'node_modules'), join(__dirname, '..', '..', '..', 'node_modules')].join(delimiter),
        ...(pg ? { CAESAR_CRASH_PG_URL: pg.url(), PGPASSWORD: pg.password } : {}),
      },
    });
    const run: Round = { sent: [], acked: [] };
    let killed = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [kind, w, s, r] = line.split(' ');
      if (kind === 'send') run.sent.push({ worker: Number(w), seq: Number(s) });
      if (kind === 'ack') run.acked.push({ worker: Number(w), seq: Number(s), results: r!.split('.').map((i) => CREATE_TRANSFER_RESULTS[Number(i)]!) });
      if (!killed && run.acked.length >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolve(run);
      else reject(new Error(`driver exited (code ${code}, signal ${signal}) after ${run.acked.length} acks`));
    });
  });
}

type Ack = { round: number; worker: number; seq: number; results: string[] };

/** Every acknowledged event reads back with its result: ok ⇔ stored, with its fields. Returns the oks. */
async function checkAcknowledged(ledger: DurableLedger, seed: number, acks: readonly Ack[], context: string): Promise<number> {
  let ok = 0;
  for (const a of acks) {
    const events = crashBatch(seed, a.round, a.worker, a.seq);
    if (a.results.length !== events.length) throw new Error(`${context}: ${a.results.length} results for ${events.length} events`);
    const byId = new Map((await ledger.lookupTransfers(events.map((e) => e.id))).map((t) => [t.id, t]));
    const statuses = await ledger.pendingStatuses(events.map((e) => e.pendingId ?? 0n));
    events.forEach((e, i) => {
      const t = byId.get(e.id);
      if (a.results[i] !== 'ok') {
        if (t) throw new Error(`${context}: transfer ${e.id} was acknowledged as ${a.results[i]} but is stored`);
        return;
      }
      if (!t) throw new Error(`${context}: acknowledged transfer ${e.id} is missing`);
      ok += 1;
      const flags = e.flags ?? 0;
      let same: boolean;
      if (e.pendingId) {
        const status = statuses.get(e.pendingId);
        same = t.pendingId === e.pendingId && status === (flags & TransferFlags.postPendingTransfer ? 'posted' : 'voided');
      } else {
        same = t.debitAccountId === e.debitAccountId && t.creditAccountId === e.creditAccountId && t.amount === e.amount && t.code === e.code;
      }
      if (!same || t.flags !== flags) throw new Error(`${context}: transfer ${e.id} is stored differently than acknowledged`);
    });
  }
  return ok;
}

describe.each(backends.all)('$name store', (backend) => {
  test(`SIGKILL at ${ROUNDS} random moments loses no acknowledged transfer and never leaves half a linked chain`, async () => {
    const seed = Number(process.env.CAESAR_CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = prng(seed);
    const path = backend.name === 'sqlite' ? join(dir, 'ledger.db') : backend.fresh();
    const acked: Ack[] = [];
    let checkedChains = 0;
    let okTransfers = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 1 + Math.floor(random() * 30);
      const run = await runAndKill(backend, path, seed, round, killAfter);
      acked.push(...run.acked.map((a) => ({ ...a, round })));

      const ledger = await backend.open(path); // verifies balances against transfers and the invariants
      try {
        const context = `(seed ${seed}, round ${round})`;
        // This round's acknowledged batches read back as acknowledged (all rounds' once more at the end).
        okTransfers += await checkAcknowledged(ledger, seed, run.acked.map((a) => ({ ...a, round })), context);
        // No chain of any batch this round sent is half applied (acknowledged or in flight at the kill).
        for (const s of run.sent) {
          const events: TransferInput[] = crashBatch(seed, round, s.worker, s.seq);
          for (const [start, end] of chainsOf(events)) {
            const ids = events.slice(start, end + 1).map((e) => e.id);
            const present = (await ledger.lookupTransfers(ids)).length;
            if (present !== 0 && present !== ids.length) throw new Error(`${context}: linked chain ${ids.join(',')} is half applied (${present}/${ids.length})`);
            checkedChains += 1;
          }
        }
      } finally {
        await ledger.close();
      }
    }
    const ledger = await backend.open(path);
    try {
      await checkAcknowledged(ledger, seed, acked, `(seed ${seed}, after the last round)`);
    } finally {
      await ledger.close();
    }
    expect(acked.length).toBeGreaterThanOrEqual(ROUNDS);
    expect(okTransfers).toBeGreaterThan(100);
    expect(checkedChains).toBeGreaterThan(20);
  }, 120_000);
});

// caesar serve's wiring of the store: the --store flags pick SQLite in the data dir or PostgreSQL
// (password from a 0600 file), the ledger opens, commits reach the metrics, stop() closes the
// store. With PostgreSQL, the supply gauge never shows a commit in flight (it keeps the figure of
// the last commit until COMMIT returns).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { RpcServer, type ServiceMetricSample } from '@stoq/rpc';
import type { ServiceContext } from '@stoq/service';
import { startCaesar } from '../../src/service/start-caesar';
import { settingsFromFlags, type ServeValues } from '../../src/settings';
import { usePostgres } from '../helpers/postgres-server';

const pg = usePostgres();
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'caesar-start-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The parts of a ServiceContext startCaesar uses (the ledger, methods and metrics; no transport). */
function context(): { ctx: ServiceContext; metrics: () => readonly ServiceMetricSample[] } {
  const rpc = new RpcServer({ service: 'caesar' });
  const sources: Array<() => readonly ServiceMetricSample[]> = [];
  const add = rpc.addMetricSource.bind(rpc);
  rpc.addMetricSource = (source) => (sources.push(source), add(source));
  const ctx = { dataDir: dir, logger: pino({ level: 'silent' }), rpc, identity: () => { throw new Error('no identity in this test'); } } as unknown as ServiceContext;
  return { ctx, metrics: () => sources.flatMap((s) => s()) };
}

const supplyGauge = (samples: readonly ServiceMetricSample[]): number | undefined => samples.find((s) => s.name === 'caesar_total_supply' && s.labels?.['ledger'] === '1')?.value;
const MINT = { id: 900n, ledger: 1, code: 1, flags: 1 << 14 };
const HOLDER = { id: 901n, ledger: 1, code: 1 };
const mint = (id: bigint, amount: bigint) => ({ id, debitAccountId: 900n, creditAccountId: 901n, amount, ledger: 1, code: 1 });

test('the default store is SQLite in the data dir', async () => {
  const { ctx, metrics } = context();
  const caesar = await startCaesar(ctx, settingsFromFlags({}));
  expect(caesar.ledger.location).toBe(join(dir, 'caesar-ledger.sqlite'));
  await caesar.ledger.createAccounts([MINT, HOLDER]);
  await caesar.ledger.createTransfers([mint(1n, 40n)]);
  expect(supplyGauge(metrics())).toBe(40);
  // The supply invariant, recomputed from the accounts at each scrape, holds.
  expect(metrics().find((m) => m.name === 'caesar_supply_invariant_holds' && m.labels?.['ledger'] === '1')?.value).toBe(1);
  await caesar.stop!();
  expect(caesar.ledger.status).toBe('closed');
});

(pg ? test : test.skip)('--store postgres: the password from a file, the ledger in PostgreSQL; the supply gauge shows committed state only', async () => {
  const server = pg!.server;
  const passwordFile = join(dir, 'pgpass');
  writeFileSync(passwordFile, `${server.password}\n`, { mode: 0o600 });
  const flags: ServeValues = { store: 'postgres', 'postgres-url': server.url(), 'postgres-password-file': passwordFile, 'postgres-schema': 'caesar_service' };
  const { ctx, metrics } = context();
  const caesar = await startCaesar(ctx, settingsFromFlags(flags));
  expect(caesar.ledger.location).toMatch(/^postgresql:\/\/caesar_test@\[::1\]:\d+\/postgres schema caesar_service$/);
  await caesar.ledger.createAccounts([MINT, HOLDER]);
  await caesar.ledger.createTransfers([mint(1n, 40n)]);
  expect(supplyGauge(metrics())).toBe(40);

  // Hold the next commit inside the server: the core has it, the gauge must not.
  const admin = await server.admin();
  try {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE caesar_service.meta IN ACCESS EXCLUSIVE MODE');
    const pending = caesar.ledger.createTransfers([mint(2n, 2n)]);
    const deadline = Date.now() + 30_000;
    while (Number((await admin.query('SELECT count(*) AS n FROM pg_locks WHERE NOT granted')).rows[0].n) === 0) {
      if (Date.now() > deadline) throw new Error('the commit never waited for the lock');
      await new Promise((r) => setTimeout(r, 10)); // polling the server's lock table
    }
    expect(caesar.ledger.committedView()).toBeNull();
    expect(supplyGauge(metrics())).toBe(40);
    await admin.query('ROLLBACK');
    expect(await pending).toEqual(['ok']);
    expect(supplyGauge(metrics())).toBe(42);
  } finally {
    await admin.end();
  }
  await caesar.stop!();
  // Closed: its advisory lock is free, and a restart opens the same ledger.
  const again = await startCaesar(context().ctx, settingsFromFlags(flags));
  expect(again.ledger.ledgerId).toBe(caesar.ledger.ledgerId);
  expect((await again.ledger.supply(1)).circulating).toBe(42n);
  await again.stop!();
});

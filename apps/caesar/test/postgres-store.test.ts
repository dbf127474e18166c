// What is particular to the PostgreSQL store (the behaviour both stores share is in
// durable-ledger.test.ts): while a group's transaction is in flight the core is ahead of the
// database, so queries wait for COMMIT and nobody is answered before it returns; a lost connection
// or a server that goes down stops the ledger with nothing of the group acknowledged, and a reopen
// after a server restart (crash-like, SIGQUIT) has exactly what was acknowledged; one writer per
// ledger (advisory lock); a session with synchronous_commit off is refused; open never uses or
// replaces what is not a Caesar ledger. A real server from Debian's package (helpers/postgres-server.ts).
import type { Client } from 'pg';
import { AccountFlags, DurableLedger, type DurableLedgerOptions, LedgerError, TransferFlags, type TransferInput } from '../src';
import { SUPPLY_ACCOUNTS } from './helpers/arbitraries';
import { usePostgres } from './helpers/postgres-server';

const pg = usePostgres();
const describePg = pg ? describe : describe.skip;

let n = 0;
const fresh = (): string => `ledger_${n++}`;
const open = (schema: string, options: DurableLedgerOptions = {}, database = 'postgres'): Promise<DurableLedger> =>
  DurableLedger.openPostgres({ url: pg!.server.url(database), password: pg!.server.password, schema }, options);

async function refused(p: Promise<unknown>, code: string): Promise<LedgerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LedgerError);
  expect((err as LedgerError).code).toBe(code);
  return err as LedgerError;
}

/** Waits (bounded) until `probe` holds: a condition on the server, polled, never a guessed delay. */
async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Blocks Caesar's next commit inside its transaction: another session holds meta's lock. */
async function blockCommits(admin: Client, schema: string): Promise<{ waiting(): Promise<void>; release(): Promise<void> }> {
  await admin.query('BEGIN');
  await admin.query(`LOCK TABLE "${schema}".meta IN ACCESS EXCLUSIVE MODE`);
  return {
    waiting: () => until('Caesar waits for the lock', async () => Number((await admin.query("SELECT count(*) AS n FROM pg_locks WHERE NOT granted")).rows[0].n) > 0),
    release: async () => {
      await admin.query('ROLLBACK');
    },
  };
}

/** Lets the event loop run every callback that is ready (several turns), without waiting on time. */
async function turns(k = 20): Promise<void> {
  for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
}

const t = (id: bigint, amount = 1n, more: Partial<TransferInput> = {}): TransferInput => ({ id, debitAccountId: 100n, creditAccountId: 1n, amount, ledger: 1, code: 1, ...more });

describePg('PostgreSQL store', () => {
  let admin: Client;
  beforeAll(async () => {
    admin = await pg!.server.admin();
  });
  afterAll(async () => {
    await admin?.end();
  });

  test('queries during an in-flight commit wait for COMMIT and show only committed state; nobody is answered before it', async () => {
    const schema = fresh();
    const ledger = await open(schema, { create: true });
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1, flags: AccountFlags.history }]);
    expect(await ledger.createTransfers([t(1n, 5n)])).toEqual(['ok']);
    const before = ledger.lastTimestamp;

    const block = await blockCommits(admin, schema);
    const settled: string[] = [];
    const write = ledger.createTransfers([t(2n, 7n), t(3n, 11n, { flags: TransferFlags.pending })]).then((r) => (settled.push('write'), r));
    await block.waiting();
    // The group is applied to the core and its transaction is open in PostgreSQL, not committed.
    expect(ledger.committedView()).toBeNull();
    expect(ledger.lastTimestamp).toBe(before);
    const reads = {
      transfers: ledger.lookupTransfers([1n, 2n, 3n]).then((r) => (settled.push('transfers'), r)),
      account: ledger.lookupAccounts([1n]).then((r) => (settled.push('account'), r)),
      statuses: ledger.pendingStatuses([3n]).then((r) => (settled.push('statuses'), r)),
      history: ledger.getAccountBalances({ accountId: 1n, limit: 10 }).then((r) => (settled.push('history'), r)),
      supply: ledger.supply(1).then((r) => (settled.push('supply'), r)),
      read: ledger.read((v) => v.lookupAccount(1n)!.creditsPosted).then((r) => (settled.push('read'), r)),
    };
    const later = ledger.createTransfers([t(4n, 13n)]).then((r) => (settled.push('later'), r));
    // Another session sees nothing of the open transaction, and nothing was answered.
    expect((await admin.query(`SELECT count(*) AS n FROM "${schema}".transfers`)).rows[0].n).toBe('1');
    await turns();
    expect(settled).toEqual([]);

    await block.release();
    expect(await write).toEqual(['ok', 'ok']);
    // Every query answers after the commit, with it (and none with the next group, which waits too).
    expect((await reads.transfers).map((x) => x.id)).toEqual([1n, 2n, 3n]);
    expect((await reads.account)[0]).toMatchObject({ creditsPosted: 12n, creditsPending: 11n });
    expect(await reads.statuses).toEqual(new Map([[3n, 'pending']]));
    expect((await reads.history).map((b) => b.creditsPosted)).toEqual([5n, 12n, 12n]);
    expect(await reads.supply).toEqual(expect.objectContaining({ minted: expect.any(BigInt) }));
    expect(await reads.read).toBe(12n);
    expect(settled[0]).toBe('write');
    expect(await later).toEqual(['ok']);
    expect((await ledger.lookupAccounts([1n]))[0]!.creditsPosted).toBe(25n);
    expect(ledger.committedView()?.lookupAccount(1n)?.creditsPosted).toBe(25n);
    await ledger.close();
  });

  test('batches arriving during an in-flight commit form the next group', async () => {
    const schema = fresh();
    const ledger = await open(schema, { create: true });
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
    const block = await blockCommits(admin, schema);
    const first = ledger.createTransfers([t(1n)]);
    await block.waiting();
    const commits = ledger.groupCommitStats.commits;
    const next = Array.from({ length: 10 }, (_, i) => ledger.createTransfers([t(BigInt(10 + i))]));
    await turns();
    await block.release();
    expect(await first).toEqual(['ok']);
    expect(await Promise.all(next)).toEqual(Array.from({ length: 10 }, () => ['ok']));
    const stats = ledger.groupCommitStats;
    expect(stats.commits).toBe(commits + 2); // the ten queued batches shared one commit
    expect(stats.largestGroup).toBe(10);
    await ledger.close();
  });

  test('a connection lost mid-commit stops the ledger: nothing of the group is acknowledged, reopen restores the committed state', async () => {
    const schema = fresh();
    let failures = 0;
    const ledger = await open(schema, { create: true, onFailed: () => failures++ });
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
    expect(await ledger.createTransfers([t(1n, 5n)])).toEqual(['ok']);
    const block = await blockCommits(admin, schema);
    const lost = ledger.createTransfers([t(2n, 7n, { flags: TransferFlags.linked }), t(3n, 9n)]);
    await block.waiting();
    const read = ledger.lookupTransfers([2n]);
    const queued = ledger.createTransfers([t(4n)]);
    const killed = await admin.query("SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE application_name = 'caesar' AND pid <> pg_backend_pid()");
    expect(killed.rows).toEqual([{ k: true }]);
    await refused(lost, 'UNAVAILABLE');
    await refused(read, 'UNAVAILABLE');
    await refused(queued, 'UNAVAILABLE');
    await refused(ledger.createTransfers([t(5n)]), 'UNAVAILABLE');
    await refused(ledger.lookupAccounts([1n]), 'UNAVAILABLE');
    expect(ledger.status).toBe('failed');
    expect(failures).toBe(1);
    await block.release();
    await ledger.close();

    const reopened = await open(schema);
    expect((await reopened.lookupTransfers([1n, 2n, 3n, 4n, 5n])).map((x) => x.id)).toEqual([1n]);
    expect((await reopened.lookupAccounts([1n]))[0]!.creditsPosted).toBe(5n);
    expect(await reopened.createTransfers([t(2n, 7n)])).toEqual(['ok']);
    await reopened.close();
  });

  test('a commit that does not answer within queryTimeoutMs stops the ledger; nothing of it is stored', async () => {
    const schema = fresh();
    const setup = await open(schema, { create: true });
    await setup.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
    await setup.close();
    // Generous enough for the small queries of open on a loaded machine; the blocked commit below
    // waits for a lock that is never released before the timeout, whatever the timeout is.
    const ledger = await DurableLedger.openPostgres({ url: pg!.server.url(), password: pg!.server.password, schema, queryTimeoutMs: 2_000 });
    const block = await blockCommits(admin, schema);
    // Blocked by the lock until released: the timeout fires whatever the machine's speed.
    const err = await refused(ledger.createTransfers([t(1n)]), 'UNAVAILABLE');
    expect(err.message).toMatch(/timeout/);
    expect(ledger.status).toBe('failed');
    await ledger.close(); // ends the session: the server rolls the open transaction back
    await block.release();
    const reopened = await open(schema);
    expect(await reopened.lookupTransfers([1n])).toEqual([]);
    await reopened.close();
  });

  test('a second Caesar on the same ledger is refused (advisory lock) until the first closes', async () => {
    const schema = fresh();
    const first = await open(schema, { create: true });
    const noWait = { url: pg!.server.url(), password: pg!.server.password, schema, lockWaitMs: 0 };
    const err = await refused(DurableLedger.openPostgres(noWait, { create: true }), 'STORE_LOCKED');
    expect(err.message).toMatch(/another Caesar/);
    // Waiting for the lock (server-side, lock_timeout) ends the same way while the first holds it.
    await refused(DurableLedger.openPostgres({ ...noWait, lockWaitMs: 200 }), 'STORE_LOCKED');
    // ...and gets it once the first closes.
    const waiting = DurableLedger.openPostgres({ ...noWait, lockWaitMs: 30_000 });
    // Another ledger (schema) in the same database is another lock.
    const other = await open(fresh(), { create: true });
    await other.close();
    await until('the waiting open queues for the lock', async () => Number((await admin.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0].n) > 0);
    await first.close();
    const second = await waiting;
    expect(second.ledgerId).toBe(first.ledgerId);
    await second.close();
  });

  test('refuses a session with synchronous_commit off, and opens nothing', async () => {
    await admin.query('CREATE DATABASE caesar_nosync');
    await admin.query('ALTER DATABASE caesar_nosync SET synchronous_commit = off');
    const err = await refused(open('caesar', { create: true }, 'caesar_nosync'), 'STORE_NOT_DURABLE');
    expect(err.message).toMatch(/synchronous_commit = off/);
    const db = await pg!.server.admin('caesar_nosync');
    try {
      expect((await db.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'caesar'")).rows[0].n).toBe('0');
    } finally {
      await db.end();
    }
  });

  test('open: missing without create, foreign, other version, other ledger, tampered balances, bad password; create on an existing ledger opens it', async () => {
    await refused(open(fresh()), 'STORE_NOT_FOUND');
    // A schema holding someone else's tables is never used (nor changed).
    await admin.query('CREATE SCHEMA shop; CREATE TABLE shop.orders (id int)');
    await refused(open('shop', { create: true }), 'STORE_FOREIGN');
    expect((await admin.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'shop'")).rows[0].n).toBe('1');
    await refused(DurableLedger.openPostgres({ url: pg!.server.url(), password: 'wrong', schema: fresh() }, { create: true }), 'UNAVAILABLE');
    await refused(open('Not-A-Name', { create: true }), 'INVALID_ARGUMENT');

    const schema = fresh();
    const ledger = await open(schema, { create: true, checkpointEvery: 1 });
    const id = ledger.ledgerId;
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
    await ledger.createTransfers([t(1n, 5n)]);
    await ledger.close();
    const again = await open(schema, { create: true });
    expect(again.ledgerId).toBe(id);
    await again.close();
    await refused(open(schema, { expectedLedgerId: '00000000-0000-4000-8000-000000000000' }), 'STORE_FOREIGN');
    // A stored balance that does not match the transfers (checkpointed on close).
    await admin.query(`UPDATE "${schema}".accounts SET credits_posted = 6 WHERE id = 1`);
    const damaged = await refused(open(schema), 'STORE_DAMAGED');
    expect(damaged.message).toMatch(/balances_match_transfers/);
    await admin.query(`UPDATE "${schema}".accounts SET credits_posted = 5 WHERE id = 1`);
    await admin.query(`UPDATE "${schema}".meta SET value = '99' WHERE key = 'schema_version'`);
    await refused(open(schema), 'STORE_VERSION');
    await admin.query(`UPDATE "${schema}".meta SET value = '1' WHERE key = 'schema_version'`);
    const fine = await open(schema);
    expect((await fine.lookupAccounts([1n]))[0]!.creditsPosted).toBe(5n);
    await fine.close();
  });

  // Last: it restarts the server.
  test('after the server goes down (crash-like) under load, a reopen has every acknowledged transfer and no half chain; an idle ledger stops too', async () => {
    const schema = fresh();
    let failures = 0;
    const ledger = await open(schema, { create: true, onFailed: () => failures++ });
    await ledger.createAccounts([...SUPPLY_ACCOUNTS, { id: 1n, ledger: 1, code: 1 }]);
    const acked: bigint[][] = [];
    const sent: bigint[][] = [];
    let stop = false;
    let reachedAcks: () => void = () => undefined;
    const enough = new Promise<void>((r) => (reachedAcks = r));
    const worker = async (w: number): Promise<void> => {
      for (let seq = 0; !stop; seq++) {
        const base = BigInt(1_000_000 * (w + 1) + seq * 10);
        const chain = [t(base, 1n, { flags: TransferFlags.linked }), t(base + 1n, 2n, { flags: TransferFlags.linked }), t(base + 2n, 3n)];
        sent.push(chain.map((x) => x.id));
        try {
          const r = await ledger.createTransfers(chain);
          expect(r).toEqual(['ok', 'ok', 'ok']);
          acked.push(chain.map((x) => x.id));
          if (acked.length >= 40) reachedAcks();
        } catch (err) {
          expect((err as LedgerError).code).toBe('UNAVAILABLE');
          return;
        }
      }
    };
    const workers = Promise.all([0, 1, 2, 3].map(worker));
    await enough;
    await admin.end().catch(() => undefined);
    await pg!.server.stop('immediate');
    stop = true;
    await workers;
    expect(ledger.status).toBe('failed');
    expect(failures).toBe(1);
    await ledger.close();
    await pg!.server.start();
    admin = await pg!.server.admin();

    const reopened = await open(schema); // verifies balances against transfers and the invariants
    const storedIds = new Set((await reopened.getAccountTransfers({ accountId: 1n, limit: 8190 })).map((x) => x.id));
    for (const chain of acked) for (const id of chain) expect(storedIds.has(id)).toBe(true);
    for (const chain of sent) {
      const present = chain.filter((id) => storedIds.has(id)).length;
      expect([0, chain.length]).toContain(present);
    }
    expect(storedIds.size).toBeLessThanOrEqual(sent.length * 3);
    expect(storedIds.size).toBeGreaterThanOrEqual(acked.length * 3);
    const account = (await reopened.lookupAccounts([1n]))[0]!;
    expect(account.creditsPosted).toBe(BigInt(storedIds.size / 3) * 6n);

    // An idle ledger whose server stops: the ledger stops at once (no write needed to notice).
    let idleFailed: () => void = () => undefined;
    const noticed = new Promise<void>((r) => (idleFailed = r));
    const idle = await open(fresh(), { create: true, onFailed: () => idleFailed() });
    await reopened.close();
    await admin.end();
    await pg!.server.stop('fast');
    await noticed;
    expect(idle.status).toBe('failed');
    await refused(idle.lookupAccounts([1n]), 'UNAVAILABLE');
    await idle.close();
    await pg!.server.start();
    admin = await pg!.server.admin();
  });
});

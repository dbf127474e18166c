// Caesar's durable state in PostgreSQL (node-postgres), for users who outgrow one machine's SQLite
// file: the same model and the same verification on open as ledger-database.ts, over one
// connection that this Caesar owns for as long as the ledger is open.
//
// Durability. A group of batches is ONE transaction (BEGIN, one INSERT … SELECT FROM unnest(…)
// per table, the clock in meta, COMMIT); write() resolves when COMMIT returned, which with
// synchronous_commit on means the commit record is flushed to the server's WAL. Open refuses a
// session whose synchronous_commit is off or whose server runs with fsync off (STORE_NOT_DURABLE):
// either would acknowledge transfers a server crash can lose. A failed statement or a lost
// connection fails the write; the store then refuses every later write (DurableLedger stops, and
// reopening restores what the database holds).
//
// One writer. Open takes a session-level advisory lock ("CSAR", hashtext(schema)) before reading
// anything, held by the connection until it closes: a second Caesar on the same ledger gets
// STORE_LOCKED (after `lockWaitMs`, default 10 s, for a killed Caesar's backend to go) instead of
// writing behind the first one's in-memory state. If the connection drops, the lock goes with it; this store never reconnects (the ledger
// stops and must be reopened, which re-verifies and re-takes the lock).
//
// Opening verifies like SQLite: meta's format/store/version/ledger id, then every balance is
// recomputed from the transfers and the stored checkpoint checked against them, and every
// invariant (Ledger.restore). It never creates over, or drops, anything it did not create:
// without `create` a missing schema is STORE_NOT_FOUND; a schema holding anything but a Caesar
// ledger is STORE_FOREIGN; another version STORE_VERSION.
import { Client, type ClientConfig, type QueryResultRow } from 'pg';
import { randomUUID } from 'node:crypto';
import { InvariantViolationError, LedgerError } from '../errors';
import { Ledger } from '../core/ledger';
import { MAX_BATCH_EVENTS } from '../core/batch-input';
import { U64_MAX } from '../core/integers';
import { type Account, type AccountBalance, type LedgerChanges, type PendingStatus, type Transfer, TransferFlags } from '../core/types';
import type { LedgerDatabaseOptions } from './ledger-database';
import { LEDGER_FORMAT } from './ledger-database';
import type { LedgerStore, OpenedLedgerStore } from './ledger-store';
import { ADVISORY_LOCK_KEY, PG_SCHEMA_VERSION, PG_STORE, SCHEMA_NAME, schemaDdl, statements } from './postgres-schema';

export interface PostgresStoreOptions {
  /**
   * libpq-style URL, e.g. `postgresql://caesar@[::1]:5432/caesar`. A password does not belong in
   * it: node-postgres reads PGPASSWORD or the PGPASSFILE / ~/.pgpass file, or pass `password`.
   */
  readonly url: string;
  /** The password (e.g. read from a password file); default: PGPASSWORD / PGPASSFILE. */
  readonly password?: string;
  /** The PostgreSQL schema holding the ledger's tables (default `caesar`). */
  readonly schema?: string;
  /** Give up connecting after this long (default 10,000 ms). */
  readonly connectTimeoutMs?: number;
  /**
   * Wait this long for the ledger's advisory lock (default 10,000 ms; 0: refuse at once). A Caesar
   * that was killed holds it until its server backend notices the dropped connection, so a
   * restart right after a kill -9 waits for that instead of failing.
   */
  readonly lockWaitMs?: number;
  /**
   * A statement (a commit's included) that has not answered after this long fails, and with it the
   * ledger (default 60,000 ms): a server that stopped answering without closing the connection
   * must not hold every caller and query forever. A commit of 8,190 transfers takes ~0.1 s.
   */
  readonly queryTimeoutMs?: number;
}

const STATUS_CODE: Record<PendingStatus, number> = { pending: 1, posted: 2, voided: 3, expired: 4 };
const STATUS_NAME: Record<number, PendingStatus> = { 2: 'posted', 3: 'voided', 4: 'expired' };
const PAGE = 50_000;

interface Query {
  readonly name?: string;
  readonly text: string;
  readonly values?: unknown[];
}
const I64_MAX = (1n << 63n) - 1n;

/** A URL as it may appear in logs and errors: no password. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable PostgreSQL URL)';
  }
}

/**
 * node-postgres lets the URL's fields override ClientConfig's (a URL without password would
 * erase `password`), so a given password goes into the in-memory URL. Without one, node-postgres
 * reads PGPASSWORD, then PGPASSFILE / ~/.pgpass.
 */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LedgerError('INVALID_ARGUMENT', 'the PostgreSQL URL is not a URL (postgresql://user@host:port/database)');
  }
  u.password = encodeURIComponent(password);
  return u.toString();
}

export class PostgresLedgerStore implements LedgerStore {
  private readonly sql: ReturnType<typeof statements>;
  private readonly dirty = new Set<bigint>();
  private core: Ledger | null = null;
  private sinceCheckpoint = 0;
  private lastWritten = 0n;
  private balancesAsOf = 0n;
  private broken: unknown = null;
  private closing = false;
  private lostListener: ((err: unknown) => void) | null = null;
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: Client,
    readonly location: string,
    readonly ledgerId: string,
    schema: string,
    private readonly checkpointEvery: number,
  ) {
    this.sql = statements(`"${schema}"`);
    const lost = (err: unknown): void => {
      if (this.closing || this.broken !== null) return;
      this.broken = err;
      this.lostListener?.(err);
    };
    client.on('error', (err) => lost(new LedgerError('UNAVAILABLE', `the PostgreSQL connection to ${location} failed: ${err.message}`, { cause: err })));
    client.on('end', () => lost(new LedgerError('UNAVAILABLE', `the PostgreSQL connection to ${location} ended`)));
  }

  /** Connects, takes the ledger's advisory lock, creates (with `create`) or verifies the ledger and restores it. */
  static async open(options: PostgresStoreOptions, ledgerOptions: LedgerDatabaseOptions = {}): Promise<OpenedLedgerStore> {
    const schema = options.schema ?? 'caesar';
    if (!SCHEMA_NAME.test(schema)) throw new LedgerError('INVALID_ARGUMENT', `PostgreSQL schema ${JSON.stringify(schema)} must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)`);
    const checkpointEvery = ledgerOptions.checkpointEvery ?? 262_144;
    if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw new LedgerError('INVALID_ARGUMENT', 'checkpointEvery must be a positive integer');
    const location = `${redactedUrl(options.url)} schema ${schema}`;
    const config: ClientConfig = {
      connectionString: withPassword(options.url, options.password),
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      query_timeout: options.queryTimeoutMs ?? 60_000,
      // TCP keepalives notice a server that vanished while the ledger is idle (onLost).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'caesar',
    };
    const client = new Client(config);
    // Until the store owns the client, a connection error must not be an unhandled 'error' event.
    const early = (): void => undefined;
    client.on('error', early);
    try {
      await client.connect();
    } catch (err) {
      client.removeListener('error', early);
      throw new LedgerError('UNAVAILABLE', `cannot connect to PostgreSQL at ${redactedUrl(options.url)}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await client.query('SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET lock_timeout = 0');
      await checkDurable(client, location);
      if (!(await takeLock(client, schema, options.lockWaitMs ?? 10_000))) {
        throw new LedgerError('STORE_LOCKED', `the Caesar ledger at ${location} is open in another Caesar (it holds the ledger's advisory lock); one writer per ledger`);
      }
      const ledgerId = await checkOrCreate(client, schema, location, ledgerOptions);
      const store = new PostgresLedgerStore(client, location, ledgerId, schema, checkpointEvery);
      client.removeListener('error', early);
      const ledger = await store.restore(ledgerOptions);
      return { store, ledger };
    } catch (err) {
      client.removeListener('error', early);
      client.on('error', early);
      await client.end().catch(() => undefined);
      throw translate(err, location);
    }
  }

  onLost(listener: (err: unknown) => void): void {
    this.lostListener = listener;
  }

  /**
   * Writes the changes of one or more batches in one transaction (with a balance checkpoint when
   * one is due); resolves once COMMIT returned. Every parameter is built before the first await,
   * from the core as it is now (exactly the state being committed).
   */
  write(groups: readonly LedgerChanges[]): Promise<void> {
    if (this.broken !== null) return Promise.reject(new LedgerError('UNAVAILABLE', 'a previous PostgreSQL write failed or the connection was lost; reopen the ledger', { cause: this.broken }));
    let last = 0n;
    for (const g of groups) {
      for (const a of g.accounts) this.dirty.add(a.id);
      this.sinceCheckpoint += g.transfers.length + g.pendingStatuses.length;
      if (g.lastTimestamp > last) last = g.lastTimestamp;
    }
    if (last > this.lastWritten) this.lastWritten = last;
    const checkpoint = this.sinceCheckpoint >= this.checkpointEvery;
    const queries: Query[] = [{ text: 'BEGIN' }];
    queries.push(...this.groupQueries(groups));
    if (last > 0n) queries.push(this.named('setMeta', ['last_timestamp', last.toString()]));
    if (checkpoint) queries.push(...this.checkpointQueries(this.lastWritten));
    queries.push({ text: 'COMMIT' });
    return this.serial(async () => {
      try {
        let answer = '';
        for (const query of queries) answer = (await this.client.query(query)).command;
        // COMMIT of a transaction that failed answers ROLLBACK (a statement error would have thrown first).
        if (answer !== 'COMMIT') throw new Error(`PostgreSQL answered ${answer} to COMMIT`);
      } catch (err) {
        this.broken = err;
        // Not awaited: after a timeout the connection may never answer again. The store is done
        // either way (closing the connection rolls back whatever is still open).
        void this.client.query('ROLLBACK').catch(() => undefined);
        throw new LedgerError('UNAVAILABLE', `the PostgreSQL commit at ${this.location} failed: ${(err as Error).message}`, { cause: err });
      }
      if (checkpoint) this.checkpointDone(this.lastWritten);
    });
  }

  async checkpoint(): Promise<void> {
    if (this.broken !== null) throw new LedgerError('UNAVAILABLE', 'a previous PostgreSQL write failed; no checkpoint of uncommitted balances');
    if (this.dirty.size === 0 && this.balancesAsOf === this.lastWritten) return;
    const asOf = this.lastWritten;
    const queries: Query[] = [{ text: 'BEGIN' }, ...this.checkpointQueries(asOf), { text: 'COMMIT' }];
    await this.serial(async () => {
      try {
        for (const query of queries) await this.client.query(query);
      } catch (err) {
        this.broken = err;
        void this.client.query('ROLLBACK').catch(() => undefined);
        throw new LedgerError('UNAVAILABLE', `the balance checkpoint at ${this.location} failed: ${(err as Error).message}`, { cause: err });
      }
    });
    this.checkpointDone(asOf);
  }

  accountBalances(accountId: bigint, min: bigint, max: bigint, reversed: boolean, limit: number, accept: (b: AccountBalance) => boolean): Promise<AccountBalance[]> {
    // Queued behind a commit in progress (if any) on the one connection: sees committed rows only.
    return this.serial(() => this.balancesPaged(accountId, min, max, reversed, limit, accept)).catch((err: unknown) => {
      // A lost connection or a statement past its timeout: the caller may retry (not INTERNAL).
      if (err instanceof LedgerError) throw err;
      throw new LedgerError('UNAVAILABLE', `reading balance history from ${this.location} failed: ${(err as Error).message}`, { cause: err });
    });
  }

  private async balancesPaged(accountId: bigint, min: bigint, max: bigint, reversed: boolean, limit: number, accept: (b: AccountBalance) => boolean): Promise<AccountBalance[]> {
    const out: AccountBalance[] = [];
    let lo = min > I64_MAX ? I64_MAX : min;
    let hi = max > I64_MAX ? I64_MAX : max;
    // Pages of at least a batch's worth: the filter runs here, so a small limit with a filter
    // that matches little would otherwise take a round trip per row on the connection commits
    // also use (found in review: limit 1 and a code no row has held every commit back).
    const pageSize = Math.max(limit, MAX_BATCH_EVENTS);
    for (;;) {
      const page = await this.client.query(reversed ? this.sql.balancesDesc : this.sql.balancesAsc, [accountId.toString(), lo.toString(), hi.toString(), pageSize]);
      for (const r of page.rows) {
        const b = toBalance(r);
        if (reversed) hi = b.timestamp - 1n;
        else lo = b.timestamp + 1n;
        if (!accept(b)) continue;
        out.push(b);
        if (out.length === limit) return out;
      }
      if (page.rows.length < pageSize || lo > hi) return out;
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Ending the session releases the advisory lock (and rolls back a transaction left open by a
    // failed commit). A server that stopped answering does not hold the shutdown: 5 s at most.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.client.end().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
  }

  /**
   * Runs `task` after every task submitted before it (one query at a time on the connection, in
   * submission order: a history read submitted after a commit runs after its COMMIT and before the
   * next group's BEGIN).
   */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** A prepared statement (parsed once per connection, by name). */
  private named(key: 'insertAccounts' | 'insertTransfers' | 'insertResolutions' | 'insertBalances' | 'setBalances' | 'setMeta', values: unknown[]): Query {
    return { name: `caesar_${key}`, text: this.sql[key], values };
  }

  private checkpointDone(asOf: bigint): void {
    this.dirty.clear();
    this.sinceCheckpoint = 0;
    this.balancesAsOf = asOf;
  }

  private groupQueries(groups: readonly LedgerChanges[]): Query[] {
    const out: Query[] = [];
    const accounts = groups.flatMap((g) => g.accountsCreated);
    if (accounts.length > 0) {
      const cols: unknown[][] = Array.from({ length: 12 }, () => []);
      for (const a of accounts) {
        const row = [a.id, a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted, a.userData128, a.userData64, a.userData32, a.ledger, a.code, a.flags, a.timestamp];
        row.forEach((v, i) => cols[i]!.push(typeof v === 'bigint' ? v.toString() : v));
      }
      out.push(this.named('insertAccounts', cols));
    }
    const transfers = groups.length === 1 ? groups[0]!.transfers : groups.flatMap((g) => g.transfers);
    if (transfers.length > 0) {
      const cols: unknown[][] = Array.from({ length: 13 }, () => []);
      for (const t of transfers) {
        const row = [t.timestamp, t.id, t.debitAccountId, t.creditAccountId, t.amount, t.pendingId, t.userData128, t.userData64, t.userData32, t.timeout, t.ledger, t.code, t.flags];
        row.forEach((v, i) => cols[i]!.push(typeof v === 'bigint' ? v.toString() : v));
      }
      out.push(this.named('insertTransfers', cols));
    }
    // A transfer created pending needs no row (its flag says it); only resolutions are written.
    const resolutions = groups.flatMap((g) => g.pendingStatuses).filter((p) => p.status !== 'pending');
    if (resolutions.length > 0) {
      out.push(this.named('insertResolutions', [resolutions.map((p) => p.id.toString()), resolutions.map((p) => STATUS_CODE[p.status]), resolutions.map((p) => (p.resolvedAt === undefined || p.resolvedAt === null ? null : p.resolvedAt.toString()))]));
    }
    const balances = groups.flatMap((g) => g.balances);
    if (balances.length > 0) {
      out.push(
        this.named('insertBalances', [balances.map((b) => b.accountId.toString()), balances.map((b) => b.timestamp.toString()), balances.map((b) => b.debitsPending.toString()), balances.map((b) => b.debitsPosted.toString()), balances.map((b) => b.creditsPending.toString()), balances.map((b) => b.creditsPosted.toString())]),
      );
    }
    return out;
  }

  /** The core's current balances of every account changed since the last checkpoint, as of `asOf`. */
  private checkpointQueries(asOf: bigint): Query[] {
    const cols: string[][] = [[], [], [], [], []];
    for (const id of this.dirty) {
      const a = this.core?.lookupAccount(id);
      if (!a) throw new LedgerError('UNAVAILABLE', `the balance checkpoint found no account ${id} in the ledger`);
      cols[0]!.push(a.id.toString());
      cols[1]!.push(a.debitsPending.toString());
      cols[2]!.push(a.debitsPosted.toString());
      cols[3]!.push(a.creditsPending.toString());
      cols[4]!.push(a.creditsPosted.toString());
    }
    const out: Query[] = [];
    if (cols[0]!.length > 0) out.push(this.named('setBalances', cols));
    out.push(this.named('setMeta', ['balances_as_of', asOf.toString()]));
    return out;
  }

  private async restore(options: LedgerDatabaseOptions): Promise<Ledger> {
    const meta = new Map((await this.client.query<{ key: string; value: string }>(this.sql.allMeta)).rows.map((r) => [r.key, r.value]));
    const lastTimestamp = decimal(meta.get('last_timestamp'), 'meta.last_timestamp', U64_MAX);
    const balancesAsOf = decimal(meta.get('balances_as_of'), 'meta.balances_as_of', U64_MAX);
    const statuses = new Map<bigint, PendingStatus>();
    const resolvedAt = new Map<bigint, bigint>();
    for (const r of (await this.client.query(this.sql.allResolutions)).rows) {
      const id = decimal(r.pending_id, 'pending_resolutions.pending_id');
      const status = STATUS_NAME[Number(r.status)];
      if (status === undefined) throw damaged(`pending_resolutions gives transfer ${id} status ${r.status}, not posted, voided or expired`);
      statuses.set(id, status);
      if (r.resolved_at !== null) resolvedAt.set(id, decimal(r.resolved_at, 'pending_resolutions.resolved_at', U64_MAX));
    }
    const resolutions = statuses.size;
    const accounts: Account[] = [];
    for (let after = '0'; ; ) {
      const rows = (await this.client.query(this.sql.accountsPage, [after, PAGE])).rows;
      for (const r of rows) accounts.push(toAccount(r));
      if (rows.length < PAGE) break;
      after = String(rows[rows.length - 1]!.timestamp);
    }
    const transfers: Transfer[] = [];
    let resolved = 0;
    for (let after = '0'; ; ) {
      const rows = (await this.client.query(this.sql.transfersPage, [after, PAGE])).rows;
      for (const r of rows) {
        const t = toTransfer(r);
        if (t.flags & TransferFlags.pending) {
          if (statuses.has(t.id)) resolved += 1;
          else statuses.set(t.id, 'pending');
        }
        transfers.push(t);
      }
      if (rows.length < PAGE) break;
      after = String(rows[rows.length - 1]!.timestamp);
    }
    if (resolved !== resolutions) throw damaged(`pending_resolutions names ${resolutions - resolved} transfers that are not pending transfers`);
    const ledger = Ledger.restore({ accounts, transfers, pendingStatuses: statuses, resolvedAt, lastTimestamp, balancesAsOf }, options.ledger);
    this.lastWritten = lastTimestamp;
    this.balancesAsOf = balancesAsOf;
    // Stored balances older than the last commit (no checkpoint since): the next one writes all.
    if (balancesAsOf !== lastTimestamp) for (const a of ledger.allAccounts()) this.dirty.add(a.id);
    this.core = ledger;
    return ledger;
  }
}

/**
 * The session-level advisory lock ("CSAR", hashtext(schema)), held until the connection closes:
 * pg_try_advisory_lock, or with a wait, pg_advisory_lock under lock_timeout (the server queues us
 * behind the holder; no polling).
 */
async function takeLock(client: Client, schema: string, waitMs: number): Promise<boolean> {
  if (waitMs <= 0) return (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::integer, hashtext($2)) AS locked', [ADVISORY_LOCK_KEY, schema])).rows[0]?.locked === true;
  await client.query(`SET lock_timeout = ${Math.ceil(waitMs)}`);
  try {
    await client.query('SELECT pg_advisory_lock($1::integer, hashtext($2))', [ADVISORY_LOCK_KEY, schema]);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return false; // lock_not_available: lock_timeout passed
    throw err;
  } finally {
    await client.query('SET lock_timeout = 0');
  }
}

/** Refuses a session that would acknowledge commits a crash can lose. */
async function checkDurable(client: Client, location: string): Promise<void> {
  const sync = (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit;
  if (sync === 'off') {
    throw new LedgerError('STORE_NOT_DURABLE', `PostgreSQL at ${location} runs with synchronous_commit = off: a COMMIT would return before it is durable, and Caesar answers after COMMIT. Set synchronous_commit = on (server, database or role) and restart Caesar`);
  }
  const fsync = (await client.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
  if (fsync === 'off') throw new LedgerError('STORE_NOT_DURABLE', `PostgreSQL at ${location} runs with fsync = off: a server crash can lose committed transactions. Turn fsync on`);
}

/** Read-only checks first (never touch what is not ours); then creation, in one transaction. */
async function checkOrCreate(client: Client, schema: string, location: string, options: LedgerDatabaseOptions): Promise<string> {
  const q = `"${schema}"`;
  const exists = (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
  const relations = exists ? Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')", [schema])).rows[0]!.n) : 0;
  if (!exists || relations === 0) {
    if (!options.create) {
      if (!exists) throw new LedgerError('STORE_NOT_FOUND', `no Caesar ledger at ${location}; create it first (create: true) or pass the right database and schema`);
      throw new LedgerError('STORE_FOREIGN', `${location} is an empty schema, not a Caesar ledger; pass create to make it one`);
    }
    const ledgerId = randomUUID();
    await client.query('BEGIN');
    try {
      if (!exists) await client.query(`CREATE SCHEMA ${q}`);
      await client.query(schemaDdl(q));
      const rows: Array<[string, string]> = [
        ['format', LEDGER_FORMAT],
        ['store', PG_STORE],
        ['schema_version', String(PG_SCHEMA_VERSION)],
        ['ledger_id', ledgerId],
        ['created_at', new Date().toISOString()],
        ['last_timestamp', '0'],
        ['balances_as_of', '0'],
      ];
      for (const [k, v] of rows) await client.query(`INSERT INTO ${q}.meta (key, value) VALUES ($1, $2)`, [k, v]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    if (options.expectedLedgerId !== undefined && options.expectedLedgerId !== ledgerId) {
      throw new LedgerError('STORE_FOREIGN', `${location} was just created, so it is not ledger ${options.expectedLedgerId}`);
    }
    return ledgerId;
  }
  const hasMeta = (await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${q}.meta`])).rows[0]?.t != null;
  const meta = hasMeta ? new Map((await client.query<{ key: string; value: string }>(`SELECT key, value FROM ${q}.meta`)).rows.map((r) => [r.key, r.value])) : new Map<string, string>();
  if (meta.get('format') !== LEDGER_FORMAT || meta.get('store') !== PG_STORE) {
    throw new LedgerError('STORE_FOREIGN', `${location} holds tables but not a Caesar ledger (format ${meta.get('format') ?? 'none'}); refusing to use it`);
  }
  const version = meta.get('schema_version');
  if (version !== String(PG_SCHEMA_VERSION)) {
    throw new LedgerError('STORE_VERSION', `${location} is a Caesar ledger of PostgreSQL schema version ${version ?? 'none'}; this Caesar reads version ${PG_SCHEMA_VERSION}`);
  }
  const ledgerId = meta.get('ledger_id');
  if (!ledgerId) throw damaged(`${location} has no ledger_id`);
  if (options.expectedLedgerId !== undefined && options.expectedLedgerId !== ledgerId) {
    throw new LedgerError('STORE_FOREIGN', `${location} holds ledger ${ledgerId}, not ${options.expectedLedgerId}; refusing to use another ledger`);
  }
  return ledgerId;
}

function translate(err: unknown, location: string): LedgerError {
  if (err instanceof InvariantViolationError) return new LedgerError('STORE_DAMAGED', `${location} holds a ledger that fails verification: ${err.message}`, { cause: err });
  if (err instanceof LedgerError) return err;
  return new LedgerError('UNAVAILABLE', `opening the Caesar ledger at ${location} failed: ${(err as Error).message}`, { cause: err });
}

function damaged(what: string): LedgerError {
  return new LedgerError('STORE_DAMAGED', `${what}; the PostgreSQL ledger is damaged`);
}

/** A numeric / bigint column (node-postgres reads both as decimal strings) as a bigint in [0, max]. */
function decimal(v: unknown, column: string, max = (1n << 128n) - 1n): bigint {
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) throw damaged(`column ${column} does not hold a non-negative integer`);
  const n = BigInt(v);
  if (n > max) throw damaged(`column ${column} holds ${n}, above ${max}`);
  return n;
}

function small(v: unknown, column: string, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw damaged(`column ${column} does not hold an integer in 0..${max}`);
  return n;
}

function toAccount(r: QueryResultRow): Account {
  return {
    id: decimal(r.id, 'accounts.id'),
    debitsPending: decimal(r.debits_pending, 'accounts.debits_pending'),
    debitsPosted: decimal(r.debits_posted, 'accounts.debits_posted'),
    creditsPending: decimal(r.credits_pending, 'accounts.credits_pending'),
    creditsPosted: decimal(r.credits_posted, 'accounts.credits_posted'),
    userData128: decimal(r.user_data_128, 'accounts.user_data_128'),
    userData64: decimal(r.user_data_64, 'accounts.user_data_64', U64_MAX),
    userData32: small(r.user_data_32, 'accounts.user_data_32', 0xffff_ffff),
    ledger: small(r.ledger, 'accounts.ledger', 0xffff_ffff),
    code: small(r.code, 'accounts.code', 0xffff),
    flags: small(r.flags, 'accounts.flags', 0xffff),
    timestamp: decimal(r.timestamp, 'accounts.timestamp', U64_MAX),
  };
}

function toTransfer(r: QueryResultRow): Transfer {
  return {
    id: decimal(r.id, 'transfers.id'),
    debitAccountId: decimal(r.debit_account_id, 'transfers.debit_account_id'),
    creditAccountId: decimal(r.credit_account_id, 'transfers.credit_account_id'),
    amount: decimal(r.amount, 'transfers.amount'),
    pendingId: decimal(r.pending_id, 'transfers.pending_id'),
    userData128: decimal(r.user_data_128, 'transfers.user_data_128'),
    userData64: decimal(r.user_data_64, 'transfers.user_data_64', U64_MAX),
    userData32: small(r.user_data_32, 'transfers.user_data_32', 0xffff_ffff),
    timeout: small(r.timeout, 'transfers.timeout', 0xffff_ffff),
    ledger: small(r.ledger, 'transfers.ledger', 0xffff_ffff),
    code: small(r.code, 'transfers.code', 0xffff),
    flags: small(r.flags, 'transfers.flags', 0xffff),
    timestamp: decimal(r.timestamp, 'transfers.timestamp', U64_MAX),
  };
}

function toBalance(r: QueryResultRow): AccountBalance {
  return {
    accountId: decimal(r.account_id, 'account_balances.account_id'),
    timestamp: decimal(r.timestamp, 'account_balances.timestamp', U64_MAX),
    debitsPending: decimal(r.debits_pending, 'account_balances.debits_pending'),
    debitsPosted: decimal(r.debits_posted, 'account_balances.debits_posted'),
    creditsPending: decimal(r.credits_pending, 'account_balances.credits_pending'),
    creditsPosted: decimal(r.credits_posted, 'account_balances.credits_posted'),
  };
}

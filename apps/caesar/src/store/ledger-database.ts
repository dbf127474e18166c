// Caesar's durable state in one SQLite database (better-sqlite3 12, WAL, synchronous=FULL,
// locking_mode=EXCLUSIVE): accounts, every transfer (with the status of pending ones and when it
// was resolved), the balance history of accounts with the `history` flag, and the ledger clock.
//
// Balances are derived data: every account balance is the sum of its transfers. They are written
// as a checkpoint (every `checkpointEvery` transfers, in the same transaction as a group commit,
// and on close), not at every commit — rewriting thousands of account rows per batch cost about
// a third of the commit time. Accounts are inserted at creation with zero balances. On open the
// ledger recomputes every balance from the transfers and checks the stored checkpoint against the
// transfers as of `balances_as_of` (with pending statuses as of then, from `resolved_at`).
// `write` applies the LedgerChanges of one or more batches in ONE transaction; when it returns,
// the transaction's WAL frames are fsync'd (synchronous=FULL), so a reply sent after it survives
// kill -9 and power loss. A transaction that did not commit leaves no trace (SQLite's atomicity),
// so a group of batches — and every linked chain in it — is on disk entirely or not at all.
//
// Schema version 2:
//   meta(key, value)      format = 'caesar-ledger', schema_version, ledger_id (random, fixed at
//                         creation), created_at, last_timestamp (the ledger clock, decimal ns),
//                         balances_as_of (the instant of the balance checkpoint)
//   accounts              id BLOB(16) primary key, balances BLOB(16) each (as of balances_as_of),
//                         user_data_128 BLOB(16), user_data_64 BLOB(8), user_data_32/ledger/code/
//                         flags INTEGER, timestamp
//   transfer_log          one row per commit: first_timestamp INTEGER PRIMARY KEY (the rowid:
//                         inserts append), last_timestamp, records = the commit's transfers as
//                         consecutive 128-byte records (transfer-records.ts, TigerBeetle's layout)
//   pending_resolutions   (pending_id, status 2 posted / 3 voided / 4 expired, resolved_at): one
//                         row when a pending transfer is resolved; a transfer with the `pending`
//                         flag and no row is pending
//   account_balances      (account_id, timestamp) → the four balances after that change
// No secondary index on transfers: lookups by id and by account are answered from memory (the
// core's id map and AccountTransfers), which open rebuilds from the log like the balances. One row
// per commit instead of one row and four B-tree inserts per transfer is what lets a commit keep up
// with the core (README, "Durable store"). Version 1 (one row per transfer, indexed by id, debit
// and credit account) is migrated to version 2 in one transaction when it is opened.
// The file's SQLite application_id is 0x43534152 ("CSAR").
//
// Opening refuses, with a typed LedgerError and without changing the file: a file that is not
// SQLite or not a Caesar ledger (STORE_FOREIGN), another ledger than `expectedLedgerId`
// (STORE_FOREIGN), a schema version other than 1 (migrated) and 2 (STORE_VERSION), a file
// failing SQLite's quick_check or whose rows contradict each other or the invariants
// (STORE_DAMAGED), a ledger another process has open (STORE_LOCKED). Nothing is ever created over an existing file that is not an empty database.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvariantViolationError, LedgerError } from '../errors';
import { MAX_BATCH_EVENTS } from '../core/batch-input';
import { U64_MAX } from '../core/integers';
import { Ledger, type LedgerOptions } from '../core/ledger';
import { type Account, type AccountBalance, type LedgerChanges, type PendingStatus, type Transfer, TransferFlags } from '../core/types';
import { bytesU128, bytesU64, intColumn, u128Bytes, u128Into, u64Bytes } from './codec';
import type { LedgerStore } from './ledger-store';
import { decodeTransfers, encodeTransfers } from './transfer-records';

export type { AccountFilter } from '../core/account-transfers';

export const SCHEMA_VERSION = 2;
export const LEDGER_FORMAT = 'caesar-ledger';
export const APPLICATION_ID = 0x43534152; // "CSAR"

const I64_MAX = (1n << 63n) - 1n;
const U32 = 0xffff_ffffn;
const U16 = 0xffffn;

const STATUS_CODE: Record<PendingStatus, number> = { pending: 1, posted: 2, voided: 3, expired: 4 };
const STATUS_NAME: Record<number, PendingStatus> = { 1: 'pending', 2: 'posted', 3: 'voided', 4: 'expired' };

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE accounts (
  id BLOB PRIMARY KEY CHECK (length(id) = 16),
  debits_pending BLOB NOT NULL CHECK (length(debits_pending) = 16),
  debits_posted BLOB NOT NULL CHECK (length(debits_posted) = 16),
  credits_pending BLOB NOT NULL CHECK (length(credits_pending) = 16),
  credits_posted BLOB NOT NULL CHECK (length(credits_posted) = 16),
  user_data_128 BLOB NOT NULL,
  user_data_64 BLOB NOT NULL,
  user_data_32 INTEGER NOT NULL,
  ledger INTEGER NOT NULL,
  code INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  timestamp INTEGER NOT NULL UNIQUE
) STRICT, WITHOUT ROWID;
CREATE TABLE transfer_log (
  first_timestamp INTEGER PRIMARY KEY,
  last_timestamp INTEGER NOT NULL,
  records BLOB NOT NULL CHECK (length(records) > 0 AND length(records) % 128 = 0)
) STRICT;
CREATE TABLE pending_resolutions (
  pending_id BLOB NOT NULL CHECK (length(pending_id) = 16),
  status INTEGER NOT NULL CHECK (status BETWEEN 2 AND 4),
  resolved_at INTEGER
) STRICT;
CREATE TABLE account_balances (
  account_id BLOB NOT NULL,
  timestamp INTEGER NOT NULL,
  debits_pending BLOB NOT NULL,
  debits_posted BLOB NOT NULL,
  credits_pending BLOB NOT NULL,
  credits_posted BLOB NOT NULL,
  PRIMARY KEY (account_id, timestamp)
) STRICT, WITHOUT ROWID;
`;

/** The tables version 2 has in place of version 1's `transfers` (migrateFromV1 creates them). */
const V2_TABLES = SCHEMA.slice(SCHEMA.indexOf('CREATE TABLE transfer_log'), SCHEMA.indexOf('CREATE TABLE account_balances'));

export interface LedgerDatabaseOptions {
  /** Create the database if the file does not exist (or is an empty file). Default false. */
  create?: boolean;
  /** Refuse to open unless the database's ledger_id is this one (guards against a swapped file). */
  expectedLedgerId?: string;
  /** Passed to the restored Ledger. */
  ledger?: LedgerOptions;
  /**
   * Write a balance checkpoint once this many transfers were committed since the last (default
   * 262,144). A checkpoint rewrites every account changed since the last one (10,000 accounts:
   * ~50 ms); the balances in use never come from it (open recomputes them from the transfers), so
   * it is spaced out to keep its share of commit time small.
   */
  checkpointEvery?: number;
}

type Row = Record<string, unknown>;

export class LedgerDatabase implements LedgerStore {
  private readonly stmts: ReturnType<typeof prepare>;
  private readonly writeTx: (groups: readonly LedgerChanges[], checkpoint: boolean) => void;
  /** Parameter buffers reused by every write (better-sqlite3 copies a BLOB when binding it). */
  private readonly scratch = Array.from({ length: 6 }, () => Buffer.alloc(16));
  /**
   * Ids of the accounts changed since the last balance checkpoint. Their balances are read from
   * the core when the checkpoint is written (the core then holds exactly the state being
   * committed): keeping each commit's account copies until then made the garbage collector
   * promote and later collect ~1.5 MB per commit.
   */
  private readonly dirty = new Set<bigint>();
  /** The core restored from this database (set by restore). */
  private core: Ledger | null = null;
  private sinceCheckpoint = 0;
  private lastWritten: bigint;
  private broken = false;
  private readonly checkpointTx: (ids: Iterable<bigint>, asOf: bigint) => void;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    readonly ledgerId: string,
    private readonly checkpointEvery: number,
  ) {
    this.stmts = prepare(db);
    this.writeTx = db.transaction((groups: readonly LedgerChanges[], checkpoint: boolean) => {
      this.writeGroups(groups);
      if (checkpoint) this.writeCheckpoint(this.dirty, this.lastWritten);
    });
    this.checkpointTx = db.transaction((ids: Iterable<bigint>, asOf: bigint) => this.writeCheckpoint(ids, asOf));
    this.lastWritten = BigInt(this.meta('last_timestamp') ?? '0');
  }

  /** Opens (or creates) the database, verifies it and restores the ledger it holds. */
  static open(path: string, options: LedgerDatabaseOptions = {}): { database: LedgerDatabase; ledger: Ledger } {
    const exists = existsSync(path);
    if (!exists && !options.create) {
      throw new LedgerError('STORE_NOT_FOUND', `no Caesar ledger at ${path}; create it first (create: true) or pass the right path`);
    }
    if (!exists) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: exists });
    } catch (err) {
      throw new LedgerError('STORE_DAMAGED', `cannot open the ledger database ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      db.defaultSafeIntegers(true);
      db.pragma('busy_timeout = 0');
      // One process owns a ledger: its in-memory state is authoritative between commits.
      db.pragma('locking_mode = EXCLUSIVE');
      const { ledgerId, version } = checkOrCreate(db, path, options);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('cache_size = -65536'); // 64 MiB of page cache
      db.pragma('wal_autocheckpoint = 16384'); // copy the WAL back every ~64 MiB, not every 4 MiB
      // Take the write lock now (held until close under locking_mode=EXCLUSIVE), so a second
      // process fails at open rather than at its first commit.
      db.exec('BEGIN IMMEDIATE; COMMIT');
      // A version-1 ledger is migrated and verified in ONE transaction, committed only if the
      // migrated ledger restores: a v1 file that fails verification is refused unchanged.
      if (version === 1) {
        db.exec('BEGIN IMMEDIATE');
        migrateFromV1(db);
      }
      const checkpointEvery = options.checkpointEvery ?? 262_144;
      if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw new LedgerError('INVALID_ARGUMENT', 'checkpointEvery must be a positive integer');
      const database = new LedgerDatabase(path, db, ledgerId, checkpointEvery);
      const ledger = database.restore(options.ledger);
      if (version === 1) db.exec('COMMIT');
      return { database, ledger };
    } catch (err) {
      db.close();
      throw translate(err, path);
    }
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Writes the changes of one or more batches in one transaction (with a balance checkpoint when
   * one is due); durable when it returns. After a failed write the database refuses further writes.
   */
  write(groups: readonly LedgerChanges[]): void {
    if (this.broken) throw new LedgerError('UNAVAILABLE', 'a previous write failed; reopen the ledger');
    for (const g of groups) {
      for (const a of g.accounts) this.dirty.add(a.id);
      this.sinceCheckpoint += g.transfers.length + g.pendingStatuses.length;
      if (g.lastTimestamp > this.lastWritten) this.lastWritten = g.lastTimestamp;
    }
    const checkpoint = this.sinceCheckpoint >= this.checkpointEvery;
    try {
      this.writeTx(groups, checkpoint);
    } catch (err) {
      this.broken = true;
      throw err;
    }
    if (checkpoint) this.checkpointDone();
  }

  /** Writes the balances of every account changed since the last checkpoint (e.g. before close). */
  checkpoint(): void {
    if (this.broken) throw new LedgerError('UNAVAILABLE', 'a previous write failed; no checkpoint of uncommitted balances');
    if (this.dirty.size === 0 && this.meta('balances_as_of') === this.lastWritten.toString()) return;
    this.checkpointTx(this.dirty, this.lastWritten);
    this.checkpointDone();
  }

  /** The instant the stored account balances are from. */
  balancesAsOf(): bigint {
    return BigInt(this.meta('balances_as_of') ?? '0');
  }

  get location(): string {
    return this.path;
  }

  /**
   * The balance history rows of an account with the `history` flag in [min, max], by timestamp
   * (newest first if reversed), that `accept` keeps (the transfer behind each row), at most `limit`.
   */
  accountBalances(accountId: bigint, min: bigint, max: bigint, reversed: boolean, limit: number, accept: (b: AccountBalance) => boolean): AccountBalance[] {
    const stmt = reversed ? this.stmts.balancesDesc : this.stmts.balancesAsc;
    const clamp = (v: bigint): bigint => (v > I64_MAX ? I64_MAX : v);
    const out: AccountBalance[] = [];
    for (const r of stmt.iterate(u128Bytes(accountId), clamp(min), clamp(max)) as Iterable<Row>) {
      const b = toBalance(r);
      if (!accept(b)) continue;
      out.push(b);
      if (out.length === limit) break;
    }
    return out;
  }

  meta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  private checkpointDone(): void {
    this.dirty.clear();
    this.sinceCheckpoint = 0;
  }

  /** Writes the core's current balances of these accounts, as of `asOf` (the last committed instant). */
  private writeCheckpoint(ids: Iterable<bigint>, asOf: bigint): void {
    const s = this.stmts;
    const x = this.scratch;
    for (const id of ids) {
      const a = this.core?.lookupAccount(id);
      if (!a) throw new LedgerError('UNAVAILABLE', `the balance checkpoint found no account ${id} in the ledger`);
      s.setBalances.run(u128Into(x[0]!, a.debitsPending), u128Into(x[1]!, a.debitsPosted), u128Into(x[2]!, a.creditsPending), u128Into(x[3]!, a.creditsPosted), u128Into(x[4]!, a.id));
    }
    s.setMeta.run('balances_as_of', asOf.toString());
  }

  private restore(options: LedgerOptions | undefined): Ledger {
    const lastTimestamp = BigInt(this.meta('last_timestamp') ?? '0');
    const balancesAsOf = this.balancesAsOf();
    const statuses = new Map<bigint, PendingStatus>();
    const resolvedAt = new Map<bigint, bigint>();
    for (const r of this.stmts.allResolutions.iterate() as Iterable<Row>) {
      const id = bytesU128(r.pending_id, 'pending_resolutions.pending_id');
      if (statuses.has(id)) throw new LedgerError('STORE_DAMAGED', `pending transfer ${id} is resolved twice in pending_resolutions; the ledger database is damaged`);
      const status = Number(intColumn(r.status, 'pending_resolutions.status', 4n));
      if (status < 2) throw new LedgerError('STORE_DAMAGED', `pending_resolutions gives transfer ${id} status ${status}, not posted, voided or expired; the ledger database is damaged`);
      statuses.set(id, STATUS_NAME[status]!);
      if (r.resolved_at !== null) resolvedAt.set(id, intColumn(r.resolved_at, 'pending_resolutions.resolved_at', U64_MAX));
    }
    const resolutions = statuses.size;
    let resolved = 0;
    let records = 0;
    const stmts = this.stmts;
    function* accounts(): Iterable<Account> {
      for (const r of stmts.allAccounts.iterate() as Iterable<Row>) yield toAccount(r);
    }
    function* transfers(): Iterable<Transfer> {
      let previous = -1n;
      for (const row of stmts.transferLog.iterate() as Iterable<Row>) {
        const first = intColumn(row.first_timestamp, 'transfer_log.first_timestamp', U64_MAX);
        const last = intColumn(row.last_timestamp, 'transfer_log.last_timestamp', U64_MAX);
        const where = `transfer_log row ${first}`;
        let ts = -1n;
        for (const t of decodeTransfers(row.records, where)) {
          // Timestamps are unique and increase through the log (the v1 rowid guaranteed it).
          if (t.timestamp <= previous || (ts === -1n && t.timestamp !== first)) throw new LedgerError('STORE_DAMAGED', `${where}: transfer ${t.id} is out of timestamp order; the ledger database is damaged`);
          if (t.flags & TransferFlags.pending) {
            if (statuses.has(t.id)) resolved += 1;
            else statuses.set(t.id, 'pending');
          }
          previous = ts = t.timestamp;
          records += 1;
          yield t;
        }
        if (ts !== last) throw new LedgerError('STORE_DAMAGED', `${where}: its last transfer is at ${ts}, not ${last}; the ledger database is damaged`);
      }
    }
    // Ledger.restore reads a pending transfer's status right after it is yielded, which is when
    // an unresolved one gets 'pending'.
    const ledger = Ledger.restore({ accounts: accounts(), transfers: transfers(), pendingStatuses: statuses, resolvedAt, lastTimestamp, balancesAsOf }, options);
    // No UNIQUE index guards ids on disk: the core's id map must hold every record.
    if (ledger.transferCount !== records) throw new LedgerError('STORE_DAMAGED', `the transfer log holds ${records - ledger.transferCount} duplicate transfer ids; the ledger database is damaged`);
    if (resolved !== resolutions) throw new LedgerError('STORE_DAMAGED', `pending_resolutions names ${resolutions - resolved} transfers that are not pending transfers; the ledger database is damaged`);
    // The stored balances are older than the last commit (no checkpoint since, e.g. after a
    // crash): the next checkpoint writes every account's balances as restored.
    if (balancesAsOf !== lastTimestamp) for (const a of ledger.allAccounts()) this.dirty.add(a.id);
    this.core = ledger;
    return ledger;
  }

  private writeGroups(groups: readonly LedgerChanges[]): void {
    const s = this.stmts;
    const x = this.scratch;
    let last = 0n;
    const transfers = groups.length === 1 ? groups[0]!.transfers : groups.flatMap((g) => g.transfers);
    if (transfers.length > 0) s.appendTransfers.run(transfers[0]!.timestamp, transfers[transfers.length - 1]!.timestamp, encodeTransfers(transfers));
    for (const g of groups) {
      // A transfer created pending needs no row (the flag says it); only resolutions are written.
      for (const p of g.pendingStatuses) if (p.status !== 'pending') s.insertResolution.run(u128Into(x[0]!, p.id), STATUS_CODE[p.status], p.resolvedAt);
      for (const b of g.balances) {
        s.insertBalance.run(u128Into(x[0]!, b.accountId), b.timestamp, u128Into(x[1]!, b.debitsPending), u128Into(x[2]!, b.debitsPosted), u128Into(x[3]!, b.creditsPending), u128Into(x[4]!, b.creditsPosted));
      }
      for (const a of g.accountsCreated) {
        s.insertAccount.run(
          u128Bytes(a.id),
          u128Bytes(a.debitsPending),
          u128Bytes(a.debitsPosted),
          u128Bytes(a.creditsPending),
          u128Bytes(a.creditsPosted),
          u128Bytes(a.userData128),
          u64Bytes(a.userData64),
          a.userData32,
          a.ledger,
          a.code,
          a.flags,
          a.timestamp,
        );
      }
      if (g.lastTimestamp > last) last = g.lastTimestamp;
    }
    if (last > 0n) s.setMeta.run('last_timestamp', last.toString());
  }
}

/** Read-only checks first (a file that is not ours must be refused unchanged); then creation. */
function checkOrCreate(db: Database.Database, path: string, options: LedgerDatabaseOptions): { ledgerId: string; version: number } {
  const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: bigint }).n;
  const appId = Number(db.pragma('application_id', { simple: true }));
  if (tables === 0n && appId === 0) {
    if (!options.create) throw new LedgerError('STORE_FOREIGN', `${path} is an empty SQLite database, not a Caesar ledger; pass create to make it one`);
    const ledgerId = randomUUID();
    db.pragma('journal_mode = WAL');
    db.exec('BEGIN');
    db.exec(SCHEMA);
    const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    meta.run('format', LEDGER_FORMAT);
    meta.run('schema_version', String(SCHEMA_VERSION));
    meta.run('ledger_id', ledgerId);
    meta.run('created_at', new Date().toISOString());
    meta.run('last_timestamp', '0');
    meta.run('balances_as_of', '0');
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.exec('COMMIT');
    // The new file and its WAL exist as directory entries only once the directory is synced.
    syncDirectory(dirname(path));
    if (options.expectedLedgerId !== undefined && options.expectedLedgerId !== ledgerId) {
      throw new LedgerError('STORE_FOREIGN', `${path} was just created, so it is not ledger ${options.expectedLedgerId}`);
    }
    return { ledgerId, version: SCHEMA_VERSION };
  }
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  const format = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string } | undefined)?.value : undefined;
  if (appId !== APPLICATION_ID || format !== LEDGER_FORMAT) {
    throw new LedgerError('STORE_FOREIGN', `${path} is an SQLite database but not a Caesar ledger (application_id ${appId}, format ${format ?? 'none'}); refusing to use it`);
  }
  const version = (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)?.value;
  if (version !== String(SCHEMA_VERSION) && version !== '1') {
    throw new LedgerError('STORE_VERSION', `${path} is a Caesar ledger of schema version ${version ?? 'none'}; this Caesar reads versions 1 (migrating it) and ${SCHEMA_VERSION}`);
  }
  const ledgerId = (db.prepare("SELECT value FROM meta WHERE key = 'ledger_id'").get() as { value: string } | undefined)?.value;
  if (!ledgerId) throw new LedgerError('STORE_DAMAGED', `${path} has no ledger_id`);
  if (options.expectedLedgerId !== undefined && options.expectedLedgerId !== ledgerId) {
    throw new LedgerError('STORE_FOREIGN', `${path} holds ledger ${ledgerId}, not ${options.expectedLedgerId}; refusing to use another ledger`);
  }
  const check = db.pragma('quick_check', { simple: true });
  if (check !== 'ok') throw new LedgerError('STORE_DAMAGED', `${path} failed SQLite's quick_check (${String(check)}); restore it from a backup`);
  return { ledgerId, version: Number(version) };
}

/**
 * Version 1 → 2, inside the caller's transaction (committed once the result verifies; a crash
 * leaves version 1 untouched): every transfer row is copied, in timestamp order, into
 * transfer_log rows of up to 8,190 records; the statuses of resolved pending transfers into
 * pending_resolutions; then the transfers table and its indexes are dropped. Nothing else
 * changes: accounts, balance history and meta other than schema_version stay as they were.
 */
function migrateFromV1(db: Database.Database): void {
  const columns = 'id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, timestamp';
  const page = db.prepare(`SELECT ${columns} FROM transfers WHERE timestamp > ? ORDER BY timestamp LIMIT ${MAX_BATCH_EVENTS}`);
  db.exec(V2_TABLES);
  const append = db.prepare('INSERT INTO transfer_log (first_timestamp, last_timestamp, records) VALUES (?, ?, ?)');
  for (let after = -1n; ; ) {
    const transfers = (page.all(after) as Row[]).map(toTransfer);
    if (transfers.length === 0) break;
    after = transfers[transfers.length - 1]!.timestamp;
    append.run(transfers[0]!.timestamp, after, encodeTransfers(transfers));
  }
  // Version 1 refused these on open; version 2 would read the first as pending and ignore the
  // second, so they are refused here, before anything is dropped (the caller rolls back).
  const contradicting = db.prepare('SELECT count(*) FROM transfers WHERE ((flags & 2) != 0 AND pending_status IS NULL) OR ((flags & 2) = 0 AND pending_status IS NOT NULL)').pluck().get() as number;
  if (contradicting > 0) {
    throw new LedgerError('STORE_DAMAGED', `${contradicting} transfer(s) of this version-1 ledger have a pending status that contradicts their flags (a pending transfer without one, or one on a transfer that is not pending); not migrated, the file is unchanged: restore it from a backup`);
  }
  db.exec(`INSERT INTO pending_resolutions (pending_id, status, resolved_at)
    SELECT id, pending_status, resolved_at FROM transfers WHERE pending_status BETWEEN 2 AND 4 ORDER BY timestamp`);
  db.exec('DROP TABLE transfers');
  db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function translate(err: unknown, path: string): LedgerError {
  if (err instanceof InvariantViolationError) {
    return new LedgerError('STORE_DAMAGED', `${path} holds a ledger that fails verification: ${err.message}`, { cause: err });
  }
  if (err instanceof LedgerError) return err;
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code === 'SQLITE_NOTADB') return new LedgerError('STORE_FOREIGN', `${path} is not an SQLite database (${message}); refusing to use it`, { cause: err });
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new LedgerError('STORE_LOCKED', `${path} is open in another process (${message})`, { cause: err });
  }
  return new LedgerError('STORE_DAMAGED', `the ledger database ${path} is damaged: ${message}; restore it from a backup`, { cause: err });
}

function prepare(db: Database.Database) {
  const balances = (order: 'ASC' | 'DESC') => db.prepare(`SELECT * FROM account_balances WHERE account_id = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp ${order}`);
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    allAccounts: db.prepare('SELECT * FROM accounts ORDER BY timestamp'),
    transferLog: db.prepare('SELECT first_timestamp, last_timestamp, records FROM transfer_log ORDER BY first_timestamp'),
    allResolutions: db.prepare('SELECT pending_id, status, resolved_at FROM pending_resolutions'),
    balancesAsc: balances('ASC'),
    balancesDesc: balances('DESC'),
    appendTransfers: db.prepare('INSERT INTO transfer_log (first_timestamp, last_timestamp, records) VALUES (?, ?, ?)'),
    insertResolution: db.prepare('INSERT INTO pending_resolutions (pending_id, status, resolved_at) VALUES (?, ?, ?)'),
    setBalances: db.prepare('UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, credits_posted = ? WHERE id = ?'),
    insertBalance: db.prepare('INSERT INTO account_balances (account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted) VALUES (?, ?, ?, ?, ?, ?)'),
    insertAccount: db.prepare(`INSERT INTO accounts (id, debits_pending, debits_posted, credits_pending, credits_posted, user_data_128, user_data_64, user_data_32, ledger, code, flags, timestamp)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  };
}

function toAccount(r: Row): Account {
  return {
    id: bytesU128(r.id, 'accounts.id'),
    debitsPending: bytesU128(r.debits_pending, 'accounts.debits_pending'),
    debitsPosted: bytesU128(r.debits_posted, 'accounts.debits_posted'),
    creditsPending: bytesU128(r.credits_pending, 'accounts.credits_pending'),
    creditsPosted: bytesU128(r.credits_posted, 'accounts.credits_posted'),
    userData128: bytesU128(r.user_data_128, 'accounts.user_data_128'),
    userData64: bytesU64(r.user_data_64, 'accounts.user_data_64'),
    userData32: Number(intColumn(r.user_data_32, 'accounts.user_data_32', U32)),
    ledger: Number(intColumn(r.ledger, 'accounts.ledger', U32)),
    code: Number(intColumn(r.code, 'accounts.code', U16)),
    flags: Number(intColumn(r.flags, 'accounts.flags', U16)),
    timestamp: intColumn(r.timestamp, 'accounts.timestamp', U64_MAX),
  };
}

/** A version-1 transfers row (read only by migrateFromV1). */
function toTransfer(r: Row): Transfer {
  return {
    id: bytesU128(r.id, 'transfers.id'),
    debitAccountId: bytesU128(r.debit_account_id, 'transfers.debit_account_id'),
    creditAccountId: bytesU128(r.credit_account_id, 'transfers.credit_account_id'),
    amount: bytesU128(r.amount, 'transfers.amount'),
    pendingId: bytesU128(r.pending_id, 'transfers.pending_id'),
    userData128: bytesU128(r.user_data_128, 'transfers.user_data_128'),
    userData64: bytesU64(r.user_data_64, 'transfers.user_data_64'),
    userData32: Number(intColumn(r.user_data_32, 'transfers.user_data_32', U32)),
    timeout: Number(intColumn(r.timeout, 'transfers.timeout', U32)),
    ledger: Number(intColumn(r.ledger, 'transfers.ledger', U32)),
    code: Number(intColumn(r.code, 'transfers.code', U16)),
    flags: Number(intColumn(r.flags, 'transfers.flags', U16)),
    timestamp: intColumn(r.timestamp, 'transfers.timestamp', U64_MAX),
  };
}

function toBalance(r: Row): AccountBalance {
  return {
    accountId: bytesU128(r.account_id, 'account_balances.account_id'),
    timestamp: intColumn(r.timestamp, 'account_balances.timestamp', U64_MAX),
    debitsPending: bytesU128(r.debits_pending, 'account_balances.debits_pending'),
    debitsPosted: bytesU128(r.debits_posted, 'account_balances.debits_posted'),
    creditsPending: bytesU128(r.credits_pending, 'account_balances.credits_pending'),
    creditsPosted: bytesU128(r.credits_posted, 'account_balances.credits_posted'),
  };
}

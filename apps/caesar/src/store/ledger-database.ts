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
// Schema version 1:
//   meta(key, value)      format = 'caesar-ledger', schema_version, ledger_id (random, fixed at
//                         creation), created_at, last_timestamp (the ledger clock, decimal ns),
//                         balances_as_of (the instant of the balance checkpoint)
//   accounts              id BLOB(16) primary key, balances BLOB(16) each (as of balances_as_of),
//                         user_data_128 BLOB(16), user_data_64 BLOB(8), user_data_32/ledger/code/
//                         flags INTEGER, timestamp
//   transfers             timestamp INTEGER PRIMARY KEY (the rowid: inserts append), id BLOB(16)
//                         UNIQUE, accounts/amount/pending_id/user_data as BLOBs, pending_status
//                         (NULL, or 1 pending, 2 posted, 3 voided, 4 expired for `pending` transfers)
//                         and resolved_at (timestamp of the post, void or expiry);
//                         indexed by (debit_account_id, timestamp) and (credit_account_id, timestamp)
//   account_balances      (account_id, timestamp) → the four balances after that change
// The file's SQLite application_id is 0x43534152 ("CSAR").
//
// Opening refuses, with a typed LedgerError and without changing the file: a file that is not
// SQLite or not a Caesar ledger (STORE_FOREIGN), another ledger than `expectedLedgerId`
// (STORE_FOREIGN), another schema version (STORE_VERSION), a file failing SQLite's quick_check or
// whose rows contradict each other or the invariants (STORE_DAMAGED), a ledger another process has
// open (STORE_LOCKED). Nothing is ever created over an existing file that is not an empty database.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvariantViolationError, LedgerError } from '../errors';
import { MAX_BATCH_EVENTS } from '../core/batch-input';
import { isU128, isU64, U64_MAX } from '../core/integers';
import { Ledger, type LedgerOptions } from '../core/ledger';
import { type Account, type AccountBalance, type LedgerChanges, type PendingStatus, type Transfer, TransferFlags } from '../core/types';
import { bytesU128, bytesU64, intColumn, u128Bytes, u128Into, u64Bytes } from './codec';

export const SCHEMA_VERSION = 1;
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
CREATE TABLE transfers (
  timestamp INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
  debit_account_id BLOB NOT NULL,
  credit_account_id BLOB NOT NULL,
  amount BLOB NOT NULL,
  pending_id BLOB NOT NULL,
  user_data_128 BLOB NOT NULL,
  user_data_64 BLOB NOT NULL,
  user_data_32 INTEGER NOT NULL,
  timeout INTEGER NOT NULL,
  ledger INTEGER NOT NULL,
  code INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  pending_status INTEGER CHECK (pending_status BETWEEN 1 AND 4),
  resolved_at INTEGER
) STRICT;
CREATE INDEX transfers_by_debit_account ON transfers (debit_account_id, timestamp);
CREATE INDEX transfers_by_credit_account ON transfers (credit_account_id, timestamp);
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

export interface LedgerDatabaseOptions {
  /** Create the database if the file does not exist (or is an empty file). Default false. */
  create?: boolean;
  /** Refuse to open unless the database's ledger_id is this one (guards against a swapped file). */
  expectedLedgerId?: string;
  /** Passed to the restored Ledger. */
  ledger?: LedgerOptions;
  /** Write a balance checkpoint once this many transfers were committed since the last (default 65,536). */
  checkpointEvery?: number;
}

/** Which transfers of an account to list (TigerBeetle's AccountFilter). */
export interface AccountFilter {
  readonly accountId: bigint;
  /** Inclusive bounds on the transfer timestamp (ns); 0 = unbounded. */
  readonly timestampMin?: bigint;
  readonly timestampMax?: bigint;
  /** Only transfers with this code; 0 = any. */
  readonly code?: number;
  /** Only transfers with these user data values; 0 = any (getAccountTransfers only). */
  readonly userData128?: bigint;
  readonly userData64?: bigint;
  readonly userData32?: number;
  /** At most this many (1..8190). */
  readonly limit: number;
  /** Include transfers debiting the account (default true). */
  readonly debits?: boolean;
  /** Include transfers crediting the account (default true). */
  readonly credits?: boolean;
  /** Newest first (default oldest first). */
  readonly reversed?: boolean;
}

type Row = Record<string, unknown>;

export class LedgerDatabase {
  private readonly stmts: ReturnType<typeof prepare>;
  private readonly writeTx: (groups: readonly LedgerChanges[], checkpoint: boolean) => void;
  /** Parameter buffers reused by every write (better-sqlite3 copies a BLOB when binding it). */
  private readonly scratch = Array.from({ length: 6 }, () => Buffer.alloc(16));
  private readonly scratch64 = Buffer.alloc(8);
  /** Latest state of every account changed since the last balance checkpoint. */
  private readonly dirty = new Map<bigint, Account>();
  private sinceCheckpoint = 0;
  private lastWritten: bigint;
  private broken = false;
  private readonly checkpointTx: (accounts: Iterable<Account>, asOf: bigint) => void;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    readonly ledgerId: string,
    private readonly checkpointEvery: number,
  ) {
    this.stmts = prepare(db);
    this.writeTx = db.transaction((groups: readonly LedgerChanges[], checkpoint: boolean) => {
      this.writeGroups(groups);
      if (checkpoint) this.writeCheckpoint(this.dirty.values(), this.lastWritten);
    });
    this.checkpointTx = db.transaction((accounts: Iterable<Account>, asOf: bigint) => this.writeCheckpoint(accounts, asOf));
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
      const ledgerId = checkOrCreate(db, path, options);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('cache_size = -65536'); // 64 MiB of page cache: the account indexes are hit at random
      db.pragma('wal_autocheckpoint = 16384'); // copy the WAL back every ~64 MiB, not every 4 MiB
      // Take the write lock now (held until close under locking_mode=EXCLUSIVE), so a second
      // process fails at open rather than at its first commit.
      db.exec('BEGIN IMMEDIATE; COMMIT');
      const checkpointEvery = options.checkpointEvery ?? 65_536;
      if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw new LedgerError('INVALID_ARGUMENT', 'checkpointEvery must be a positive integer');
      const database = new LedgerDatabase(path, db, ledgerId, checkpointEvery);
      const ledger = database.restore(options.ledger);
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
      for (const a of g.accounts) this.dirty.set(a.id, a);
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
    this.checkpointTx(this.dirty.values(), this.lastWritten);
    this.checkpointDone();
  }

  /** The instant the stored account balances are from. */
  balancesAsOf(): bigint {
    return BigInt(this.meta('balances_as_of') ?? '0');
  }

  lookupTransfers(ids: readonly bigint[]): Transfer[] {
    checkIds(ids);
    const out: Transfer[] = [];
    for (const id of ids) {
      const r = this.stmts.transfer.get(u128Bytes(id)) as Row | undefined;
      if (r) out.push(toTransfer(r));
    }
    return out;
  }

  /** The status of pending transfers (ids that are not pending transfers are left out). */
  pendingStatuses(ids: readonly bigint[]): Map<bigint, PendingStatus> {
    checkIds(ids);
    const out = new Map<bigint, PendingStatus>();
    for (const id of ids) {
      const r = this.stmts.pendingStatus.get(u128Bytes(id)) as Row | undefined;
      if (r && r.pending_status !== null) out.set(id, STATUS_NAME[Number(r.pending_status)]!);
    }
    return out;
  }

  /** Transfers debiting and/or crediting an account, by timestamp; page with timestampMin/Max. */
  getAccountTransfers(filter: AccountFilter): Transfer[] {
    const f = checkFilter(filter);
    const stmt = f.reversed ? this.stmts.accountTransfersDesc : this.stmts.accountTransfersAsc;
    const id = u128Bytes(f.accountId);
    const ud128 = f.userData128 === 0n ? null : u128Bytes(f.userData128);
    const ud64 = f.userData64 === 0n ? null : u64Bytes(f.userData64);
    const rows = stmt.all(f.debits ? id : null, f.credits ? id : null, f.min, f.max, f.code, f.code, ud128, ud128, ud64, ud64, f.userData32, f.userData32, f.limit) as Row[];
    return rows.map(toTransfer);
  }

  /**
   * The balance history of an account with the `history` flag, filtered like getAccountTransfers.
   * A code or direction filter matches the transfer behind each row, so rows of expiries (which
   * have no transfer) only appear without one.
   */
  getAccountBalances(filter: AccountFilter): AccountBalance[] {
    const f = checkFilter(filter);
    const stmt = f.reversed ? this.stmts.balancesDesc : this.stmts.balancesAsc;
    const anyDirection = f.debits && f.credits ? 1 : 0;
    const rows = stmt.all(u128Bytes(f.accountId), f.min, f.max, f.code, f.code, anyDirection, f.debits ? 1 : 0, f.credits ? 1 : 0, f.limit) as Row[];
    return rows.map(toBalance);
  }

  meta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  private checkpointDone(): void {
    this.dirty.clear();
    this.sinceCheckpoint = 0;
  }

  private writeCheckpoint(accounts: Iterable<Account>, asOf: bigint): void {
    const s = this.stmts;
    const x = this.scratch;
    for (const a of accounts) {
      s.setBalances.run(u128Into(x[0]!, a.debitsPending), u128Into(x[1]!, a.debitsPosted), u128Into(x[2]!, a.creditsPending), u128Into(x[3]!, a.creditsPosted), u128Into(x[4]!, a.id));
    }
    s.setMeta.run('balances_as_of', asOf.toString());
  }

  private restore(options: LedgerOptions | undefined): Ledger {
    const lastTimestamp = BigInt(this.meta('last_timestamp') ?? '0');
    const balancesAsOf = this.balancesAsOf();
    const statuses = new Map<bigint, PendingStatus>();
    const resolvedAt = new Map<bigint, bigint>();
    const stmts = this.stmts;
    function* accounts(): Iterable<Account> {
      for (const r of stmts.allAccounts.iterate() as Iterable<Row>) yield toAccount(r);
    }
    function* transfers(): Iterable<Transfer> {
      for (const r of stmts.allTransfers.iterate() as Iterable<Row>) {
        const t = toTransfer(r);
        if (r.pending_status !== null) statuses.set(t.id, STATUS_NAME[Number(r.pending_status)]!);
        if (r.resolved_at !== null) resolvedAt.set(t.id, intColumn(r.resolved_at, 'transfers.resolved_at', U64_MAX));
        yield t;
      }
    }
    // Ledger.restore reads every transfer (filling `statuses` as it goes) before it needs a
    // status: the status of a pending transfer is read in the same row, before it is yielded.
    const ts = transfers();
    const ledger = Ledger.restore({ accounts: accounts(), transfers: ts, pendingStatuses: statuses, resolvedAt, lastTimestamp, balancesAsOf }, options);
    // The stored balances are older than the last commit (no checkpoint since, e.g. after a
    // crash): the next checkpoint writes every account's balances as restored.
    if (balancesAsOf !== lastTimestamp) for (const a of ledger.allAccounts()) this.dirty.set(a.id, a);
    return ledger;
  }

  private writeGroups(groups: readonly LedgerChanges[]): void {
    const s = this.stmts;
    const x = this.scratch;
    let last = 0n;
    for (const g of groups) {
      for (const t of g.transfers) {
        this.scratch64.writeBigUInt64BE(t.userData64, 0);
        s.insertTransfer.run(
          t.timestamp,
          u128Into(x[0]!, t.id),
          u128Into(x[1]!, t.debitAccountId),
          u128Into(x[2]!, t.creditAccountId),
          u128Into(x[3]!, t.amount),
          u128Into(x[4]!, t.pendingId),
          u128Into(x[5]!, t.userData128),
          this.scratch64,
          t.userData32,
          t.timeout,
          t.ledger,
          t.code,
          t.flags,
          t.flags & TransferFlags.pending ? STATUS_CODE.pending : null,
        );
      }
      for (const p of g.pendingStatuses) s.setStatus.run(STATUS_CODE[p.status], p.status === 'pending' ? null : p.resolvedAt, u128Into(x[0]!, p.id));
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
function checkOrCreate(db: Database.Database, path: string, options: LedgerDatabaseOptions): string {
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
    return ledgerId;
  }
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  const format = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string } | undefined)?.value : undefined;
  if (appId !== APPLICATION_ID || format !== LEDGER_FORMAT) {
    throw new LedgerError('STORE_FOREIGN', `${path} is an SQLite database but not a Caesar ledger (application_id ${appId}, format ${format ?? 'none'}); refusing to use it`);
  }
  const version = (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)?.value;
  if (version !== String(SCHEMA_VERSION)) {
    throw new LedgerError('STORE_VERSION', `${path} is a Caesar ledger of schema version ${version ?? 'none'}; this Caesar reads version ${SCHEMA_VERSION}`);
  }
  const ledgerId = (db.prepare("SELECT value FROM meta WHERE key = 'ledger_id'").get() as { value: string } | undefined)?.value;
  if (!ledgerId) throw new LedgerError('STORE_DAMAGED', `${path} has no ledger_id`);
  if (options.expectedLedgerId !== undefined && options.expectedLedgerId !== ledgerId) {
    throw new LedgerError('STORE_FOREIGN', `${path} holds ledger ${ledgerId}, not ${options.expectedLedgerId}; refusing to use another ledger`);
  }
  const check = db.pragma('quick_check', { simple: true });
  if (check !== 'ok') throw new LedgerError('STORE_DAMAGED', `${path} failed SQLite's quick_check (${String(check)}); restore it from a backup`);
  return ledgerId;
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

function checkIds(ids: readonly bigint[]): void {
  if (!Array.isArray(ids) || ids.length > MAX_BATCH_EVENTS) {
    throw new LedgerError(Array.isArray(ids) ? 'BATCH_TOO_LARGE' : 'INVALID_ARGUMENT', `ids must be an array of at most ${MAX_BATCH_EVENTS} ids`);
  }
  ids.forEach((id, i) => {
    if (!isU128(id)) throw new LedgerError('INVALID_ARGUMENT', `ids[${i}] must be a bigint in 0..2^128-1`);
  });
}

interface CheckedFilter {
  accountId: bigint;
  min: bigint;
  max: bigint;
  code: number;
  userData128: bigint;
  userData64: bigint;
  userData32: number;
  limit: number;
  debits: boolean;
  credits: boolean;
  reversed: boolean;
}

function checkFilter(f: AccountFilter): CheckedFilter {
  if (typeof f !== 'object' || f === null) throw new LedgerError('INVALID_ARGUMENT', 'the filter must be an object');
  if (!isU128(f.accountId)) throw new LedgerError('INVALID_ARGUMENT', 'filter.accountId must be a bigint in 0..2^128-1');
  const min = f.timestampMin ?? 0n;
  const max = f.timestampMax ?? 0n;
  if (!isU64(min) || !isU64(max)) throw new LedgerError('INVALID_ARGUMENT', 'filter.timestampMin/Max must be bigints in 0..2^64-1');
  if (max !== 0n && min > max) throw new LedgerError('INVALID_ARGUMENT', 'filter.timestampMin is after timestampMax');
  const code = f.code ?? 0;
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new LedgerError('INVALID_ARGUMENT', 'filter.code must be an integer in 0..65535');
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > MAX_BATCH_EVENTS) {
    throw new LedgerError('INVALID_ARGUMENT', `filter.limit must be an integer in 1..${MAX_BATCH_EVENTS}`);
  }
  const debits = f.debits ?? true;
  const credits = f.credits ?? true;
  if (!debits && !credits) throw new LedgerError('INVALID_ARGUMENT', 'filter must include debits, credits or both');
  const userData128 = f.userData128 ?? 0n;
  const userData64 = f.userData64 ?? 0n;
  const userData32 = f.userData32 ?? 0;
  if (!isU128(userData128) || !isU64(userData64) || !Number.isInteger(userData32) || userData32 < 0 || userData32 > 0xffff_ffff) {
    throw new LedgerError('INVALID_ARGUMENT', 'filter.userData128/64/32 must be u128 / u64 bigints and a u32 number');
  }
  const clampedMax = max === 0n || max > I64_MAX ? I64_MAX : max;
  return { accountId: f.accountId, min, max: clampedMax, code, userData128, userData64, userData32, limit: f.limit, debits, credits, reversed: f.reversed ?? false };
}

function prepare(db: Database.Database) {
  const transferColumns = 'id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, timestamp, pending_status, resolved_at';
  const accountTransfers = (order: 'ASC' | 'DESC') =>
    db.prepare(
      `SELECT ${transferColumns} FROM transfers
       WHERE (debit_account_id = ? OR credit_account_id = ?) AND timestamp BETWEEN ? AND ? AND (? = 0 OR code = ?)
         AND (? IS NULL OR user_data_128 = ?) AND (? IS NULL OR user_data_64 = ?) AND (? = 0 OR user_data_32 = ?)
       ORDER BY timestamp ${order} LIMIT ?`,
    );
  const balances = (order: 'ASC' | 'DESC') =>
    db.prepare(
      `SELECT b.* FROM account_balances b LEFT JOIN transfers t ON t.timestamp = b.timestamp
       WHERE b.account_id = ? AND b.timestamp BETWEEN ? AND ? AND (? = 0 OR t.code = ?)
         AND (? = 1 OR (? = 1 AND t.debit_account_id = b.account_id) OR (? = 1 AND t.credit_account_id = b.account_id))
       ORDER BY b.timestamp ${order} LIMIT ?`,
    );
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    allAccounts: db.prepare('SELECT * FROM accounts ORDER BY timestamp'),
    transfer: db.prepare(`SELECT ${transferColumns} FROM transfers WHERE id = ?`),
    pendingStatus: db.prepare('SELECT pending_status FROM transfers WHERE id = ?'),
    allTransfers: db.prepare(`SELECT ${transferColumns} FROM transfers ORDER BY timestamp`),
    accountTransfersAsc: accountTransfers('ASC'),
    accountTransfersDesc: accountTransfers('DESC'),
    balancesAsc: balances('ASC'),
    balancesDesc: balances('DESC'),
    insertTransfer: db.prepare(`INSERT INTO transfers (timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, pending_status)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    setStatus: db.prepare('UPDATE transfers SET pending_status = ?, resolved_at = ? WHERE id = ?'),
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

// The durable ledger: the pure core (Ledger) in front of its store (SQLite by default, or
// PostgreSQL: ledger-store.ts), with group commit.
//
// Callers' batches are queued; one commit at a time takes every queued batch (up to maxGroupEvents
// events in all, default 16,380), applies each to the core in arrival order (each batch keeps its
// own result codes and linked chains), writes all their changes in ONE store transaction, and only
// then answers each caller. A batch submitted while a commit is in progress waits for the next
// one, which starts as soon as the current one is done (setImmediate: after the I/O callbacks that
// delivered other batches, so they share it). SQLite commits synchronously (the event loop is
// blocked during the fsync; batches arriving then are read from their sockets afterwards and form
// the next group); PostgreSQL's COMMIT is a round trip, during which batches keep arriving and
// queue for the next group.
//
// Failure model. A malformed batch (LedgerError INVALID_ARGUMENT / BATCH_TOO_LARGE) is refused
// alone, before the core changes anything. If the commit fails (disk full, I/O error, a lost
// PostgreSQL connection, a server that went down) or a batch breaks an invariant, the core's
// in-memory state may be ahead of the store: the ledger stops (state 'failed'), every waiting and
// later caller gets LedgerError UNAVAILABLE, nothing of the group is acknowledged, and reopening
// restores exactly the committed state. (A connection lost during COMMIT leaves the outcome
// unknown to us: the group may be in the database without any caller having been answered, as
// after a crash between commit and reply; clients resubmit with the same ids and get `exists`.)
//
// Queries only ever show committed state. They read the core (accounts, transfers, pending
// statuses, supply) and AccountTransfers (fed after each write), which equal the committed state
// whenever no commit is in flight. With a synchronous store that is always (a group is applied
// and written in one step); with PostgreSQL a group's transaction is in flight while the core
// already holds it, so every query first waits for that commit (`read`): it answers after COMMIT
// returned, with the group, or with UNAVAILABLE if the commit failed. Balance histories are read
// from the store, which holds committed rows only.
import type { Logger } from 'pino';
import { LedgerError } from '../errors';
import { type AccountFilter, AccountTransfers, checkAccountFilter } from '../core/account-transfers';
import { MAX_BATCH_EVENTS } from '../core/batch-input';
import { isU128 } from '../core/integers';
import type { BatchOutcome, Ledger } from '../core/ledger';
import type { CreateAccountResult, CreateTransferResult } from '../core/results';
import type { Account, AccountBalance, AccountInput, LedgerChanges, PendingStatus, Transfer, TransferInput } from '../core/types';
import { LedgerDatabase, type LedgerDatabaseOptions } from './ledger-database';
import type { LedgerStore, OpenedLedgerStore } from './ledger-store';
import { PostgresLedgerStore, type PostgresStoreOptions } from './postgres-ledger-store';

/** The clock the ledger reads `now` from (milliseconds; structurally @stoq/core's Clock). */
export interface LedgerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: LedgerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, Math.min(ms, 2_147_483_647))).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DurableLedgerOptions extends LedgerDatabaseOptions {
  clock?: LedgerClock;
  logger?: Logger;
  /**
   * Most events applied and committed in one transaction (default 2 × 8,190). It bounds how long
   * one commit blocks the event loop (about 0.1 s per 8,190 transfers on the benchmark machine);
   * a single batch larger than it still forms its own group.
   */
  maxGroupEvents?: number;
  /** Commit expiries of pending transfers when their timeout passes (default true). */
  expiryTimer?: boolean;
  /**
   * Called after every durable commit with the changes of each batch in it, before any caller of
   * the group is answered (the service's watch streams and metrics). It must not throw (what it
   * throws is logged and dropped: the commit stands).
   */
  onCommit?: (changes: readonly LedgerChanges[]) => void;
  /**
   * Called once when the ledger stops after a failed commit, whoever's commit it was (a caller's
   * batch or the expiry timer's): the service turns its health NOT_SERVING. Must not throw.
   */
  onFailed?: (err: unknown) => void;
}

/** What an admission check may read: the ledger's state at the instant the batch is applied. */
export interface LedgerReader {
  lookupAccount(id: bigint): Account | undefined;
  lookupTransfer(id: bigint): Transfer | undefined;
}

/**
 * Checks a batch against the ledger's state right before it is applied (same synchronous step,
 * so no other batch can change what it read). Throw LedgerError PERMISSION_DENIED (or
 * INVALID_ARGUMENT) to refuse the whole batch; nothing of it changes.
 */
export type AdmissionCheck = (ledger: LedgerReader) => void;

/**
 * The committed ledger, read synchronously: valid for the synchronous step it was handed to
 * (DurableLedger.read's callback, or right after committedView() returned it).
 */
export interface LedgerView extends LedgerReader {
  lookupAccounts(ids: readonly bigint[]): Account[];
  lookupTransfers(ids: readonly bigint[]): Transfer[];
  /** The status of pending transfers (ids that are not pending transfers are left out). */
  pendingStatuses(ids: readonly bigint[]): Map<bigint, PendingStatus>;
  /** Transfers debiting and/or crediting an account, by timestamp; page with timestampMin/Max. */
  getAccountTransfers(filter: AccountFilter): Transfer[];
  /** Minted, burnt and circulating supply of one ledger. */
  supply(ledger: number): { minted: bigint; burnt: bigint; circulating: bigint };
}

type Request =
  | { kind: 'accounts'; events: readonly AccountInput[]; resolve: (r: CreateAccountResult[]) => void; reject: (e: unknown) => void }
  | { kind: 'transfers'; events: readonly TransferInput[]; admit?: AdmissionCheck; resolve: (r: CreateTransferResult[]) => void; reject: (e: unknown) => void }
  | { kind: 'expire'; events: readonly never[]; resolve: (r: never[]) => void; reject: (e: unknown) => void };

export interface GroupCommitStats {
  /** Transactions committed. */
  readonly commits: number;
  /** Caller batches committed. */
  readonly batches: number;
  /** Most caller batches in one commit. */
  readonly largestGroup: number;
}

export class DurableLedger {
  private queue: Request[] = [];
  private queuedEvents = 0;
  private committing = false;
  /** Settles when the asynchronous commit in flight is done (committed or failed); null when none is. */
  private inFlight: Promise<void> | null = null;
  /** The store reported its connection lost while a commit was in flight (see onLost). */
  private lostDuringCommit: unknown = null;
  private scheduled = false;
  private state: 'open' | 'closing' | 'closed' | 'failed' = 'open';
  private failure: unknown = null;
  private closeWaiters: Array<() => void> = [];
  private expiryHandle: unknown = null;
  private armedExpiry: bigint | undefined;
  private stats = { commits: 0, batches: 0, largestGroup: 0 };
  private storeClosed = false;
  /** The ledger clock as of the last commit (the core's may be ahead while a commit is in flight). */
  private committedTimestamp: bigint;
  private readonly clock: LedgerClock;
  private readonly maxGroupEvents: number;
  private readonly expiryTimer: boolean;
  private readonly onCommit: ((changes: readonly LedgerChanges[]) => void) | undefined;
  private readonly onFailed: ((err: unknown) => void) | undefined;
  /** Every committed transfer by account (getAccountTransfers), rebuilt on open. */
  private readonly accountTransfers = new AccountTransfers();
  private readonly view: LedgerView;

  private constructor(
    private readonly store: LedgerStore,
    private readonly core: Ledger,
    options: DurableLedgerOptions,
    private readonly logger: Logger | undefined,
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxGroupEvents = options.maxGroupEvents ?? 2 * MAX_BATCH_EVENTS;
    this.expiryTimer = options.expiryTimer ?? true;
    this.onCommit = options.onCommit;
    this.onFailed = options.onFailed;
    if (!Number.isInteger(this.maxGroupEvents) || this.maxGroupEvents < 1) throw new LedgerError('INVALID_ARGUMENT', 'maxGroupEvents must be a positive integer');
    for (const t of core.transfersInOrder()) this.accountTransfers.add(t);
    this.committedTimestamp = core.lastTimestamp;
    this.view = committedView(core, this.accountTransfers);
    store.onLost?.((err) => {
      // A store that cannot write any more (its connection dropped while idle) stops the ledger
      // now rather than at the next batch. A commit in flight fails by itself, or — if its COMMIT
      // came back just before the loss — stops the ledger once it has answered its callers.
      if (this.state !== 'open' && this.state !== 'closing') return;
      if (this.committing) this.lostDuringCommit = err;
      else this.fail(err, []);
    });
    this.armExpiry();
  }

  /**
   * Opens the SQLite ledger database at `path` (creating it with `create: true`), verifies it
   * (SQLite quick_check, balances against transfers, invariants) and restores the ledger.
   */
  static open(path: string, options: DurableLedgerOptions = {}): DurableLedger {
    const { database, ledger } = LedgerDatabase.open(path, options);
    return DurableLedger.fromStore({ store: database, ledger }, options);
  }

  /**
   * Opens (with `create: true`, creates) a ledger in PostgreSQL, verifies it like open() does and
   * restores it. Refuses a server with synchronous_commit or fsync off, and a ledger another
   * Caesar holds (postgres-ledger-store.ts).
   */
  static async openPostgres(postgres: PostgresStoreOptions, options: DurableLedgerOptions = {}): Promise<DurableLedger> {
    return DurableLedger.fromStore(await PostgresLedgerStore.open(postgres, options), options);
  }

  /** A ledger over an opened store (a LedgerStore factory's result). */
  static fromStore(opened: OpenedLedgerStore, options: DurableLedgerOptions = {}): DurableLedger {
    const { store, ledger } = opened;
    options.logger?.info({ store: store.location, ledgerId: store.ledgerId, accounts: ledger.accountCount, transfers: ledger.transferCount }, 'caesar ledger opened');
    return new DurableLedger(store, ledger, options, options.logger);
  }

  /** The random id fixed when the ledger was created. */
  get ledgerId(): string {
    return this.store.ledgerId;
  }

  /** Where the ledger is stored (a path, or a PostgreSQL URL without password). */
  get location(): string {
    return this.store.location;
  }

  get status(): 'open' | 'closing' | 'closed' | 'failed' {
    return this.state;
  }

  /** The ledger clock after the last committed batch (ns). */
  get lastTimestamp(): bigint {
    return this.committedTimestamp;
  }

  get groupCommitStats(): GroupCommitStats {
    return { ...this.stats };
  }

  /** Creates accounts; resolves with one result per event once the batch is durable. */
  createAccounts(events: readonly AccountInput[]): Promise<CreateAccountResult[]> {
    return new Promise((resolve, reject) => this.submit({ kind: 'accounts', events, resolve, reject }));
  }

  /**
   * Creates transfers; resolves with one result per event once the batch is durable. `admit`, if
   * given, runs right before the batch is applied and may refuse it whole (AdmissionCheck).
   */
  createTransfers(events: readonly TransferInput[], options: { admit?: AdmissionCheck } = {}): Promise<CreateTransferResult[]> {
    return new Promise((resolve, reject) => this.submit({ kind: 'transfers', events, admit: options.admit, resolve, reject }));
  }

  /** Commits the expiry of every pending transfer whose timeout has passed. */
  expirePendingTransfers(): Promise<void> {
    return new Promise((resolve, reject) => this.submit({ kind: 'expire', events: [], resolve: () => resolve(), reject }));
  }

  /**
   * Runs `fn` on the committed ledger, in one synchronous step: at once when no commit is in
   * flight (always, with SQLite), else right after the commit in flight is done. Rejects with
   * UNAVAILABLE when the ledger is closed or stopped (also when the awaited commit failed).
   */
  async read<T>(fn: (view: LedgerView) => T): Promise<T> {
    this.readable();
    while (this.inFlight !== null) {
      await this.inFlight;
      this.readable();
    }
    return fn(this.view);
  }

  /**
   * The committed ledger, or null while a commit is in flight (its core is ahead of the store) or
   * the ledger is not readable. For synchronous callers that can do without (metrics).
   */
  committedView(): LedgerView | null {
    if (this.inFlight !== null || this.state === 'failed' || this.storeClosed) return null;
    return this.view;
  }

  lookupAccounts(ids: readonly bigint[]): Promise<Account[]> {
    return this.read((v) => v.lookupAccounts(ids));
  }

  /** Minted, burnt and circulating supply of one ledger. */
  supply(ledger: number): Promise<{ minted: bigint; burnt: bigint; circulating: bigint }> {
    return this.read((v) => v.supply(ledger));
  }

  lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]> {
    return this.read((v) => v.lookupTransfers(ids));
  }

  /** The status of pending transfers (ids that are not pending transfers are left out). */
  pendingStatuses(ids: readonly bigint[]): Promise<Map<bigint, PendingStatus>> {
    return this.read((v) => v.pendingStatuses(ids));
  }

  /** Transfers debiting and/or crediting an account, by timestamp; page with timestampMin/Max. */
  getAccountTransfers(filter: AccountFilter): Promise<Transfer[]> {
    return this.read((v) => v.getAccountTransfers(filter));
  }

  /**
   * The balance history of an account with the `history` flag, filtered like getAccountTransfers
   * (filters apply before the limit, so only the last page is short). A code or direction filter
   * matches the transfer behind each row, so rows of expiries (which have no transfer) only
   * appear without one.
   */
  async getAccountBalances(filter: AccountFilter): Promise<AccountBalance[]> {
    // Waits for a commit in flight like every query, so the transfers behind the rows it finds
    // are in AccountTransfers; the store holds committed rows only.
    const f = await this.read(() => checkAccountFilter(filter));
    return this.store.accountBalances(f.accountId, f.min, f.max, f.reversed, f.limit, (b) => this.accountTransfers.historyRowMatches(f, b.timestamp));
  }

  /** Commits what is queued, then closes the store. Later calls fail with UNAVAILABLE. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.state = 'closing';
    if (this.expiryHandle !== null) this.clock.clearTimeout(this.expiryHandle);
    this.expiryHandle = null;
    if (this.committing || this.queue.length > 0) await new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (this.storeClosed) return;
    try {
      if (this.state !== 'failed') await this.store.checkpoint();
    } finally {
      this.storeClosed = true;
      await this.store.close();
    }
    if (this.state !== 'failed') this.state = 'closed';
  }

  // ------------------------------------------------------------------ group commit

  private readable(): void {
    if (this.state === 'failed') throw this.unavailable();
    if (this.storeClosed) throw new LedgerError('UNAVAILABLE', 'the ledger is closed');
  }

  private submit(req: Request): void {
    if (this.state !== 'open') {
      req.reject(this.unavailable());
      return;
    }
    if (!Array.isArray(req.events)) {
      req.reject(new LedgerError('INVALID_ARGUMENT', `${req.kind} must be an array of events`));
      return;
    }
    if (req.events.length > MAX_BATCH_EVENTS) {
      req.reject(new LedgerError('BATCH_TOO_LARGE', `${req.kind} has ${req.events.length} events; a batch holds at most ${MAX_BATCH_EVENTS}`));
      return;
    }
    this.queue.push(req);
    this.queuedEvents += req.events.length;
    this.schedule();
  }

  private unavailable(): LedgerError {
    if (this.state === 'failed') return new LedgerError('UNAVAILABLE', `the ledger stopped after a failed commit; reopen it: ${(this.failure as Error)?.message ?? this.failure}`, { cause: this.failure });
    return new LedgerError('UNAVAILABLE', `the ledger is ${this.state}`);
  }

  private schedule(): void {
    if (this.scheduled || this.committing || this.queue.length === 0) return;
    this.scheduled = true;
    // A macrotask: readers woken by the previous commit (microtasks) run before this group is applied.
    setImmediate(() => {
      this.scheduled = false;
      this.commitGroup();
    });
  }

  private nowNs(): bigint {
    return BigInt(Math.floor(this.clock.now())) * 1_000_000n;
  }

  private commitGroup(): void {
    if (this.committing || this.queue.length === 0) return;
    this.committing = true;
    // Take whole batches up to the event budget (at least one).
    let take = 0;
    let events = 0;
    while (take < this.queue.length && (take === 0 || events + this.queue[take]!.events.length <= this.maxGroupEvents)) {
      events += this.queue[take]!.events.length;
      take += 1;
    }
    const group = this.queue.splice(0, take);
    this.queuedEvents -= events;
    const applied: Array<{ req: Request; results: string[] }> = [];
    const changes: LedgerChanges[] = [];
    let written: void | Promise<void>;
    try {
      if (this.state === 'failed') throw this.failure;
      const now = this.nowNs();
      for (const req of group) {
        let outcome: BatchOutcome<string>;
        try {
          if (req.kind === 'transfers' && req.admit) req.admit(this.core);
          outcome =
            req.kind === 'accounts'
              ? this.core.createAccounts(req.events, now)
              : req.kind === 'transfers'
                ? this.core.createTransfers(req.events, now)
                : { results: [], changes: this.core.expirePendingTransfers(now) };
        } catch (err) {
          // A malformed batch changes nothing: refuse it alone. Anything else stops the ledger.
          if (err instanceof LedgerError && (err.code === 'INVALID_ARGUMENT' || err.code === 'BATCH_TOO_LARGE' || err.code === 'PERMISSION_DENIED')) {
            req.reject(err);
            continue;
          }
          throw err;
        }
        applied.push({ req, results: outcome.results });
        changes.push(outcome.changes);
      }
      written = changes.length > 0 ? this.store.write(changes) : undefined;
    } catch (err) {
      this.committing = false;
      this.fail(err, group);
      return;
    }
    if (written === undefined) {
      // Synchronous store: durable now, and nothing else ran since the group was applied.
      this.committed(applied, changes);
      return;
    }
    // Asynchronous store: the core is ahead of the database until COMMIT returns; queries wait.
    this.inFlight = written.then(
      () => {
        this.inFlight = null;
        this.committed(applied, changes);
      },
      (err: unknown) => {
        this.inFlight = null;
        this.committing = false;
        this.fail(err, group);
      },
    );
  }

  /** A group is durable: index its transfers, publish it, answer its callers. */
  private committed(applied: ReadonlyArray<{ req: Request; results: string[] }>, changes: readonly LedgerChanges[]): void {
    this.committing = false;
    for (const c of changes) for (const t of c.transfers) this.accountTransfers.add(t);
    this.committedTimestamp = this.core.lastTimestamp;
    this.stats.commits += 1;
    this.stats.batches += applied.length;
    this.stats.largestGroup = Math.max(this.stats.largestGroup, applied.length);
    if (this.onCommit && changes.length > 0) {
      try {
        this.onCommit(changes);
      } catch (err) {
        this.logger?.error({ err }, 'caesar onCommit listener failed (the commit stands)');
      }
    }
    for (const { req, results } of applied) (req.resolve as (r: string[]) => void)(results);
    if (this.lostDuringCommit !== null) {
      this.fail(this.lostDuringCommit, []);
      return;
    }
    this.armExpiry();
    this.afterCommit();
  }

  private fail(err: unknown, group: readonly Request[]): void {
    if (this.state !== 'failed') {
      this.failure = err;
      this.state = 'failed';
      this.logger?.error({ err }, 'caesar ledger commit failed; the ledger stopped (reopen to continue from the committed state)');
      try {
        this.onFailed?.(err);
      } catch (listenerErr) {
        this.logger?.error({ err: listenerErr }, 'caesar onFailed listener failed');
      }
    }
    const error = this.unavailable();
    // Rejecting a request already refused alone (malformed) is a no-op: a promise settles once.
    for (const req of [...group, ...this.queue]) req.reject(error);
    this.queue = [];
    this.queuedEvents = 0;
    if (this.expiryHandle !== null) this.clock.clearTimeout(this.expiryHandle);
    this.expiryHandle = null;
    this.afterCommit();
  }

  private afterCommit(): void {
    if (this.queue.length > 0) {
      this.schedule();
      return;
    }
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }

  /** Keeps one timer armed for the earliest pending-transfer timeout. */
  private armExpiry(): void {
    if (!this.expiryTimer || this.state !== 'open') return;
    const next = this.core.nextExpiry();
    if (next === this.armedExpiry && this.expiryHandle !== null) return;
    if (this.expiryHandle !== null) this.clock.clearTimeout(this.expiryHandle);
    this.expiryHandle = null;
    this.armedExpiry = next;
    if (next === undefined) return;
    const ms = Number((next - this.nowNs()) / 1_000_000n) + 1;
    this.expiryHandle = this.clock.setTimeout(() => {
      this.expiryHandle = null;
      this.armedExpiry = undefined;
      if (this.state === 'open') this.expirePendingTransfers().catch(() => undefined);
    }, Math.max(0, ms));
  }
}

/** Synchronous queries of the core and the account index (committed state when no commit is in flight). */
function committedView(core: Ledger, accountTransfers: AccountTransfers): LedgerView {
  return {
    lookupAccount: (id) => core.lookupAccount(id),
    lookupTransfer: (id) => core.lookupTransfer(id),
    lookupAccounts(ids) {
      checkIdList(ids);
      const out: Account[] = [];
      for (const id of ids) {
        const a = core.lookupAccount(id);
        if (a) out.push(a);
      }
      return out;
    },
    lookupTransfers(ids) {
      checkIdList(ids);
      const out: Transfer[] = [];
      for (const id of ids) {
        const t = core.lookupTransfer(id);
        if (t) out.push(t);
      }
      return out;
    },
    pendingStatuses(ids) {
      checkIdList(ids);
      const out = new Map<bigint, PendingStatus>();
      for (const id of ids) {
        const s = core.pendingStatus(id);
        if (s !== undefined) out.set(id, s);
      }
      return out;
    },
    getAccountTransfers: (filter) => accountTransfers.query(checkAccountFilter(filter)),
    supply: (ledger) => core.supply(ledger),
  };
}

function checkIdList(ids: readonly bigint[]): void {
  if (!Array.isArray(ids)) throw new LedgerError('INVALID_ARGUMENT', 'ids must be an array');
  if (ids.length > MAX_BATCH_EVENTS) throw new LedgerError('BATCH_TOO_LARGE', `at most ${MAX_BATCH_EVENTS} ids per lookup`);
  ids.forEach((id, i) => {
    if (!isU128(id)) throw new LedgerError('INVALID_ARGUMENT', `ids[${i}] must be a bigint in 0..2^128-1`);
  });
}

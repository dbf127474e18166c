// What DurableLedger needs from a storage backend. Two implement it: the embedded SQLite database
// (ledger-database.ts, the default: synchronous, so a group is applied and written in one step)
// and PostgreSQL (postgres-ledger-store.ts: `write` returns a promise, and while it is pending the
// core is ahead of the database; DurableLedger then holds every query until COMMIT returns).
//
// A store is opened by its own factory, which verifies what it holds and restores the pure core
// (`OpenedLedgerStore`); from then on it receives every group of committed changes in order.
import type { Ledger } from '../core/ledger';
import type { AccountBalance, LedgerChanges } from '../core/types';

export interface LedgerStore {
  /** The random id fixed when the ledger was created. */
  readonly ledgerId: string;
  /** Where the ledger is, for logs and errors (a path, or a PostgreSQL URL without password). */
  readonly location: string;
  /**
   * Writes the changes of one or more batches in ONE transaction; durable once it returns (or once
   * its promise resolves). A store whose write failed refuses every later write and checkpoint.
   * Synchronous stores return undefined: DurableLedger then answers in the same step.
   */
  write(groups: readonly LedgerChanges[]): void | Promise<void>;
  /**
   * The balance history rows of an account in [min, max] (by timestamp, newest first if
   * `reversed`) that `accept` keeps, at most `limit` of them. Only committed rows.
   */
  accountBalances(accountId: bigint, min: bigint, max: bigint, reversed: boolean, limit: number, accept: (b: AccountBalance) => boolean): AccountBalance[] | Promise<AccountBalance[]>;
  /** Writes the balances of every account changed since the last checkpoint (before close). */
  checkpoint(): void | Promise<void>;
  close(): void | Promise<void>;
  /**
   * Called once if the store learns, between writes, that it can no longer write (a PostgreSQL
   * connection that dropped while idle): DurableLedger stops as after a failed commit.
   */
  onLost?(listener: (err: unknown) => void): void;
}

/** A verified store and the core restored from it. */
export interface OpenedLedgerStore {
  readonly store: LedgerStore;
  readonly ledger: Ledger;
}

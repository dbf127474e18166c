// The storage boundary of the log: everything durable goes through this interface, so the
// log logic stays independent of the backend (file backend: file-storage.ts).
import type { SignedTreeHead } from './sth';

/** One log entry as stored. */
export interface StoredEntry {
  /** TLS-encoded MerkleTreeLeaf (what get-entries returns as leaf_input). */
  leafInput: Uint8Array;
  /** get-entries extra_data: the certificate chain (x509) or PrecertChainEntry (precert). */
  extraData: Uint8Array;
  /** hashLeaf(leafInput), stored so reopening does not rehash every leaf. */
  leafHash: Uint8Array;
}

/** A group-committed batch of consecutive entries. */
export interface StoredBatch {
  firstIndex: number;
  /** The batch timestamp (ms) every entry's MerkleTreeLeaf carries. */
  timestamp: number;
  entries: readonly StoredEntry[];
}

/** What a backend recovers on open. */
export interface RecoveredState {
  /** Number of durable entries. */
  size: number;
  /** size × 32 bytes: the leaf hashes in index order. */
  leafHashes: Uint8Array;
  /** Largest batch timestamp stored (0 when empty). */
  lastTimestamp: number;
  /** The last persisted signed tree head, if any. */
  sth: SignedTreeHead | null;
}

export interface LogStorage {
  /** Opens (creating if needed), checks integrity and returns the durable state. */
  open(): Promise<RecoveredState>;
  /**
   * Appends a batch. The promise resolves only once the batch is durable (fsync'd); batches are
   * appended one at a time, in index order, batch.firstIndex equal to the current size.
   */
  appendBatch(batch: StoredBatch): Promise<void>;
  /** Entries [start, end) of the durable ones. */
  readEntries(start: number, end: number): Promise<StoredEntry[]>;
  /** Persists the latest STH atomically and durably (it replaces the previous one). */
  writeSth(sth: SignedTreeHead): Promise<void>;
  close(): Promise<void>;
}

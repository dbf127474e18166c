// The storage boundary of the log: everything durable goes through this interface, so the
// log logic stays independent of the backend (file backend: file-storage.ts).
import type { Hasher } from './hasher';
import type { MerkleTree } from './merkle';
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
  /**
   * The tree of every durable entry (size = number of entries), built with the hasher passed to
   * open. The log extends it after each durable batch; a backend may checkpoint it.
   */
  tree: MerkleTree;
  /** Largest batch timestamp stored (0 when empty). */
  lastTimestamp: number;
  /** The last persisted signed tree head, if any. */
  sth: SignedTreeHead | null;
}

export interface LogStorage {
  /** Opens (creating if needed), checks integrity and returns the durable state. */
  open(hasher: Hasher): Promise<RecoveredState>;
  /**
   * Appends a batch. The promise resolves only once the batch is durable (fsync'd); batches are
   * appended one at a time, in index order, batch.firstIndex equal to the current size.
   */
  appendBatch(batch: StoredBatch): Promise<void>;
  /**
   * Optional: the log appended a durable batch to the recovered tree. A backend may checkpoint
   * the tree in the background; durability never depends on it (entries are durable first).
   */
  onTreeAdvanced?(): void;
  /** Entries [start, end) of the durable ones. */
  readEntries(start: number, end: number): Promise<StoredEntry[]>;
  /** Persists the latest STH atomically and durably (it replaces the previous one). */
  writeSth(sth: SignedTreeHead): Promise<void>;
  close(): Promise<void>;
}

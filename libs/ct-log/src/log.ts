// The log as a library: RFC 6962 §4 operations over a Merkle tree, a group-commit sequencer and
// a LogStorage. This is the I/O shell; the Merkle math, codecs and Sequencer are pure.
import type { Logger } from 'pino';
import { type AcceptedRoot, IssuerCache, parseRoots, validatePrecertChain, validateX509Chain } from './chain';
import { CorruptionError, CtLogError } from './errors';
import { FileLogStorage } from './file-storage';
import { HASH_SIZE, type Hasher, sha256Hasher } from './hasher';
import type { FalconSigner, LogSigningKey } from './keys';
import { LeafHashIndex } from './leaf-index';
import { equalBytes, type MerkleTree } from './merkle';
import { type Batch, Sequencer } from './sequencer';
import { explainSth, signTreeHead, type SignedTreeHead } from './sth';
import type { LogStorage, StoredEntry } from './storage';
import {
  encodeCertificateChain,
  encodeMerkleTreeLeaf,
  encodePrecertChainEntry,
  LogEntryType,
  type SignedCertificateTimestamp,
  type SignedEntry,
  V1,
} from './structs';

export interface CtLogOptions {
  storage: LogStorage;
  /** ECDSA P-256 key: signs SCTs and STHs; its SPKI hash is the log id. */
  signingKey: LogSigningKey;
  /** FALCON-1024 signer for the STH's falcon_signature. */
  falcon: FalconSigner;
  /** Accepted root certificates (DER); get-roots returns them. */
  roots: readonly Uint8Array[];
  /** Milliseconds since the epoch; defaults to Date.now. */
  clock?: () => number;
  hasher?: Hasher;
  /** Most entries per group commit (default 2048). */
  maxBatchEntries?: number;
  /** Most bytes per group commit (default 8 MiB). */
  maxBatchBytes?: number;
  /** get-entries page size limit (default 256). */
  maxGetEntries?: number;
  /** Longest accepted submitted chain (default 10). */
  maxChainLength?: number;
  logger?: Logger;
}

export interface FileCtLogOptions extends Omit<CtLogOptions, 'storage'> {
  /** Data directory for the file backend. */
  dataDir: string;
}

/** What addChain / addPreChain return. */
export interface AddChainResult {
  sct: SignedCertificateTimestamp;
  /** Index the entry was sequenced at (it is in the tree when this resolves). */
  leafIndex: number;
  /** RFC 6962 leaf hash (for getProofByHash). */
  leafHash: Uint8Array;
}

/** One get-entries item. */
export interface LogEntry {
  /** TLS MerkleTreeLeaf. */
  leafInput: Uint8Array;
  /** Certificate chain (x509_entry) or PrecertChainEntry (precert_entry). */
  extraData: Uint8Array;
}

interface Pending {
  entry: SignedEntry;
  extraData: Uint8Array;
  resolve: (r: AddChainResult) => void;
  reject: (e: Error) => void;
}

const EMPTY = new Uint8Array(0);

function checkIndex(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new CtLogError('INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

export class CtLog {
  private readonly tree: MerkleTree;
  private readonly sequencer: Sequencer<Pending>;
  private readonly byHash: LeafHashIndex;
  private readonly roots: AcceptedRoot[];
  private readonly issuers = new IssuerCache();
  private readonly clock: () => number;
  private readonly maxGetEntries: number;
  private readonly maxChainLength: number;
  private latestSth: SignedTreeHead | null;
  private publishing: Promise<SignedTreeHead> | null = null;
  private drained: (() => void) | null = null;
  private closed = false;
  private pumpScheduled = false;

  private constructor(
    private readonly opts: CtLogOptions,
    tree: MerkleTree,
    lastTimestamp: number,
    sth: SignedTreeHead | null,
  ) {
    this.tree = tree;
    this.roots = parseRoots(opts.roots);
    this.clock = opts.clock ?? Date.now;
    this.maxGetEntries = opts.maxGetEntries ?? 256;
    this.maxChainLength = opts.maxChainLength ?? 10;
    this.latestSth = sth;
    this.sequencer = new Sequencer<Pending>(tree.size, lastTimestamp, {
      maxBatchEntries: opts.maxBatchEntries ?? 2048,
      maxBatchBytes: opts.maxBatchBytes ?? 8 * 1024 * 1024,
    });
    this.byHash = new LeafHashIndex(tree);
    this.byHash.catchUp();
  }

  /**
   * Opens a log: recovers the tree from storage and checks it against the last persisted STH
   * (size, root and both signatures). Any contradiction fails with a CorruptionError.
   */
  static async open(opts: CtLogOptions): Promise<CtLog> {
    parseRoots(opts.roots); // fail before touching storage
    const state = await opts.storage.open(opts.hasher ?? sha256Hasher);
    try {
      const tree = state.tree;
      const sth = state.sth;
      if (sth) {
        const where = opts.storage instanceof FileLogStorage ? opts.storage.sthPath : 'STH';
        if (sth.treeSize > tree.size) {
          throw new CorruptionError(where, 0, `STH covers ${sth.treeSize} entries but storage holds only ${tree.size}`);
        }
        if (!equalBytes(tree.rootAt(sth.treeSize), sth.rootHash)) {
          throw new CorruptionError(where, 0, `STH root at size ${sth.treeSize} does not match the stored entries`);
        }
        const why = explainSth(sth, opts.signingKey.publicKey, opts.falcon);
        if (why) throw new CorruptionError(where, 0, `${why} (wrong key, or a damaged file)`);
      }
      return new CtLog(opts, tree, Math.max(state.lastTimestamp, sth?.timestamp ?? 0), sth);
    } catch (err) {
      await opts.storage.close();
      throw err;
    }
  }

  /** A log on the embedded file backend in `dataDir`. */
  static openInDirectory(opts: FileCtLogOptions): Promise<CtLog> {
    const { dataDir, ...rest } = opts;
    const storage = new FileLogStorage(dataDir, opts.logger ? { logger: opts.logger } : {});
    return CtLog.open({ ...rest, storage });
  }

  /** Durable entries in the tree. */
  get treeSize(): number {
    return this.tree.size;
  }

  /** LogID (SHA-256 of the log's public key SPKI DER). */
  get logId(): Uint8Array {
    return this.opts.signingKey.logId;
  }

  /** RFC 6962 §4.1 add-chain: validate, sequence, make durable, return the SCT. */
  addChain(chain: readonly Uint8Array[]): Promise<AddChainResult> {
    try {
      const v = validateX509Chain(chain, this.roots, this.maxChainLength, this.issuers);
      return this.appendEntry(v.entry, encodeCertificateChain(v.chain.slice(1)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** RFC 6962 §4.2 add-pre-chain. */
  addPreChain(chain: readonly Uint8Array[]): Promise<AddChainResult> {
    try {
      const v = validatePrecertChain(chain, this.roots, this.maxChainLength, this.issuers);
      return this.appendEntry(v.entry, encodePrecertChainEntry(v.chain[0]!, v.chain.slice(1)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sequences an already-validated entry (addChain/addPreChain call this after validation; a
   * co-located CA may call it for certificates it has just issued). Resolves once durable.
   */
  appendEntry(entry: SignedEntry, extraData: Uint8Array): Promise<AddChainResult> {
    if (this.closed) return Promise.reject(new CtLogError('UNAVAILABLE', 'log is closed'));
    return new Promise<AddChainResult>((resolve, reject) => {
      const size = entry.entryType === LogEntryType.x509_entry ? entry.certificate.length : entry.preCert.tbsCertificate.length;
      this.sequencer.submit({ entry, extraData, resolve, reject }, size + extraData.length);
      this.schedulePump();
    });
  }

  /** Defer the pump to a microtask so calls made in the same tick share one group commit. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.sequencer.busy) return;
    const batch = this.sequencer.next(this.clock());
    if (!batch) {
      if (this.sequencer.pending === 0 && this.drained) this.drained();
      return;
    }
    void this.commit(batch).finally(() => this.pump());
  }

  /** One group commit: one storage write + fsync for the whole batch. */
  private async commit(batch: Batch<Pending>): Promise<void> {
    const { firstIndex, timestamp, items } = batch;
    let stored: StoredEntry[];
    let scts: SignedCertificateTimestamp[];
    try {
      const leafInputs = items.map((it) =>
        encodeMerkleTreeLeaf({ version: V1, timestampedEntry: { timestamp, signedEntry: it.entry, extensions: EMPTY } }),
      );
      const hashes = this.tree.hasher.hashLeaves(leafInputs);
      stored = items.map((it, i) => ({ leafInput: leafInputs[i]!, extraData: it.extraData, leafHash: hashes[i]! }));
      const durable = this.opts.storage.appendBatch({ firstIndex, timestamp, entries: stored });
      // Sign on the thread pool while the flush is in progress (the fdatasync was queued first);
      // nothing is released before `durable` resolves. In v1 the SCT signature input (§3.2) is
      // byte-identical to the MerkleTreeLeaf (§3.4): version 0, signature_type
      // certificate_timestamp(0) where the leaf has leaf_type timestamped_entry(0), then the same
      // timestamp, entry and extensions. So the leaf input is what gets signed.
      const signing = Promise.all(leafInputs.map((li) => this.opts.signingKey.signAsync(li)));
      const [, signatures] = await Promise.all([durable, signing]);
      const logId = this.opts.signingKey.logId;
      const signed = signatures.map((signature): SignedCertificateTimestamp => ({ version: V1, logId, timestamp, extensions: EMPTY, signature }));
      scts = signed;
    } catch (err) {
      this.opts.logger?.error({ err, firstIndex }, 'log write failed; refusing further entries');
      const cause = err instanceof Error ? err.message : String(err);
      for (const p of this.sequencer.fail()) {
        p.reject(new CtLogError('UNAVAILABLE', `log write failed (${cause}); reopen the log to recover`));
      }
      if (this.drained) this.drained();
      return;
    }
    for (const e of stored) this.tree.appendLeafHash(e.leafHash);
    this.byHash.catchUp();
    this.opts.storage.onTreeAdvanced?.();
    this.sequencer.complete(batch);
    for (let i = 0; i < items.length; i++) {
      items[i]!.resolve({ sct: scts[i]!, leafIndex: firstIndex + i, leafHash: stored[i]!.leafHash });
    }
  }

  /**
   * RFC 6962 §4.3 get-sth. The returned STH covers every durable entry at the time of the call;
   * a new one is signed (ECDSA + FALCON) and persisted atomically before it is returned.
   */
  async getSth(): Promise<SignedTreeHead> {
    for (;;) {
      const sth = this.latestSth;
      if (sth && sth.treeSize === this.tree.size) return sth;
      if (!this.publishing) {
        this.publishing = this.publish().finally(() => {
          this.publishing = null;
        });
        return this.publishing;
      }
      await this.publishing;
    }
  }

  private async publish(): Promise<SignedTreeHead> {
    const treeSize = this.tree.size;
    const timestamp = Math.max(this.clock(), this.sequencer.lastTimestamp, this.latestSth?.timestamp ?? 0);
    const sth = signTreeHead({ treeSize, timestamp, rootHash: this.tree.rootAt(treeSize) }, this.opts.signingKey, this.opts.falcon);
    await this.opts.storage.writeSth(sth);
    this.latestSth = sth;
    return sth;
  }

  /** The last persisted STH without publishing a new one (null if none yet). */
  get lastSth(): SignedTreeHead | null {
    return this.latestSth;
  }

  /** RFC 6962 §4.4 get-sth-consistency: proof that tree `first` is a prefix of tree `second`. */
  getSthConsistency(first: number, second: number): Uint8Array[] {
    checkIndex('first', first);
    checkIndex('second', second);
    if (second > this.tree.size) throw new CtLogError('OUT_OF_RANGE', `second (${second}) exceeds the tree size (${this.tree.size})`);
    if (first > second) throw new CtLogError('INVALID_ARGUMENT', `first (${first}) exceeds second (${second})`);
    return this.tree.consistencyProof(first, second);
  }

  /** RFC 6962 §4.5 get-proof-by-hash. */
  getProofByHash(leafHash: Uint8Array, treeSize: number): { leafIndex: number; auditPath: Uint8Array[] } {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) {
      throw new CtLogError('INVALID_ARGUMENT', `hash must be ${HASH_SIZE} bytes, got ${leafHash instanceof Uint8Array ? leafHash.length : typeof leafHash}`);
    }
    checkIndex('tree_size', treeSize);
    if (treeSize < 1) throw new CtLogError('INVALID_ARGUMENT', 'tree_size (0) holds no leaves');
    if (treeSize > this.tree.size) throw new CtLogError('OUT_OF_RANGE', `tree_size (${treeSize}) exceeds the tree size (${this.tree.size})`);
    const index = this.byHash.find(leafHash);
    if (index === undefined) throw new CtLogError('NOT_FOUND', 'no leaf with that hash');
    if (index >= treeSize) throw new CtLogError('NOT_FOUND', `leaf ${index} is not in the tree of size ${treeSize}`);
    return { leafIndex: index, auditPath: this.tree.inclusionProof(index, treeSize) };
  }

  /** Inclusion proof by index (the building block of get-entry-and-proof). */
  getProofByIndex(leafIndex: number, treeSize: number): Uint8Array[] {
    checkIndex('leaf_index', leafIndex);
    checkIndex('tree_size', treeSize);
    if (treeSize > this.tree.size) throw new CtLogError('OUT_OF_RANGE', `tree_size (${treeSize}) exceeds the tree size (${this.tree.size})`);
    if (leafIndex >= treeSize) throw new CtLogError('OUT_OF_RANGE', `leaf_index (${leafIndex}) must be less than tree_size (${treeSize})`);
    return this.tree.inclusionProof(leafIndex, treeSize);
  }

  /** Root hash of the tree at any size up to the current one. */
  rootAt(treeSize: number): Uint8Array {
    checkIndex('tree_size', treeSize);
    if (treeSize > this.tree.size) throw new CtLogError('OUT_OF_RANGE', `tree_size (${treeSize}) exceeds the tree size (${this.tree.size})`);
    return this.tree.rootAt(treeSize);
  }

  /**
   * RFC 6962 §4.6 get-entries: entries start..end INCLUSIVE. Returns at most maxGetEntries
   * entries (fewer than asked is allowed by the RFC; callers page on).
   */
  async getEntries(start: number, end: number): Promise<LogEntry[]> {
    checkIndex('start', start);
    checkIndex('end', end);
    if (start > end) throw new CtLogError('INVALID_ARGUMENT', `start (${start}) exceeds end (${end})`);
    if (start >= this.tree.size) throw new CtLogError('OUT_OF_RANGE', `start (${start}) is not below the tree size (${this.tree.size})`);
    const last = Math.min(end, this.tree.size - 1, start + this.maxGetEntries - 1);
    const rows = await this.opts.storage.readEntries(start, last + 1);
    return rows.map((r) => ({ leafInput: r.leafInput, extraData: r.extraData }));
  }

  /** RFC 6962 §4.7 get-roots: the accepted root certificates (DER). */
  getRoots(): Buffer[] {
    return this.roots.map((r) => Buffer.from(r.der));
  }

  /** Stops accepting entries, waits for queued ones to become durable, closes storage. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sequencer.close();
    if (this.sequencer.busy || this.sequencer.pending > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.pump();
      });
    }
    await this.publishing?.catch(() => undefined);
    await this.opts.storage.close();
  }
}

// The validator's durable state in one SQLite file (better-sqlite3, WAL):
//
//   meta            format, chain id, genesis SHA-256, validator id: a data dir belongs to one
//                   validator of one chain; anything else is STATE_MISMATCH
//   safety          one row: encodeSafetyState of the last persist effect
//   pending_blocks  blocks of persist effects (voted for or proposed) not yet committed
//   blocks          the block log: encodeCommittedBlock by height, contiguous from the oldest kept
//   operations      operation id -> height of the block that first committed it (idempotency)
//   assets, op_results  the application state (store/app-tables.ts), written in the same
//                   transaction as the block that changes it
//   reward_progress, evidence  what is reported to Caesar (store/reporting-tables.ts)
//   snapshots       the application state at every snapshotEvery-th height (store/snapshot-format.ts),
//                   the newest two kept: what a validator that fell too far behind installs
//   audit_blocks    pruned blocks that carry a certificate or four-proof validation: TrustChain's
//                   certificates name them, so `consensus/block` keeps answering for them
//
// Pruning. The block log keeps the newest retainBlocks blocks (and everything the reward
// reporter has not settled yet, when it runs); older ones are deleted a few per commit, after
// the first snapshot above them exists. A validator that needs a pruned block to catch up gets
// a snapshot instead (sync/state-sync.ts).
//
// Durability. The connection runs with synchronous=NORMAL: a transaction is in the WAL (so in
// the OS: a kill -9 loses nothing) when it returns, and on disk once the WAL is synced. persist()
// writes its transaction and then syncs the WAL with an asynchronous fdatasync (libuv's thread
// pool): the promise it returns resolves when the safety state and everything written before it
// is on disk, which is what synchronous=FULL would give, without blocking the event loop for
// the disk wait (the shell performs nothing after a persist before it resolves, and meanwhile
// answers and messages keep flowing). The other writes (appendCommitted, the reporting tables)
// are not synced themselves; the next persist's fdatasync makes them durable, in order (WAL
// frames are appended in order, and recovery keeps a prefix of transactions). A power loss may
// drop the newest commit records, and nothing is lost with them: each committed block was
// persisted (synced, as a pending block) by this validator before it voted or proposed, and by
// 2f+1 validators before it could be certified; the restarted replica commits it again when it
// learns the next QC. SQLite itself syncs the WAL before a checkpoint and the database after it.
//
// Opening re-checks everything it reads (SQLite's quick_check, each record's codec, each
// block's hash against the chain tag, the hash chain and heights) and refuses a damaged store
// with STATE_DAMAGED: it never resets or skips state.
import Database from 'better-sqlite3';
import { closeSync, existsSync, fdatasync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  computeBlockHash,
  decodeBlock,
  decodeCommittedBlock,
  decodeSafetyState,
  encodeBlock,
  encodeCommittedBlock,
  encodeSafetyState,
  initialSafetyState,
  type Block,
  type CommittedBlock,
  type RestoredState,
  type SafetyState,
  type ValidatorSet,
} from '@stoq/consensus';
import { applyOperation, type AssetRecord, type KnownSet, type OperationResult } from '../app/apply';
import { decodeOperation, type Operation } from '../operations';
import { HyperMeshError } from '../errors';
import { AppTables, type AssetQuery } from './app-tables';
import { ReportingTables } from './reporting-tables';
import { SNAPSHOT_ANCHOR_BLOCKS, decodeSnapshot, encodeSnapshot, snapshotDigest, SnapshotFormatError, type AssetRow, type BlockHashRow, type OperationRow, type ResultRow, type SequenceRow, type SnapshotRows } from './snapshot-format';

export const STORE_FORMAT = 'hypermesh-store/1';
export const STORE_FILE = 'hypermesh.sqlite';

export interface StoreIdentity {
  chainId: string;
  genesisSha256: string;
  validatorId: number;
}

export interface CommittedOperation {
  operationId: string;
  height: number;
}

type Db = Database.Database;

/** What the block log keeps (`hypermesh serve --snapshot-interval/--retain-blocks`). */
export interface RetentionPolicy {
  /** A snapshot at every height divisible by this; 0: no snapshots, and nothing is pruned. */
  snapshotEvery: number;
  /** The newest committed blocks always kept in the log. */
  retainBlocks: number;
  /** Keep blocks the reward reporter has not settled yet (it reads them from the log). */
  keepUnreported: boolean;
}

export const DEFAULT_RETENTION: RetentionPolicy = { snapshotEvery: 1000, retainBlocks: 10_000, keepUnreported: true };
/** Blocks deleted per commit at most: a backlog (a store from before pruning) drains without a pause. */
const PRUNE_PER_COMMIT = 32;
const SNAPSHOTS_KEPT = 2;

/** A stored snapshot (store/snapshot-format.ts): the state right after committing `height`. */
export interface SnapshotInfo {
  height: number;
  blockHash: string;
  /** SHA-256 (hex) of the snapshot's bytes. */
  digest: string;
  size: number;
}

const VALIDATION_KINDS = new Set(['certificate.validate', 'proofs.validate']);
/** Whether a block carries a validation (kept for audit when pruned). */
function carriesValidation(payload: readonly Uint8Array[]): boolean {
  return payload.some((bytes) => VALIDATION_KINDS.has(decodeOperation(bytes)?.body.kind ?? 'opaque'));
}

function damaged(path: string, what: string, cause?: unknown): HyperMeshError {
  return new HyperMeshError('STATE_DAMAGED', `${path}: ${what}; the validator refuses to start on damaged state (restore the data dir from a backup, or remove it to rejoin as an empty validator only if you know it never voted)`, { cause });
}

export class ValidatorStore {
  private readonly stmt: {
    putSafety: Database.Statement<[Buffer]>;
    putPending: Database.Statement<[string, number, Buffer]>;
    prunePending: Database.Statement<[number]>;
    putBlock: Database.Statement<[number, string, Buffer]>;
    putOperation: Database.Statement<[string, number]>;
    getOperation: Database.Statement<[string], { height: number }>;
    getBlock: Database.Statement<[number], { height: number; hash: string; record: Buffer }>;
    putHash: Database.Statement<[number, string]>;
    pruneHashes: Database.Statement<[number]>;
    getHash: Database.Statement<[number], { hash: string }>;
  };
  private readonly persistTx: (state: SafetyState, blocks: readonly Block[]) => void;
  private readonly commitTx: (c: CommittedBlock, operations: readonly Operation[]) => string[];
  private readonly app: AppTables;
  /** What this validator reports to Caesar (rewards cursor, equivocation evidence). */
  readonly reporting: ReportingTables;
  private tip: { height: number; hash: string };
  private oldest: number;
  /** The newest block's record: every submitter of that block is answered with it. */
  private lastRecord: { height: number; record: Buffer } | null = null;
  /** Sets the validity check already decoded (useKnownSets): applying their validations skips a decode. */
  private knownSet: KnownSet | undefined;
  /** The WAL file, opened at the first persist. */
  private walFd: number | null = null;
  private latest: SnapshotInfo | null;
  private readonly getAuditBlock: Database.Statement<[number], { height: number; hash: string; record: Buffer }>;

  private constructor(
    readonly path: string,
    private readonly db: Db,
    private readonly validatorSet: ValidatorSet,
    tip: { height: number; hash: string },
    oldest: number,
    private readonly policy: RetentionPolicy,
  ) {
    this.tip = tip;
    this.oldest = oldest;
    this.getAuditBlock = db.prepare('SELECT height, hash, record FROM audit_blocks WHERE height = ?');
    const snap = db.prepare('SELECT height, block_hash, digest, length(data) AS size FROM snapshots ORDER BY height DESC LIMIT 1').get() as { height: number; block_hash: string; digest: string; size: number } | undefined;
    this.latest = snap ? { height: snap.height, blockHash: snap.block_hash, digest: snap.digest, size: snap.size } : null;
    this.app = new AppTables(db);
    this.reporting = new ReportingTables(db);
    this.stmt = {
      putSafety: db.prepare('INSERT INTO safety (id, state) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state'),
      putPending: db.prepare('INSERT OR IGNORE INTO pending_blocks (hash, height, record) VALUES (?, ?, ?)'),
      prunePending: db.prepare('DELETE FROM pending_blocks WHERE height <= ?'),
      putBlock: db.prepare('INSERT INTO blocks (height, hash, record) VALUES (?, ?, ?)'),
      putOperation: db.prepare('INSERT OR IGNORE INTO operations (operation_id, height) VALUES (?, ?)'),
      getOperation: db.prepare('SELECT height FROM operations WHERE operation_id = ?'),
      getBlock: db.prepare('SELECT height, hash, record FROM blocks WHERE height = ?'),
      putHash: db.prepare('INSERT OR REPLACE INTO block_hashes (height, hash) VALUES (?, ?)'),
      pruneHashes: db.prepare('DELETE FROM block_hashes WHERE height < ?'),
      getHash: db.prepare('SELECT hash FROM block_hashes WHERE height = ?'),
    };
    this.persistTx = db.transaction((state: SafetyState, blocks: readonly Block[]) => {
      this.stmt.putSafety.run(Buffer.from(encodeSafetyState(state)));
      for (const b of blocks) {
        if (b.height <= this.tip.height) continue;
        this.stmt.putPending.run(computeBlockHash(this.validatorSet.chainTag, b), b.height, Buffer.from(encodeBlock(b)));
      }
    });
    this.commitTx = db.transaction((c: CommittedBlock, operations: readonly Operation[]) => {
      const record = Buffer.from(encodeCommittedBlock(c));
      this.stmt.putBlock.run(c.block.height, c.hash, record);
      this.stmt.putHash.run(c.block.height, c.hash);
      this.stmt.pruneHashes.run(c.block.height - SNAPSHOT_ANCHOR_BLOCKS);
      this.lastRecord = { height: c.block.height, record };
      this.stmt.prunePending.run(c.block.height);
      const fresh: string[] = [];
      // In block order; only an id's first commit is applied (idempotent submission).
      for (const op of operations) {
        if (this.stmt.putOperation.run(op.operationId, c.block.height).changes !== 1) continue;
        fresh.push(op.operationId);
        if (op.body.kind !== 'opaque') this.app.recordResult(op.operationId, applyOperation(this.app, op, c.block.height, this.knownSet));
      }
      return fresh;
    });
  }

  /**
   * Opens (creating on first start) the store in `dir` and reads back what a restarted replica
   * needs. `retain` bounds how many committed blocks are handed to the replica.
   */
  static open(dir: string, validatorSet: ValidatorSet, identity: StoreIdentity, retain = 10_000, policy: Partial<RetentionPolicy> = {}): { store: ValidatorStore; restored: RestoredState | undefined } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, STORE_FILE);
    const fresh = !existsSync(path);
    let db: Db;
    try {
      db = new Database(path, { fileMustExist: !fresh });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL'); // persist() syncs the WAL itself (see the header)
      db.pragma('foreign_keys = ON');
      if (!fresh) {
        const check = db.pragma('quick_check', { simple: true }) as string;
        if (check !== 'ok') throw damaged(path, `SQLite quick_check: ${check}`);
      }
    } catch (err) {
      if (err instanceof HyperMeshError) throw err;
      throw damaged(path, `cannot open the store: ${(err as Error).message}`, err);
    }
    try {
      if (fresh) ValidatorStore.create(db, identity);
      ValidatorStore.checkIdentity(db, path, identity);
      AppTables.ensure(db);
      ReportingTables.ensure(db);
      db.exec(`
        CREATE TABLE IF NOT EXISTS snapshots (height INTEGER PRIMARY KEY, block_hash TEXT NOT NULL, digest TEXT NOT NULL, data BLOB NOT NULL) STRICT;
        CREATE TABLE IF NOT EXISTS audit_blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, record BLOB NOT NULL) STRICT;
        CREATE TABLE IF NOT EXISTS block_hashes (height INTEGER PRIMARY KEY, hash TEXT NOT NULL) STRICT;
      `);
      // The hashes of the newest committed blocks (anchors of four-proof sets; snapshot "h"
      // rows). A store from before this table gets them from its block log.
      db.prepare('INSERT OR IGNORE INTO block_hashes (height, hash) SELECT height, hash FROM blocks WHERE height >= (SELECT MAX(height) FROM blocks) - ?').run(SNAPSHOT_ANCHOR_BLOCKS);
      const { restored, tip, oldest } = ValidatorStore.readBack(db, path, validatorSet, retain);
      return { store: new ValidatorStore(path, db, validatorSet, tip, oldest, { ...DEFAULT_RETENTION, ...policy }), restored };
    } catch (err) {
      db.close();
      if (err instanceof HyperMeshError) throw err;
      throw damaged(path, (err as Error).message, err);
    }
  }

  private static create(db: Db, id: StoreIdentity): void {
    db.transaction(() => {
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        CREATE TABLE safety (id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB NOT NULL) STRICT;
        CREATE TABLE pending_blocks (hash TEXT PRIMARY KEY, height INTEGER NOT NULL, record BLOB NOT NULL) STRICT;
        CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, record BLOB NOT NULL) STRICT;
        CREATE TABLE operations (operation_id TEXT PRIMARY KEY, height INTEGER NOT NULL) STRICT;
      `);
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      put.run('format', STORE_FORMAT);
      put.run('chain_id', id.chainId);
      put.run('genesis_sha256', id.genesisSha256);
      put.run('validator_id', String(id.validatorId));
    })();
  }

  private static checkIdentity(db: Db, path: string, id: StoreIdentity): void {
    let rows: Array<{ key: string; value: string }>;
    try {
      rows = db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>;
    } catch (err) {
      throw damaged(path, `not a HyperMesh store (${(err as Error).message})`, err);
    }
    const meta = new Map(rows.map((r) => [r.key, r.value]));
    if (meta.get('format') !== STORE_FORMAT) throw damaged(path, `format is ${JSON.stringify(meta.get('format') ?? null)}, expected "${STORE_FORMAT}"`);
    const want: Array<[string, string]> = [
      ['chain_id', id.chainId],
      ['genesis_sha256', id.genesisSha256],
      ['validator_id', String(id.validatorId)],
    ];
    for (const [k, v] of want) {
      if (meta.get(k) !== v) throw new HyperMeshError('STATE_MISMATCH', `${path}: the store was written for ${k} = ${JSON.stringify(meta.get(k) ?? null)}, this process is ${k} = ${JSON.stringify(v)}; use this validator's own data dir and genesis`);
    }
  }

  private static readBack(db: Db, path: string, set: ValidatorSet, retain: number): { restored: RestoredState | undefined; tip: { height: number; hash: string }; oldest: number } {
    const safetyRow = db.prepare('SELECT state FROM safety WHERE id = 1').get() as { state: Buffer } | undefined;
    const top = db.prepare('SELECT MAX(height) AS h, MIN(height) AS l, COUNT(*) AS n FROM blocks').get() as { h: number | null; l: number | null; n: number };
    if (!safetyRow) {
      if (top.n > 0) throw damaged(path, 'committed blocks but no safety state');
      return { restored: undefined, tip: { height: 0, hash: set.genesisBlockHash }, oldest: 1 };
    }
    let safety: SafetyState;
    try {
      safety = decodeSafetyState(new Uint8Array(safetyRow.state));
    } catch (err) {
      throw damaged(path, `safety state: ${(err as Error).message}`, err);
    }
    const highest = top.h ?? 0;
    const lowest = top.l ?? 1;
    if (top.n > 0 && top.n !== highest - lowest + 1) throw damaged(path, `block log has ${top.n} blocks between heights ${lowest} and ${highest}: a gap`);
    const from = Math.max(lowest, highest - retain + 1);
    const rows = db.prepare('SELECT height, hash, record FROM blocks WHERE height >= ? ORDER BY height').all(from) as Array<{ height: number; hash: string; record: Buffer }>;
    const committed: CommittedBlock[] = [];
    let prevHash: string | null = from === 1 ? set.genesisBlockHash : null;
    for (const r of rows) {
      let c: CommittedBlock;
      try {
        c = decodeCommittedBlock(new Uint8Array(r.record));
      } catch (err) {
        throw damaged(path, `block ${r.height}: ${(err as Error).message}`, err);
      }
      const hash = computeBlockHash(set.chainTag, c.block);
      if (c.block.height !== r.height || c.hash !== r.hash || hash !== r.hash) throw damaged(path, `block ${r.height}: its content does not hash to the stored hash`);
      if (c.qc.blockHash !== hash || c.qc.height !== r.height) throw damaged(path, `block ${r.height}: its QC certifies another block`);
      if (prevHash !== null && c.block.parentHash !== prevHash) throw damaged(path, `block ${r.height}: does not extend block ${r.height - 1}`);
      prevHash = hash;
      committed.push(c);
    }
    const pendingRows = db.prepare('SELECT hash, height, record FROM pending_blocks WHERE height > ?').all(highest) as Array<{ hash: string; height: number; record: Buffer }>;
    const pendingBlocks: Block[] = [];
    for (const r of pendingRows) {
      let b: Block;
      try {
        b = decodeBlock(new Uint8Array(r.record));
      } catch (err) {
        throw damaged(path, `pending block ${r.hash}: ${(err as Error).message}`, err);
      }
      if (computeBlockHash(set.chainTag, b) !== r.hash || b.height !== r.height) throw damaged(path, `pending block ${r.hash}: its content does not hash to the stored hash`);
      pendingBlocks.push(b);
    }
    const tip = committed.length > 0 ? { height: highest, hash: committed[committed.length - 1]!.hash } : { height: 0, hash: set.genesisBlockHash };
    return { restored: { safety, committed, pendingBlocks }, tip, oldest: top.n > 0 ? lowest : 1 };
  }

  /**
   * The persist effect: safety state + blocks in one transaction, durable when the returned
   * promise resolves (the WAL synced). Throws, or rejects, with STATE_WRITE_FAILED.
   */
  persist(state: SafetyState, blocks: readonly Block[]): Promise<void> {
    try {
      this.persistTx(state, blocks);
    } catch (err) {
      throw new HyperMeshError('STATE_WRITE_FAILED', `${this.path}: persist failed: ${(err as Error).message}`, { cause: err });
    }
    return this.syncWal();
  }

  /** fdatasync of the WAL file: everything written to the store so far is on disk when it resolves. */
  private syncWal(): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(new HyperMeshError('STATE_WRITE_FAILED', `${this.path}: syncing the WAL failed: ${err.message}`, { cause: err }));
      let fd: number;
      try {
        fd = this.walFd ?? this.openWal();
      } catch (err) {
        failed(err as Error);
        return;
      }
      fdatasync(fd, (err) => (err ? failed(err) : resolve()));
    });
  }

  /** The WAL file (SQLite keeps it, reused, while the connection is open); its directory entry synced once. */
  private openWal(): number {
    const fd = openSync(`${this.path}-wal`, 'r+');
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.walFd = fd;
    return fd;
  }

  /**
   * The commit effect: appends the block (the next height), records its operation ids and
   * applies the operations committed for the first time, in one transaction. Returns those ids
   * (a repeated id is an already applied operation).
   */
  appendCommitted(c: CommittedBlock, operations: readonly Operation[]): string[] {
    if (c.block.height !== this.tip.height + 1 || c.block.parentHash !== this.tip.hash) {
      throw new HyperMeshError('STATE_WRITE_FAILED', `${this.path}: commit of block ${c.block.height} does not extend the block log at ${this.tip.height}`);
    }
    let fresh: string[];
    try {
      fresh = this.commitTx(c, operations);
    } catch (err) {
      throw new HyperMeshError('STATE_WRITE_FAILED', `${this.path}: appending block ${c.block.height} failed: ${(err as Error).message}`, { cause: err });
    }
    this.tip = { height: c.block.height, hash: c.hash };
    if (this.policy.snapshotEvery > 0) {
      try {
        if (c.block.height % this.policy.snapshotEvery === 0) this.takeSnapshot(c);
        this.pruneSome();
      } catch (err) {
        throw new HyperMeshError('STATE_WRITE_FAILED', `${this.path}: snapshot or pruning after block ${c.block.height} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    return fresh;
  }

  /**
   * Writes the snapshot of the state as block `c` (just appended) left it; keeps the newest
   * SNAPSHOTS_KEPT. Synchronous, so no later commit can slip into it.
   */
  private takeSnapshot(c: CommittedBlock): void {
    const data = encodeSnapshot({ chainTag: this.validatorSet.chainTagHex, height: c.block.height, blockHash: c.hash }, this.snapshotRows(c.block.height));
    const info: SnapshotInfo = { height: c.block.height, blockHash: c.hash, digest: snapshotDigest(data), size: data.byteLength };
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO snapshots (height, block_hash, digest, data) VALUES (?, ?, ?, ?)').run(info.height, info.blockHash, info.digest, data);
      this.db.prepare('DELETE FROM snapshots WHERE height NOT IN (SELECT height FROM snapshots ORDER BY height DESC LIMIT ?)').run(SNAPSHOTS_KEPT);
    })();
    this.latest = info;
  }

  private snapshotRows(height: number): SnapshotRows {
    const rows = <T>(sql: string, ...params: number[]): Iterable<T> => this.db.prepare(sql).raw(true).iterate(...params) as Iterable<T>;
    return {
      operations: rows<OperationRow>('SELECT operation_id, height FROM operations ORDER BY operation_id'),
      assets: rows<AssetRow>('SELECT asset_id, kind, owner, attributes, created_height, updated_height FROM assets ORDER BY asset_id'),
      results: rows<ResultRow>('SELECT operation_id, result FROM op_results ORDER BY operation_id'),
      sequences: rows<SequenceRow>('SELECT lower(hex(node_id)), sequence FROM node_sequences ORDER BY node_id'),
      blockHashes: rows<BlockHashRow>('SELECT height, hash FROM block_hashes WHERE height >= ? AND height < ? ORDER BY height', Math.max(1, height - SNAPSHOT_ANCHOR_BLOCKS), height),
    };
  }

  /**
   * Deletes up to PRUNE_PER_COMMIT of the oldest blocks below what must stay: the newest
   * retainBlocks, everything from the newest snapshot on (a validator installing it fetches
   * the blocks after it), and what the reward reporter has not settled.
   */
  private pruneSome(): void {
    if (this.latest === null) return;
    let keepFrom = Math.min(this.latest.height, this.tip.height - this.policy.retainBlocks + 1);
    if (this.oldest >= keepFrom) return; // the usual case: no read of the reward cursor per commit
    if (this.policy.keepUnreported) keepFrom = Math.min(keepFrom, this.reporting.rewardCursor() + 1);
    if (this.oldest >= keepFrom) return;
    const upTo = Math.min(keepFrom - 1, this.oldest + PRUNE_PER_COMMIT - 1);
    this.db.transaction(() => this.dropBlocks(upTo))();
    this.oldest = upTo + 1;
  }

  /** Deletes the log's blocks up to `upTo`, moving those that carry a validation to audit_blocks. */
  private dropBlocks(upTo: number): void {
    const rows = this.db.prepare('SELECT height, hash, record FROM blocks WHERE height <= ? ORDER BY height').all(upTo) as Array<{ height: number; hash: string; record: Buffer }>;
    const keep = this.db.prepare('INSERT OR IGNORE INTO audit_blocks (height, hash, record) VALUES (?, ?, ?)');
    for (const r of rows) if (carriesValidation(decodeCommittedBlock(new Uint8Array(r.record)).block.payload)) keep.run(r.height, r.hash, r.record);
    this.db.prepare('DELETE FROM blocks WHERE height <= ?').run(upTo);
  }

  /** The newest snapshot, or null. */
  latestSnapshot(): SnapshotInfo | null {
    return this.latest;
  }

  /** The stored snapshot at `height`, or null if not kept. */
  snapshotAt(height: number): SnapshotInfo | null {
    if (this.latest?.height === height) return this.latest;
    const r = this.db.prepare('SELECT height, block_hash, digest, length(data) AS size FROM snapshots WHERE height = ?').get(height) as { height: number; block_hash: string; digest: string; size: number } | undefined;
    return r ? { height: r.height, blockHash: r.block_hash, digest: r.digest, size: r.size } : null;
  }

  /** Up to `length` bytes of the snapshot at `height` from `offset`, or null if not kept. */
  snapshotBytes(height: number, offset: number, length: number): Buffer | null {
    const r = this.db.prepare('SELECT substr(data, ?, ?) AS part FROM snapshots WHERE height = ?').get(offset + 1, length, height) as { part: Buffer } | undefined;
    return r?.part ?? null;
  }

  /**
   * Replaces the application state and the block log with a snapshot at a height above this
   * store's committed height (the caller checked that f+1 validators vouch for its digest, and
   * that `c` is its block with a valid QC). The safety state is kept as it is: it is what stops
   * this validator from signing twice in a view. Throws SNAPSHOT_INVALID for bytes that are not
   * that snapshot, STATE_WRITE_FAILED if the write fails.
   */
  installSnapshot(data: Uint8Array, c: CommittedBlock): SnapshotInfo {
    const invalid = (what: string): HyperMeshError => new HyperMeshError('SNAPSHOT_INVALID', `snapshot at height ${c.block.height}: ${what}`);
    let snap;
    try {
      snap = decodeSnapshot(data);
    } catch (err) {
      if (err instanceof SnapshotFormatError) throw invalid(err.message);
      throw err;
    }
    const h = snap.header;
    if (h.chainTag !== this.validatorSet.chainTagHex) throw invalid(`it is of chain ${h.chainTag.slice(0, 16)}, this validator's is ${this.validatorSet.chainTagHex.slice(0, 16)}`);
    if (h.height !== c.block.height || h.blockHash !== c.hash || computeBlockHash(this.validatorSet.chainTag, c.block) !== c.hash) throw invalid(`its header (${h.height}/${h.blockHash.slice(0, 16)}) does not name the block given with it`);
    if (c.qc.blockHash !== c.hash || c.qc.height !== c.block.height) throw invalid('the QC given with it certifies another block');
    if (h.height <= this.tip.height) throw invalid(`this validator has already committed height ${this.tip.height}; a snapshot never replaces committed state`);
    const info: SnapshotInfo = { height: h.height, blockHash: c.hash, digest: snapshotDigest(data), size: data.byteLength };
    try {
      this.db.transaction(() => {
        this.dropBlocks(this.tip.height);
        for (const t of ['operations', 'assets', 'op_results', 'node_sequences', 'snapshots']) this.db.prepare(`DELETE FROM ${t}`).run();
        this.stmt.prunePending.run(h.height);
        const op = this.db.prepare('INSERT INTO operations (operation_id, height) VALUES (?, ?)');
        for (const r of snap.operations) op.run(r[0], r[1]);
        const asset = this.db.prepare('INSERT INTO assets (asset_id, kind, owner, attributes, created_height, updated_height) VALUES (?, ?, ?, ?, ?, ?)');
        for (const r of snap.assets) asset.run(...r);
        const result = this.db.prepare('INSERT INTO op_results (operation_id, result) VALUES (?, ?)');
        for (const r of snap.results) result.run(r[0], r[1]);
        const seq = this.db.prepare('INSERT INTO node_sequences (node_id, sequence) VALUES (?, ?)');
        for (const r of snap.sequences) seq.run(Buffer.from(r[0], 'hex'), r[1]);
        this.db.prepare('DELETE FROM block_hashes').run();
        for (const r of snap.blockHashes) this.stmt.putHash.run(r[0], r[1]);
        this.stmt.putHash.run(h.height, c.hash);
        this.stmt.putBlock.run(h.height, c.hash, Buffer.from(encodeCommittedBlock(c)));
        this.db.prepare('INSERT INTO snapshots (height, block_hash, digest, data) VALUES (?, ?, ?, ?)').run(info.height, info.blockHash, info.digest, Buffer.from(data));
        // A validator that never persisted anything starts from the initial safety state (the
        // log must never hold blocks without one: readBack refuses that as damage).
        if (this.db.prepare('SELECT 1 FROM safety WHERE id = 1').get() === undefined) this.stmt.putSafety.run(Buffer.from(encodeSafetyState(initialSafetyState(this.validatorSet.genesisQc))));
        // Heights below the snapshot are not in this log: the other reporters settle them.
        if (this.reporting.rewardCursor() < h.height) this.reporting.setRewardCursor(h.height);
      })();
    } catch (err) {
      throw new HyperMeshError('STATE_WRITE_FAILED', `${this.path}: installing the snapshot at height ${h.height} failed: ${(err as Error).message}`, { cause: err });
    }
    this.tip = { height: h.height, hash: c.hash };
    this.oldest = h.height;
    this.lastRecord = null;
    this.latest = info;
    return info;
  }

  /** What a replica restarted on this store now needs (as open returns it). */
  restoredState(retain = 10_000): RestoredState | undefined {
    return ValidatorStore.readBack(this.db, this.path, this.validatorSet, retain).restored;
  }

  /** fdatasync of everything written so far (installSnapshot is durable once this resolves). */
  sync(): Promise<void> {
    return this.syncWal();
  }

  get committedHeight(): number {
    return this.tip.height;
  }

  /**
   * Hash of the committed block at `height` among the newest SNAPSHOT_ANCHOR_BLOCKS (also those
   * a snapshot brought: blocks this validator never held), or undefined.
   */
  blockHashAt(height: number): string | undefined {
    return this.stmt.getHash.get(height)?.hash;
  }

  get committedHash(): string {
    return this.tip.hash;
  }

  get oldestHeight(): number {
    return this.oldest;
  }

  /** A committed block by height, or null if not kept (pruned blocks that carry a validation are). */
  block(height: number): CommittedBlock | null {
    if (!Number.isSafeInteger(height) || height < 1) return null;
    const r = this.stmt.getBlock.get(height) ?? this.getAuditBlock.get(height);
    return r ? decodeCommittedBlock(new Uint8Array(r.record)) : null;
  }

  /**
   * A committed block's encodeCommittedBlock bytes as stored (no decode), or null. The newest one
   * comes from memory: a block carrying n validations answers n calls with it.
   */
  blockRecord(height: number): Uint8Array | null {
    if (this.lastRecord?.height === height) return this.lastRecord.record;
    if (!Number.isSafeInteger(height) || height < 1) return null;
    const r = this.stmt.getBlock.get(height) ?? this.getAuditBlock.get(height);
    return r ? new Uint8Array(r.record) : null;
  }

  /** Lets commits read a validation's node id and sequence from sets already decoded (app/apply.ts KnownSet). */
  useKnownSets(known: KnownSet): void {
    this.knownSet = known;
  }

  /** Height of the block that committed `operationId`, or null. */
  operationHeight(operationId: string): number | null {
    return this.stmt.getOperation.get(operationId)?.height ?? null;
  }

  /** The outcome of a typed operation's first commit, or null (not committed, or opaque). */
  operationResult(operationId: string): OperationResult | null {
    return this.app.result(operationId);
  }

  /** PoTime sequence of the node's last committed four-proof validation (four-proof's lastSequence). */
  lastSequence(nodeId: Uint8Array): bigint | undefined {
    return this.app.lastSequence(nodeId);
  }

  /** An asset as the registry holds it at the committed height. */
  asset(assetId: string): AssetRecord | undefined {
    return this.app.getAsset(assetId);
  }

  assets(q: AssetQuery): AssetRecord[] {
    return this.app.list(q);
  }

  close(): void {
    if (this.db.open) this.db.close();
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
  }
}

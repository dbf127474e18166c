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
  type Block,
  type CommittedBlock,
  type RestoredState,
  type SafetyState,
  type ValidatorSet,
} from '@stoq/consensus';
import { applyOperation, type AssetRecord, type OperationResult } from '../app/apply';
import { HyperMeshError } from '../errors';
import type { Operation } from '../operations';
import { AppTables, type AssetQuery } from './app-tables';
import { ReportingTables } from './reporting-tables';

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
  /** The WAL file, opened at the first persist. */
  private walFd: number | null = null;

  private constructor(
    readonly path: string,
    private readonly db: Db,
    private readonly validatorSet: ValidatorSet,
    tip: { height: number; hash: string },
    oldest: number,
  ) {
    this.tip = tip;
    this.oldest = oldest;
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
      this.lastRecord = { height: c.block.height, record };
      this.stmt.prunePending.run(c.block.height);
      const fresh: string[] = [];
      // In block order; only an id's first commit is applied (idempotent submission).
      for (const op of operations) {
        if (this.stmt.putOperation.run(op.operationId, c.block.height).changes !== 1) continue;
        fresh.push(op.operationId);
        if (op.body.kind !== 'opaque') this.app.recordResult(op.operationId, applyOperation(this.app, op, c.block.height));
      }
      return fresh;
    });
  }

  /**
   * Opens (creating on first start) the store in `dir` and reads back what a restarted replica
   * needs. `retain` bounds how many committed blocks are handed to the replica.
   */
  static open(dir: string, validatorSet: ValidatorSet, identity: StoreIdentity, retain = 10_000): { store: ValidatorStore; restored: RestoredState | undefined } {
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
      const { restored, tip, oldest } = ValidatorStore.readBack(db, path, validatorSet, retain);
      return { store: new ValidatorStore(path, db, validatorSet, tip, oldest), restored };
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
    return fresh;
  }

  get committedHeight(): number {
    return this.tip.height;
  }

  get oldestHeight(): number {
    return this.oldest;
  }

  /** A committed block by height, or null if not kept. */
  block(height: number): CommittedBlock | null {
    if (!Number.isSafeInteger(height) || height < 1) return null;
    const r = this.stmt.getBlock.get(height);
    return r ? decodeCommittedBlock(new Uint8Array(r.record)) : null;
  }

  /**
   * A committed block's encodeCommittedBlock bytes as stored (no decode), or null. The newest one
   * comes from memory: a block carrying n validations answers n calls with it.
   */
  blockRecord(height: number): Uint8Array | null {
    if (this.lastRecord?.height === height) return this.lastRecord.record;
    if (!Number.isSafeInteger(height) || height < 1) return null;
    const r = this.stmt.getBlock.get(height);
    return r ? new Uint8Array(r.record) : null;
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

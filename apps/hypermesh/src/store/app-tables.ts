// The application's tables in the validator's SQLite file, written only inside the transaction
// that appends a block to the log (ValidatorStore.appendCommitted): the registry always reflects
// exactly the committed height, and a crash loses either the block and its effects, or neither.
//
//   assets      the asset registry (app/apply.ts), attributes as canonical JSON (sorted keys)
//   op_results  outcome of each typed operation's first commit: applied (with the asset as that
//               block left it) or refused (code, detail); answers repeated submissions
//   node_sequences  node id -> PoTime sequence of its last committed four-proof validation
import type Database from 'better-sqlite3';
import type { AppState, AssetRecord, OperationResult } from '../app/apply';
import type { AssetKind } from '../operations';

type Db = Database.Database;

interface AssetRow {
  asset_id: string;
  kind: string;
  owner: string;
  attributes: string;
  created_height: number;
  updated_height: number;
}

export interface AssetQuery {
  kind?: AssetKind;
  owner?: string;
  /** Asset ids strictly after this one (paging). */
  after?: string;
  limit: number;
}

function canonicalJson(a: Readonly<Record<string, string>>): string {
  const out: Record<string, string> = {};
  for (const k of Object.keys(a).sort()) out[k] = a[k]!;
  return JSON.stringify(out);
}

function fromRow(r: AssetRow): AssetRecord {
  return { assetId: r.asset_id, kind: r.kind as AssetKind, owner: r.owner, attributes: JSON.parse(r.attributes) as Record<string, string>, createdHeight: r.created_height, updatedHeight: r.updated_height };
}

export class AppTables implements AppState {
  /** Creates the tables if this store predates them (its blocks then carry only opaque payloads). */
  static ensure(db: Db): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS assets (asset_id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, attributes TEXT NOT NULL, created_height INTEGER NOT NULL, updated_height INTEGER NOT NULL) STRICT;
      CREATE INDEX IF NOT EXISTS assets_by_owner ON assets (owner, asset_id);
      CREATE INDEX IF NOT EXISTS assets_by_kind ON assets (kind, asset_id);
      CREATE TABLE IF NOT EXISTS op_results (operation_id TEXT PRIMARY KEY, result TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS node_sequences (node_id BLOB PRIMARY KEY, sequence TEXT NOT NULL) STRICT;
    `);
  }

  private readonly get: Database.Statement<[string], AssetRow>;
  private readonly put: Database.Statement<[string, string, string, string, number, number]>;
  private readonly putResult: Database.Statement<[string, string]>;
  private readonly getResult: Database.Statement<[string], { result: string }>;
  private readonly getSequence: Database.Statement<[Buffer], { sequence: string }>;
  private readonly setSequence: Database.Statement<[Buffer, string]>;

  constructor(private readonly db: Db) {
    this.get = db.prepare('SELECT * FROM assets WHERE asset_id = ?');
    this.put = db.prepare('INSERT INTO assets (asset_id, kind, owner, attributes, created_height, updated_height) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(asset_id) DO UPDATE SET owner = excluded.owner, attributes = excluded.attributes, updated_height = excluded.updated_height');
    this.putResult = db.prepare('INSERT INTO op_results (operation_id, result) VALUES (?, ?)');
    this.getResult = db.prepare('SELECT result FROM op_results WHERE operation_id = ?');
    this.getSequence = db.prepare('SELECT sequence FROM node_sequences WHERE node_id = ?');
    this.setSequence = db.prepare('INSERT INTO node_sequences (node_id, sequence) VALUES (?, ?) ON CONFLICT(node_id) DO UPDATE SET sequence = excluded.sequence');
  }

  getAsset(assetId: string): AssetRecord | undefined {
    const r = this.get.get(assetId);
    return r ? fromRow(r) : undefined;
  }

  putAsset(a: AssetRecord): void {
    this.put.run(a.assetId, a.kind, a.owner, canonicalJson(a.attributes), a.createdHeight, a.updatedHeight);
  }

  lastSequence(nodeId: Uint8Array): bigint | undefined {
    const r = this.getSequence.get(Buffer.from(nodeId));
    return r ? BigInt(r.sequence) : undefined;
  }

  putSequence(nodeId: Uint8Array, sequence: bigint): void {
    this.setSequence.run(Buffer.from(nodeId), sequence.toString());
  }

  recordResult(operationId: string, result: OperationResult): void {
    this.putResult.run(operationId, JSON.stringify(result));
  }

  result(operationId: string): OperationResult | null {
    const r = this.getResult.get(operationId);
    return r ? (JSON.parse(r.result) as OperationResult) : null;
  }

  list(q: AssetQuery): AssetRecord[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.kind !== undefined) {
      where.push('kind = ?');
      args.push(q.kind);
    }
    if (q.owner !== undefined) {
      where.push('owner = ?');
      args.push(q.owner);
    }
    if (q.after !== undefined) {
      where.push('asset_id > ?');
      args.push(q.after);
    }
    args.push(q.limit);
    const sql = `SELECT * FROM assets ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY asset_id LIMIT ?`;
    return (this.db.prepare(sql).all(...args) as AssetRow[]).map(fromRow);
  }
}

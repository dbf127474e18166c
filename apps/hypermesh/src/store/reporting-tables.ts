// What the validator reports to Caesar, durable in the validator's SQLite file (each write is its
// own fsync'd transaction, outside the consensus path):
//
//   reward_progress  one row: the reward reporter's cursor (every height at or below it settled)
//   evidence         equivocation evidence this validator detected, keyed by offence
//                    (kind, validator, view), with the state of its report to caesar/slash
import type Database from 'better-sqlite3';
import type { EquivocationEvidence, SignedStatement } from '@stoq/consensus';

type Db = Database.Database;

export interface StoredEvidence {
  offence: string;
  evidence: EquivocationEvidence;
  /** pending: to be reported; done: Caesar answered for good (outcome says how). */
  state: 'pending' | 'done';
  outcome: string | null;
  attempts: number;
}

interface EvidenceRow {
  offence: string;
  record: string;
  state: string;
  outcome: string | null;
  attempts: number;
}

interface StatementJson {
  height: number;
  blockHash: string;
  signature: string;
}

const statementJson = (s: SignedStatement): StatementJson => ({ height: s.height, blockHash: s.blockHash, signature: Buffer.from(s.signature).toString('base64') });
const statement = (j: StatementJson): SignedStatement => ({ height: j.height, blockHash: j.blockHash, signature: new Uint8Array(Buffer.from(j.signature, 'base64')) });

export function offenceKey(e: Pick<EquivocationEvidence, 'kind' | 'validator' | 'view'>): string {
  return `${e.kind}:${e.validator}:${e.view}`;
}

function fromRow(r: EvidenceRow): StoredEvidence {
  const j = JSON.parse(r.record) as { kind: EquivocationEvidence['kind']; validator: number; view: number; first: StatementJson; second: StatementJson };
  return { offence: r.offence, evidence: { kind: j.kind, validator: j.validator, view: j.view, first: statement(j.first), second: statement(j.second) }, state: r.state === 'done' ? 'done' : 'pending', outcome: r.outcome, attempts: r.attempts };
}

export class ReportingTables {
  static ensure(db: Db): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS reward_progress (id INTEGER PRIMARY KEY CHECK (id = 1), cursor INTEGER NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS evidence (offence TEXT PRIMARY KEY, record TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, attempts INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL) STRICT;
      CREATE INDEX IF NOT EXISTS evidence_pending ON evidence (state, seq);
    `);
  }

  private readonly getCursor: Database.Statement<[], { cursor: number }>;
  private readonly putCursor: Database.Statement<[number]>;
  private readonly putEvidence: Database.Statement<[string, string, number]>;
  private readonly pending: Database.Statement<[string, number], EvidenceRow>;
  private readonly finish: Database.Statement<[number, string, string]>;
  private readonly attempt: Database.Statement<[number, string]>;
  private readonly getEvidence: Database.Statement<[string], EvidenceRow>;
  private readonly count: Database.Statement<[], { pending: number; done: number }>;
  private readonly seqOf: Database.Statement<[string], { seq: number }>;
  private nextSeq: number;

  constructor(db: Db) {
    this.getCursor = db.prepare('SELECT cursor FROM reward_progress WHERE id = 1');
    this.putCursor = db.prepare('INSERT INTO reward_progress (id, cursor) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET cursor = excluded.cursor');
    this.putEvidence = db.prepare("INSERT OR IGNORE INTO evidence (offence, record, state, seq) VALUES (?, ?, 'pending', ?)");
    this.pending = db.prepare('SELECT offence, record, state, outcome, attempts FROM evidence WHERE state = ? AND seq > ? ORDER BY seq LIMIT 1');
    this.finish = db.prepare("UPDATE evidence SET state = 'done', attempts = ?, outcome = ? WHERE offence = ?");
    this.attempt = db.prepare('UPDATE evidence SET attempts = ? WHERE offence = ?');
    this.getEvidence = db.prepare('SELECT offence, record, state, outcome, attempts FROM evidence WHERE offence = ?');
    this.count = db.prepare("SELECT COALESCE(SUM(state = 'pending'), 0) AS pending, COALESCE(SUM(state = 'done'), 0) AS done FROM evidence");
    this.nextSeq = ((db.prepare('SELECT MAX(seq) AS m FROM evidence').get() as { m: number | null }).m ?? 0) + 1;
    this.seqOf = db.prepare('SELECT seq FROM evidence WHERE offence = ?');
  }

  /** The reward reporter's cursor (0 before the first report). */
  rewardCursor(): number {
    return this.getCursor.get()?.cursor ?? 0;
  }

  setRewardCursor(height: number): void {
    this.putCursor.run(height);
  }

  /** Stores evidence once per offence; false if this offence was stored before. */
  recordEvidence(e: EquivocationEvidence): boolean {
    const record = JSON.stringify({ kind: e.kind, validator: e.validator, view: e.view, first: statementJson(e.first), second: statementJson(e.second) });
    const added = this.putEvidence.run(offenceKey(e), record, this.nextSeq).changes === 1;
    if (added) this.nextSeq++;
    return added;
  }

  /** The oldest pending evidence stored after `offence` (or the oldest of all), or null. */
  nextPendingEvidence(after: string | null): StoredEvidence | null {
    const seq = after === null ? 0 : (this.seqOf.get(after)?.seq ?? 0);
    const r = this.pending.get('pending', seq);
    return r ? fromRow(r) : null;
  }

  evidence(offence: string): StoredEvidence | null {
    const r = this.getEvidence.get(offence);
    return r ? fromRow(r) : null;
  }

  evidenceCounts(): { pending: number; done: number } {
    return this.count.get() ?? { pending: 0, done: 0 };
  }

  /** Caesar answered for good: `outcome` says how (APPLIED, ALREADY_APPLIED, …, or refused: …). */
  finishEvidence(offence: string, attempts: number, outcome: string): void {
    this.finish.run(attempts, outcome, offence);
  }

  noteAttempt(offence: string, attempts: number): void {
    this.attempt.run(attempts, offence);
  }
}

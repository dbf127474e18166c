// TrustChain's durable state in one SQLite database (better-sqlite3, WAL, synchronous=FULL):
// issued certificates, join tokens (hashed), revocations and discovery leases. Every method that
// changes state returns only after its transaction is committed to disk, so a reply sent after it
// survives kill -9. Several issuances share one transaction (`issueBatch`), which is what makes
// durable issuance fast: one WAL fsync per batch, not per certificate.
//
// Schema version 1. The file is opened by one TrustChain process; `trustchain token create` may
// open it at the same time (WAL allows it; writers wait up to busy_timeout).

import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { TrustChainError } from '../core/errors';
import type { TokenRecord } from '../core/tokens';

export const SCHEMA_VERSION = 2;
/** Version 1 databases are migrated in place on open (ADD COLUMN stake_expires_at). */
const MIGRATABLE_VERSIONS = ['1'];

export type CertificateKind = 'self' | 'enroll' | 'renew' | 'earned';

export interface CertificateRow {
  readonly serial: string;
  readonly fingerprint: string;
  readonly service: string;
  readonly instance: string;
  readonly kind: CertificateKind;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuedAt: number;
  readonly der: Uint8Array;
  /** Index in the CT log, or null until the log made the entry durable. */
  readonly ctIndex: number | null;
  readonly revokedAt: number | null;
  readonly revocationReason: number | null;
  readonly revocationVersion: number | null;
  /**
   * Earned certificates and their renewals: when the stake attestation behind the earned
   * issuance expires (ms); renewal is refused from then on. Null for join-token lineages.
   */
  readonly stakeExpiresAt: number | null;
}

export interface NewCertificate {
  readonly serial: string;
  readonly fingerprint: string;
  readonly service: string;
  readonly instance: string;
  readonly kind: CertificateKind;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuedAt: number;
  readonly der: Uint8Array;
  /** Burn this token (hash) in the same transaction. */
  readonly tokenHash?: string;
  /** See CertificateRow.stakeExpiresAt. */
  readonly stakeExpiresAt?: number | null;
}

export interface RevocationRow {
  readonly serial: string;
  readonly fingerprint: string;
  readonly service: string;
  readonly instance: string;
  readonly reason: number;
  readonly revokedAt: number;
  readonly version: number;
}

export interface LeaseRow {
  readonly service: string;
  readonly instance: string;
  readonly address: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
  readonly txt: readonly string[];
  readonly expiresAt: number;
}

interface DbCertificate {
  serial: string;
  fingerprint: string;
  service: string;
  instance: string;
  kind: CertificateKind;
  not_before: number;
  not_after: number;
  issued_at: number;
  der: Buffer;
  ct_index: number | null;
  revoked_at: number | null;
  revocation_reason: number | null;
  revocation_version: number | null;
  stake_expires_at: number | null;
}

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL UNIQUE,
  service TEXT NOT NULL,
  instance TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('self', 'enroll', 'renew', 'earned')),
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  der BLOB NOT NULL,
  ct_index INTEGER,
  revoked_at INTEGER,
  revocation_reason INTEGER,
  revocation_version INTEGER UNIQUE,
  stake_expires_at INTEGER
) STRICT;
CREATE INDEX certificates_by_name ON certificates (service, instance, issued_at);
CREATE INDEX certificates_pending_ct ON certificates (ct_index) WHERE ct_index IS NULL;
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  service TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by TEXT
) STRICT;
CREATE TABLE leases (
  service TEXT NOT NULL,
  instance TEXT NOT NULL,
  address TEXT NOT NULL,
  port INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  weight INTEGER NOT NULL,
  txt TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (service, instance)
) STRICT;
`;

export interface CaStoreOptions {
  /** Create the database if it does not exist (TrustChain's first start). Default false. */
  create?: boolean;
}

export class CaStore {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<typeof prepare>;

  private constructor(
    readonly path: string,
    db: Database.Database,
  ) {
    this.db = db;
    this.stmts = prepare(db);
  }

  static open(path: string, options: CaStoreOptions = {}): CaStore {
    const exists = existsSync(path);
    if (!exists && !options.create) {
      throw new TrustChainError('STATE_DAMAGED', `the TrustChain database ${path} does not exist; start \`trustchain serve\` once to create it, or pass the right --data-dir`);
    }
    if (!exists) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: exists });
      db.pragma('busy_timeout = 5000');
    } catch (err) {
      throw new TrustChainError('STATE_DAMAGED', `cannot open the TrustChain database ${path}: ${(err as Error).message}; restore it from a backup`, { cause: err });
    }
    try {
      // Read-only checks first: switching journal_mode to WAL rewrites the file header, and a
      // file that is not ours (or is damaged) must be refused without being changed.
      const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
      if (!hasMeta) {
        const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
        if (tables.n > 0) throw new TrustChainError('STATE_DAMAGED', `${path} is an SQLite database but not TrustChain's (no meta table); refusing to use it`);
      } else {
        const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
        if (row?.value !== String(SCHEMA_VERSION) && !MIGRATABLE_VERSIONS.includes(row?.value ?? '')) {
          throw new TrustChainError('STATE_DAMAGED', `${path} has schema version ${row?.value ?? 'none'}; this TrustChain reads version ${SCHEMA_VERSION}`);
        }
        const check = db.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw new TrustChainError('STATE_DAMAGED', `${path} failed SQLite's integrity check (${String(check)}); restore it from a backup`);
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      if (hasMeta && (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value === '1') {
        db.exec('BEGIN');
        db.exec('ALTER TABLE certificates ADD COLUMN stake_expires_at INTEGER');
        db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
        db.exec('COMMIT');
      }
      if (!hasMeta) {
        db.exec('BEGIN');
        db.exec(SCHEMA);
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('revocation_version', '0');
        db.exec('COMMIT');
      }
    } catch (err) {
      db.close();
      if (err instanceof TrustChainError) throw err;
      throw new TrustChainError('STATE_DAMAGED', `the TrustChain database ${path} is damaged: ${(err as Error).message}; restore it from a backup`, { cause: err });
    }
    return new CaStore(path, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A value of the meta table (e.g. the root fingerprint this database belongs to). */
  meta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMetaOnce(key: string, value: string): void {
    const existing = this.meta(key);
    if (existing !== undefined && existing !== value) {
      throw new TrustChainError('STATE_DAMAGED', `${this.path} belongs to ${key} ${existing}, not ${value}; it is another CA's database`);
    }
    if (existing === undefined) this.stmts.setMeta.run(key, value);
  }

  /** Sets a meta value that may change (e.g. the FALCON keys that signed the CT log's tree heads). */
  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  // ------------------------------------------------------------------ tokens

  addToken(hash: string, service: string, createdAt: number, expiresAt: number): void {
    this.stmts.addToken.run(hash, service, createdAt, expiresAt);
  }

  token(hash: string): TokenRecord | undefined {
    const r = this.stmts.getToken.get(hash) as { hash: string; service: string; created_at: number; expires_at: number; used_at: number | null } | undefined;
    return r ? { hash: r.hash, service: r.service, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at } : undefined;
  }

  // ------------------------------------------------------------------ certificates

  /**
   * Records certificates (and burns their tokens) in one transaction. A token already used
   * fails the whole batch with TOKEN_USED: callers check tokens before, so this only happens
   * when two enrollments raced for one token, and then exactly one of them wins.
   */
  issueBatch(certs: readonly NewCertificate[]): void {
    this.stmts.issueTx(certs);
  }

  /**
   * Records where certificates sit in the CT log (one transaction), without an fsync of its own:
   * the index is derived (the certificate and its CT entry are both durable before this), the WAL
   * is synced with the next FULL commit, and a crash that loses it leaves the rows without an
   * index, which `Issuer.reconcileCt()` finds again in the log's tail at the next start. One
   * fsync fewer per issuance batch.
   */
  setCtIndexes(entries: ReadonlyArray<readonly [serial: string, index: number]>): void {
    if (entries.length === 0) return;
    this.db.pragma('synchronous = NORMAL');
    try {
      this.stmts.setCtIndexesTx(entries);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /** Highest CT index recorded, or -1. */
  maxCtIndex(): number {
    return (this.stmts.maxCtIndex.get() as { m: number | null }).m ?? -1;
  }

  /** Certificates recorded but not yet known to be in the CT log (after a crash in between). */
  pendingCt(): CertificateRow[] {
    return (this.stmts.pendingCt.all() as DbCertificate[]).map(toCertificate);
  }

  certificate(serial: string): CertificateRow | undefined {
    const r = this.stmts.bySerial.get(serial) as DbCertificate | undefined;
    return r ? toCertificate(r) : undefined;
  }

  certificateByFingerprint(fingerprint: string): CertificateRow | undefined {
    const r = this.stmts.byFingerprint.get(fingerprint) as DbCertificate | undefined;
    return r ? toCertificate(r) : undefined;
  }

  /** Instances whose newest unrevoked certificate expires in (now, now + withinMs]: they missed renewal. */
  expiringInstances(now: number, withinMs: number): number {
    return (this.stmts.expiringInstances.get(now, now + withinMs) as { n: number }).n;
  }

  listCertificates(service: string | undefined, limit: number): CertificateRow[] {
    const rows = (service ? this.stmts.listByService.all(service, limit) : this.stmts.listAll.all(limit)) as DbCertificate[];
    return rows.map(toCertificate);
  }

  certificateCount(): number {
    return (this.stmts.countCerts.get() as { n: number }).n;
  }

  // ------------------------------------------------------------------ revocations

  /** Revokes `serial`; returns the new list version. Throws CERTIFICATE_UNKNOWN / CERTIFICATE_REVOKED. */
  revoke(serial: string, reason: number, at: number): RevocationRow {
    return this.stmts.revokeTx(serial, reason, at);
  }

  revocationVersion(): number {
    return Number(this.meta('revocation_version') ?? '0');
  }

  /** Every revocation of a certificate that has not expired at `now` (expired ones leave the list). */
  revocations(now: number): RevocationRow[] {
    return (this.stmts.revocations.all(now) as DbCertificate[]).map((r) => ({
      serial: r.serial,
      fingerprint: r.fingerprint,
      service: r.service,
      instance: r.instance,
      reason: r.revocation_reason!,
      revokedAt: r.revoked_at!,
      version: r.revocation_version!,
    }));
  }

  // ------------------------------------------------------------------ discovery leases

  putLease(lease: LeaseRow): void {
    this.stmts.putLease.run(lease.service, lease.instance, lease.address, lease.port, lease.priority, lease.weight, JSON.stringify(lease.txt), lease.expiresAt);
  }

  deleteLease(service: string, instance: string): boolean {
    return this.stmts.deleteLease.run(service, instance).changes > 0;
  }

  /** Removes leases that ended before `now`; returns how many. */
  expireLeases(now: number): number {
    return this.stmts.expireLeases.run(now).changes;
  }

  leases(): LeaseRow[] {
    return (this.stmts.leases.all() as Array<{ service: string; instance: string; address: string; port: number; priority: number; weight: number; txt: string; expires_at: number }>).map((r) => ({
      service: r.service,
      instance: r.instance,
      address: r.address,
      port: r.port,
      priority: r.priority,
      weight: r.weight,
      txt: JSON.parse(r.txt) as string[],
      expiresAt: r.expires_at,
    }));
  }
}

function toCertificate(r: DbCertificate): CertificateRow {
  return {
    serial: r.serial,
    fingerprint: r.fingerprint,
    service: r.service,
    instance: r.instance,
    kind: r.kind,
    notBefore: r.not_before,
    notAfter: r.not_after,
    issuedAt: r.issued_at,
    der: new Uint8Array(r.der),
    ctIndex: r.ct_index,
    revokedAt: r.revoked_at,
    revocationReason: r.revocation_reason,
    revocationVersion: r.revocation_version,
    stakeExpiresAt: r.stake_expires_at,
  };
}

function prepare(db: Database.Database) {
  const insertCert = db.prepare(
    'INSERT INTO certificates (serial, fingerprint, service, instance, kind, not_before, not_after, issued_at, der, stake_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const burnToken = db.prepare('UPDATE tokens SET used_at = ?, used_by = ? WHERE hash = ? AND used_at IS NULL');
  const bySerial = db.prepare('SELECT * FROM certificates WHERE serial = ?');
  const getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
  const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const setCtIndex = db.prepare('UPDATE certificates SET ct_index = ? WHERE serial = ?');
  const markRevoked = db.prepare('UPDATE certificates SET revoked_at = ?, revocation_reason = ?, revocation_version = ? WHERE serial = ?');
  return {
    getMeta,
    setMeta,
    addToken: db.prepare('INSERT INTO tokens (hash, service, created_at, expires_at) VALUES (?, ?, ?, ?)'),
    getToken: db.prepare('SELECT hash, service, created_at, expires_at, used_at FROM tokens WHERE hash = ?'),
    issueTx: db.transaction((certs: readonly NewCertificate[]) => {
      for (const c of certs) {
        if (c.tokenHash !== undefined && burnToken.run(c.issuedAt, c.serial, c.tokenHash).changes !== 1) {
          throw new TrustChainError('TOKEN_USED', 'the join token was used by a concurrent enrollment; tokens are single-use, mint a new one');
        }
        insertCert.run(c.serial, c.fingerprint, c.service, c.instance, c.kind, c.notBefore, c.notAfter, c.issuedAt, Buffer.from(c.der), c.stakeExpiresAt ?? null);
      }
    }),
    setCtIndexesTx: db.transaction((entries: ReadonlyArray<readonly [string, number]>) => {
      for (const [serial, index] of entries) setCtIndex.run(index, serial);
    }),
    maxCtIndex: db.prepare('SELECT max(ct_index) AS m FROM certificates'),
    pendingCt: db.prepare('SELECT * FROM certificates WHERE ct_index IS NULL ORDER BY issued_at'),
    bySerial,
    byFingerprint: db.prepare('SELECT * FROM certificates WHERE fingerprint = ?'),
    listAll: db.prepare('SELECT * FROM certificates ORDER BY issued_at DESC, serial LIMIT ?'),
    listByService: db.prepare('SELECT * FROM certificates WHERE service = ? ORDER BY issued_at DESC, serial LIMIT ?'),
    countCerts: db.prepare('SELECT count(*) AS n FROM certificates'),
    // Instances whose newest unrevoked certificate is still valid but ends before the horizon.
    expiringInstances: db.prepare(
      'SELECT count(*) AS n FROM (SELECT max(not_after) AS m FROM certificates WHERE revoked_at IS NULL GROUP BY service, instance) WHERE m > ? AND m <= ?',
    ),
    revokeTx: db.transaction((serial: string, reason: number, at: number): RevocationRow => {
      const row = bySerial.get(serial) as DbCertificate | undefined;
      if (!row) throw new TrustChainError('CERTIFICATE_UNKNOWN', `no certificate with serial ${serial} was issued by this TrustChain; list them with \`trustchain certs list\``);
      if (row.revoked_at !== null) {
        throw new TrustChainError('CERTIFICATE_REVOKED', `certificate ${serial} was already revoked at ${new Date(row.revoked_at).toISOString()}`);
      }
      const version = Number((getMeta.get('revocation_version') as { value: string }).value) + 1;
      setMeta.run('revocation_version', String(version));
      markRevoked.run(at, reason, version, serial);
      return { serial, fingerprint: row.fingerprint, service: row.service, instance: row.instance, reason, revokedAt: at, version };
    }),
    revocations: db.prepare('SELECT * FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ? ORDER BY revocation_version'),
    putLease: db.prepare(
      'INSERT INTO leases (service, instance, address, port, priority, weight, txt, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (service, instance) DO UPDATE SET address = excluded.address, port = excluded.port, priority = excluded.priority, weight = excluded.weight, txt = excluded.txt, expires_at = excluded.expires_at',
    ),
    deleteLease: db.prepare('DELETE FROM leases WHERE service = ? AND instance = ?'),
    expireLeases: db.prepare('DELETE FROM leases WHERE expires_at <= ?'),
    leases: db.prepare('SELECT * FROM leases ORDER BY service, instance'),
  };
}

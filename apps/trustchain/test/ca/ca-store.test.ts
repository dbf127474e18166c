// The CA's SQLite store, on disk in a temp dir: issuance burns tokens atomically, state survives
// reopening, foreign or damaged files are refused untouched, revocations are versioned, leases.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CaStore, SCHEMA_VERSION, type NewCertificate } from '../../src/store/ca-store';
import { hashToken } from '../../src/core/tokens';
import { START_MS, mintToken, tcError, tempDir } from './support';

const DAY = 24 * 3600_000;

function cert(serial: string, o: Partial<NewCertificate> = {}): NewCertificate {
  return {
    serial,
    fingerprint: createHash('sha256').update(serial).digest('hex'),
    service: 'caesar',
    instance: 'caesar-1',
    kind: 'enroll',
    notBefore: START_MS - 60_000,
    notAfter: START_MS + DAY,
    issuedAt: START_MS,
    der: randomBytes(64),
    ...o,
  };
}

const dbPath = (): string => join(tempDir(), 'trustchain.db');
const fileHash = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('CaStore: opening', () => {
  it('refuses a missing database unless asked to create it, saying what to do', async () => {
    const p = dbPath();
    const e = await tcError(() => CaStore.open(p));
    expect(e.code).toBe('STATE_DAMAGED');
    expect(e.message).toMatch(/does not exist; start `trustchain serve` once/);
    expect(existsSync(p)).toBe(false);
  });

  it('creates a database of the current schema in WAL mode', () => {
    const p = dbPath();
    CaStore.open(p, { create: true }).close();
    const raw = new Database(p, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(SCHEMA_VERSION) });
    } finally {
      raw.close();
    }
  });

  it('refuses an SQLite database that is not TrustChain’s and leaves the file unchanged', async () => {
    const p = dbPath();
    const other = new Database(p);
    other.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO accounts (name) VALUES ('alice')");
    other.close();
    const before = fileHash(p);
    const e = await tcError(() => CaStore.open(p, { create: true }));
    expect(e.code).toBe('STATE_DAMAGED');
    expect(e.message).toMatch(/not TrustChain's \(no meta table\); refusing to use it/);
    expect(fileHash(p)).toBe(before);
    expect(existsSync(`${p}-wal`)).toBe(false);
  });

  it('refuses a file that is not a database at all, unchanged', async () => {
    const p = dbPath();
    writeFileSync(p, randomBytes(8192));
    const before = fileHash(p);
    expect((await tcError(() => CaStore.open(p))).code).toBe('STATE_DAMAGED');
    expect(fileHash(p)).toBe(before);
  });

  it('refuses a damaged TrustChain database, unchanged', async () => {
    const p = dbPath();
    const s = CaStore.open(p, { create: true });
    s.issueBatch(Array.from({ length: 200 }, (_, i) => cert(i.toString(16).padStart(4, '0'))));
    s.close();
    const bytes = readFileSync(p);
    expect(bytes.length).toBeGreaterThan(3 * 4096);
    bytes.fill(0x5a, 4096 + 8, 4096 + 600); // inside page 2: a b-tree page of the schema's tables
    writeFileSync(p, bytes);
    const before = fileHash(p);
    const e = await tcError(() => CaStore.open(p));
    expect(e.code).toBe('STATE_DAMAGED');
    expect(e.message).toMatch(/restore it from a backup/);
    expect(fileHash(p)).toBe(before);
  });

  it('refuses a TrustChain database of another schema version', async () => {
    const p = dbPath();
    CaStore.open(p, { create: true }).close();
    const raw = new Database(p);
    raw.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    raw.close();
    const e = await tcError(() => CaStore.open(p));
    expect(e).toEqual({ code: 'STATE_DAMAGED', message: expect.stringContaining(`has schema version 99; this TrustChain reads version ${SCHEMA_VERSION}`) });
  });

  it('migrates a version-1 database in place: rows kept, stake_expires_at added (null)', () => {
    const p = dbPath();
    const s = CaStore.open(p, { create: true });
    s.issueBatch([{ serial: '01', fingerprint: 'ab', service: 'caesar', instance: 'caesar-1', kind: 'enroll', notBefore: 1, notAfter: 2, issuedAt: 1, der: new Uint8Array([1]) }]);
    s.close();
    // Make it what version 1 wrote: no stake_expires_at column, version 1.
    const raw = new Database(p);
    raw.exec('ALTER TABLE certificates DROP COLUMN stake_expires_at');
    raw.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    raw.close();
    const migrated = CaStore.open(p);
    try {
      expect(migrated.certificate('01')).toMatchObject({ service: 'caesar', kind: 'enroll', stakeExpiresAt: null });
      expect(migrated.meta('schema_version')).toBe(String(SCHEMA_VERSION));
      migrated.issueBatch([{ serial: '02', fingerprint: 'cd', service: 'storage', instance: 'storage-1', kind: 'earned', notBefore: 1, notAfter: 2, issuedAt: 1, der: new Uint8Array([2]), stakeExpiresAt: 99 }]);
      expect(migrated.certificate('02')?.stakeExpiresAt).toBe(99);
    } finally {
      migrated.close();
    }
  });

  it('binds meta keys once: the same value again is fine, another is refused', async () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      s.setMetaOnce('root_fingerprint', 'aa');
      s.setMetaOnce('root_fingerprint', 'aa');
      const e = await tcError(() => s.setMetaOnce('root_fingerprint', 'bb'));
      expect(e.code).toBe('STATE_DAMAGED');
      expect(s.meta('root_fingerprint')).toBe('aa');
    } finally {
      s.close();
    }
  });
});

describe('CaStore: issuance and tokens', () => {
  it('records a batch of certificates and burns their tokens in it', () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      const t1 = mintToken(s, 'caesar', START_MS);
      const t2 = mintToken(s, 'catalog', START_MS);
      const a = cert('01', { tokenHash: hashToken(t1) });
      const b = cert('02', { service: 'catalog', instance: 'catalog-1', tokenHash: hashToken(t2), issuedAt: START_MS + 5 });
      s.issueBatch([a, b]);
      expect(s.token(hashToken(t1))).toMatchObject({ service: 'caesar', usedAt: START_MS });
      expect(s.token(hashToken(t2))).toMatchObject({ service: 'catalog', usedAt: START_MS + 5 });
      const row = s.certificate('01')!;
      expect(row).toMatchObject({ serial: '01', fingerprint: a.fingerprint, service: 'caesar', instance: 'caesar-1', kind: 'enroll', ctIndex: null, revokedAt: null });
      expect(Buffer.from(row.der).equals(Buffer.from(a.der))).toBe(true);
      expect(s.certificateByFingerprint(b.fingerprint)?.serial).toBe('02');
      expect(s.certificateCount()).toBe(2);
      expect(s.listCertificates('catalog', 10).map((r) => r.serial)).toEqual(['02']);
      expect(s.listCertificates(undefined, 10).map((r) => r.serial)).toEqual(['02', '01']);
    } finally {
      s.close();
    }
  });

  it('a failed batch records nothing and burns no token', () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      s.issueBatch([cert('01')]);
      const t = mintToken(s, 'caesar', START_MS);
      // second item collides with the recorded serial 01: the whole transaction rolls back
      expect(() => s.issueBatch([cert('02', { tokenHash: hashToken(t) }), cert('01', { fingerprint: 'ff' })])).toThrow();
      expect(s.token(hashToken(t))?.usedAt).toBeNull();
      expect(s.certificate('02')).toBeUndefined();
      expect(s.certificateCount()).toBe(1);
    } finally {
      s.close();
    }
  });

  it('refuses to burn a used token (a raced enrollment) with TOKEN_USED, recording nothing of the batch', async () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      const t = mintToken(s, 'caesar', START_MS);
      s.issueBatch([cert('01', { tokenHash: hashToken(t) })]);
      const e = await tcError(() => s.issueBatch([cert('03'), cert('02', { tokenHash: hashToken(t) })]));
      expect(e.code).toBe('TOKEN_USED');
      expect(s.certificate('02')).toBeUndefined();
      expect(s.certificate('03')).toBeUndefined();
      expect(s.token(hashToken(t))?.usedAt).toBe(START_MS);
    } finally {
      s.close();
    }
  });

  it('keeps only the hash of a token: the database file does not contain the token', () => {
    const p = dbPath();
    const s = CaStore.open(p, { create: true });
    const t = mintToken(s, 'caesar', START_MS);
    s.close();
    const file = readFileSync(p);
    expect(file.includes(Buffer.from(t))).toBe(false);
    expect(file.includes(Buffer.from(t.slice(7)))).toBe(false);
    expect(file.includes(Buffer.from(hashToken(t)))).toBe(true);
  });

  it('tracks CT indexes: pending until set, highest index', () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      expect(s.maxCtIndex()).toBe(-1);
      s.issueBatch([cert('01'), cert('02', { issuedAt: START_MS + 1 }), cert('03', { issuedAt: START_MS + 2 })]);
      expect(s.pendingCt().map((r) => r.serial)).toEqual(['01', '02', '03']);
      s.setCtIndexes([
        ['01', 0],
        ['03', 1],
      ]);
      expect(s.pendingCt().map((r) => r.serial)).toEqual(['02']);
      expect(s.maxCtIndex()).toBe(1);
      expect(s.certificate('03')?.ctIndex).toBe(1);
    } finally {
      s.close();
    }
  });
});

describe('CaStore: revocations', () => {
  it('revoking bumps the list version once per revocation', async () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      s.issueBatch([cert('01'), cert('02')]);
      expect(s.revocationVersion()).toBe(0);
      expect(s.revoke('01', 1, START_MS + 10)).toMatchObject({ serial: '01', reason: 1, revokedAt: START_MS + 10, version: 1, service: 'caesar' });
      expect(s.revoke('02', 4, START_MS + 20).version).toBe(2);
      expect(s.revocationVersion()).toBe(2);
      expect(s.certificate('01')).toMatchObject({ revokedAt: START_MS + 10, revocationReason: 1, revocationVersion: 1 });
      const again = await tcError(() => s.revoke('01', 1, START_MS + 30));
      expect(again.code).toBe('CERTIFICATE_REVOKED');
      const unknown = await tcError(() => s.revoke('ee', 1, START_MS));
      expect(unknown.code).toBe('CERTIFICATE_UNKNOWN');
      expect(unknown.message).toContain('trustchain certs list');
      expect(s.revocationVersion()).toBe(2);
    } finally {
      s.close();
    }
  });

  it('lists revocations of unexpired certificates only, in version order', () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      s.issueBatch([cert('01', { notAfter: START_MS + 1000 }), cert('02', { notAfter: START_MS + DAY }), cert('03')]);
      s.revoke('02', 1, START_MS);
      s.revoke('01', 0, START_MS);
      expect(s.revocations(START_MS).map((r) => [r.serial, r.version])).toEqual([
        ['02', 1],
        ['01', 2],
      ]);
      expect(s.revocations(START_MS + 1000).map((r) => r.serial)).toEqual(['02']);
      expect(s.revocations(START_MS + DAY)).toEqual([]);
    } finally {
      s.close();
    }
  });
});

describe('CaStore: leases', () => {
  const lease = { service: 'caesar', instance: 'caesar-1', address: '2001:db8::1', port: 443, priority: 10, weight: 5, txt: ['v=1'], expiresAt: START_MS + 30_000 };

  it('puts, replaces, deletes and expires discovery leases', () => {
    const s = CaStore.open(dbPath(), { create: true });
    try {
      s.putLease(lease);
      s.putLease({ ...lease, instance: 'caesar-2', expiresAt: START_MS + 10_000 });
      s.putLease({ ...lease, port: 8443, txt: ['v=2', 'x'] });
      expect(s.leases()).toEqual([
        { ...lease, port: 8443, txt: ['v=2', 'x'] },
        { ...lease, instance: 'caesar-2', expiresAt: START_MS + 10_000 },
      ]);
      expect(s.expireLeases(START_MS + 9_999)).toBe(0);
      expect(s.expireLeases(START_MS + 10_000)).toBe(1);
      expect(s.leases().map((l) => l.instance)).toEqual(['caesar-1']);
      expect(s.deleteLease('caesar', 'caesar-1')).toBe(true);
      expect(s.deleteLease('caesar', 'caesar-1')).toBe(false);
      expect(s.leases()).toEqual([]);
    } finally {
      s.close();
    }
  });
});

describe('CaStore: durability', () => {
  it('keeps certificates, tokens, revocations, meta and leases across close and reopen', () => {
    const p = dbPath();
    const s = CaStore.open(p, { create: true });
    const t = mintToken(s, 'caesar', START_MS);
    const unused = mintToken(s, 'catalog', START_MS);
    s.issueBatch([cert('01', { tokenHash: hashToken(t) }), cert('02')]);
    s.setCtIndexes([['01', 0]]);
    s.revoke('02', 1, START_MS);
    s.setMetaOnce('root_fingerprint', 'abc');
    s.putLease({ service: 'caesar', instance: 'caesar-1', address: '::1', port: 1, priority: 0, weight: 0, txt: [], expiresAt: START_MS });
    s.close();
    s.close(); // idempotent

    const r = CaStore.open(p);
    try {
      expect(r.certificateCount()).toBe(2);
      expect(r.certificate('01')?.ctIndex).toBe(0);
      expect(r.token(hashToken(t))?.usedAt).toBe(START_MS);
      expect(r.token(hashToken(unused))).toEqual({ hash: hashToken(unused), service: 'catalog', createdAt: START_MS, expiresAt: START_MS + 3600_000, usedAt: null });
      expect(r.revocationVersion()).toBe(1);
      expect(r.revocations(START_MS).map((x) => x.serial)).toEqual(['02']);
      expect(r.meta('root_fingerprint')).toBe('abc');
      expect(r.leases()).toHaveLength(1);
    } finally {
      r.close();
    }
  });
});

// The root and the CT log key in the data dir: created once (logged with the fingerprint), kept
// on reopen, and never replaced when the database names the old ones.
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevCa, generateClassicalKey, isIdentityError, nativeFalcon } from '@stoq/core';
import { Authority, DATA_DIR_LAYOUT } from '../../src/ca/authority';
import { TrustChainError } from '../../src/core/errors';
import { CaStore } from '../../src/store/ca-store';
import { START_MS, captureLogger, openssl, tempDir } from './support';

const now = (): number => START_MS;

async function open(dir: string): Promise<{ authority: Authority; store: CaStore; lines: ReturnType<typeof captureLogger>['lines'] }> {
  const { logger, lines } = captureLogger();
  const store = CaStore.open(join(dir, DATA_DIR_LAYOUT.db), { create: true });
  try {
    return { authority: await Authority.open(dir, store, logger, nativeFalcon, now), store, lines };
  } catch (err) {
    store.close();
    throw err;
  }
}

/** Opening must fail; the store is closed and the error returned. */
async function openFails(dir: string): Promise<unknown> {
  const { logger } = captureLogger();
  const store = CaStore.open(join(dir, DATA_DIR_LAYOUT.db));
  try {
    await Authority.open(dir, store, logger, nativeFalcon, now);
  } catch (err) {
    return err;
  } finally {
    store.close();
  }
  throw new Error('Authority.open succeeded but should have refused');
}

describe('Authority', () => {
  let dir: string;
  let fingerprint: string;
  let logId: string;

  beforeAll(async () => {
    dir = tempDir();
    const { authority, store, lines } = await open(dir);
    fingerprint = authority.fingerprint;
    logId = authority.logKey.logId.toString('hex');
    // first start: one line saying the root was created, with its fingerprint
    const created = lines.filter((l) => l.msg.startsWith('TrustChain root created'));
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ fingerprint, level: 30 });
    expect(lines.some((l) => l.msg === 'CT log key created')).toBe(true);
    expect(store.meta('root_fingerprint')).toBe(fingerprint);
    expect(store.meta('ct_log_id')).toBe(logId);
    store.close();
  });

  it('creates an ECDSA P-384 + FALCON-1024 CA root whose fingerprint is the SHA-256 of its DER', async () => {
    const { authority, store } = await open(dir);
    store.close();
    const x = new X509Certificate(Buffer.from(authority.rootDer));
    expect(x.ca).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(fingerprint);
    expect(authority.rootCertificate.falconPublicKey).toHaveLength(1793); // FALCON-1024 public key
    // dated by the clock passed to open(), not the wall clock
    expect(authority.rootCertificate.notBefore.getTime()).toBe(START_MS - 60_000);
    expect(authority.rootCertificate.notAfter.getTime()).toBeGreaterThan(START_MS + 9 * 365 * 24 * 3600_000);
    // the root's FALCON key signs what the CT log hands to its FalconSigner
    const msg = Buffer.from('tree head');
    expect(authority.logFalcon.verify(msg, authority.logFalcon.sign(msg))).toBe(true);
  });

  it('writes a root certificate openssl parses as a P-384 CA carrying the FALCON alt key', async () => {
    const text = await openssl(['x509', '-in', join(dir, DATA_DIR_LAYOUT.ca, 'root.pem'), '-noout', '-text']);
    expect(text).toMatch(/Subject: .*CN\s*=\s*TrustChain Root CA/);
    expect(text).toContain('Public-Key: (384 bit)');
    expect(text).toContain('NIST CURVE: P-384');
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toContain('2.5.29.72'); // subjectAltPublicKeyInfo (FALCON-1024)
    expect(text).toContain('2.5.29.74'); // altSignatureValue
  });

  it('keeps the same root and log key when reopened, logging that it loaded them', async () => {
    const { authority, store, lines } = await open(dir);
    store.close();
    expect(authority.fingerprint).toBe(fingerprint);
    expect(authority.logKey.logId.toString('hex')).toBe(logId);
    expect(lines.find((l) => l.msg === 'TrustChain root loaded')).toMatchObject({ fingerprint });
    expect(lines.some((l) => l.msg.startsWith('TrustChain root created'))).toBe(false);
  });

  it('refuses to start when the root files are gone, and creates no new root', async () => {
    const d = tempDir();
    (await open(d)).store.close();
    const caDir = join(d, DATA_DIR_LAYOUT.ca);
    rmSync(caDir, { recursive: true });
    const err = await openFails(d);
    expect(err).toBeInstanceOf(TrustChainError);
    expect(err).toMatchObject({ code: 'STATE_DAMAGED' });
    expect((err as Error).message).toMatch(/belongs to root [0-9a-f]{64}, but .* holds no root; restore/);
    expect(existsSync(caDir)).toBe(false);
  });

  it('refuses a root replaced by another CA’s, naming both fingerprints and replacing nothing', async () => {
    const d = tempDir();
    const first = await open(d);
    first.store.close();
    const caDir = join(d, DATA_DIR_LAYOUT.ca);
    renameSync(caDir, join(d, 'old-ca'));
    const other = await DevCa.openOrCreate(caDir, { now: new Date(START_MS) });
    const err = await openFails(d);
    expect(err).toBeInstanceOf(TrustChainError);
    expect(err).toMatchObject({ code: 'STATE_DAMAGED' });
    expect((err as Error).message).toContain(first.authority.fingerprint);
    expect((err as Error).message).toContain(other.fingerprint);
    const store = CaStore.open(join(d, DATA_DIR_LAYOUT.db));
    expect(store.meta('root_fingerprint')).toBe(first.authority.fingerprint);
    store.close();
    expect((await DevCa.openOrCreate(caDir)).fingerprint).toBe(other.fingerprint);
  });

  it('refuses a root set missing one file (IdentityError from the key set), creating nothing', async () => {
    const d = tempDir();
    (await open(d)).store.close();
    const caDir = join(d, DATA_DIR_LAYOUT.ca);
    unlinkSync(join(caDir, 'root.key'));
    const err = await openFails(d);
    expect(isIdentityError(err, 'IDENTITY_INCOMPLETE')).toBe(true);
    expect(readdirSync(caDir).sort()).toEqual(['root-falcon.key', 'root-falcon.pub', 'root.pem']);
  });

  it('refuses to start when the CT log key is gone, and creates no new one', async () => {
    const d = tempDir();
    (await open(d)).store.close();
    const keyFile = join(d, DATA_DIR_LAYOUT.ctKey, DATA_DIR_LAYOUT.ctKeyFile);
    unlinkSync(keyFile);
    const err = await openFails(d);
    expect(err).toBeInstanceOf(TrustChainError);
    expect(err).toMatchObject({ code: 'STATE_DAMAGED' });
    expect((err as Error).message).toMatch(/belongs to CT log [0-9a-f]{64}, but .*log\.key is missing; restore it from a backup/);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('refuses a CT log key replaced by another key', async () => {
    const d = tempDir();
    const first = await open(d);
    first.store.close();
    const keyFile = join(d, DATA_DIR_LAYOUT.ctKey, DATA_DIR_LAYOUT.ctKeyFile);
    unlinkSync(keyFile);
    writeFileSync(keyFile, generateClassicalKey('P-256').pem, { mode: 0o600 });
    const err = await openFails(d);
    expect(err).toBeInstanceOf(TrustChainError);
    expect(err).toMatchObject({ code: 'STATE_DAMAGED' });
    expect((err as Error).message).toContain(`is not the key of CT log ${first.authority.logKey.logId.toString('hex')}`);
  });

  it('binds a fresh database to an existing root instead of making a new one', async () => {
    const d = tempDir();
    const first = await open(d);
    first.store.close();
    unlinkSync(join(d, DATA_DIR_LAYOUT.db));
    for (const ext of ['-wal', '-shm']) if (existsSync(join(d, DATA_DIR_LAYOUT.db + ext))) unlinkSync(join(d, DATA_DIR_LAYOUT.db + ext));
    const again = await open(d);
    again.store.close();
    expect(again.authority.fingerprint).toBe(first.authority.fingerprint);
  });
});

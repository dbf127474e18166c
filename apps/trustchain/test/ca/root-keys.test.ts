// A password-encrypted offline root (src/ca/root-keys.ts through ca init / sign-intermediate):
// what is written, the password asked only when needed, wrong / missing passwords and altered
// or mixed sets refused with nothing written, plain sets unchanged, and encrypt-root.
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCa, signIntermediate } from '../../src/ca/ca-setup';
import { ENCRYPTED_FALCON_KEY_LABEL, encryptRootSet, openRootSet, type RootKeyCost } from '../../src/ca/root-keys';
import { DEV_CA_FILES, nativeFalcon } from '@stoq/core';
import { START_MS, goX509, openssl, tcError, tempDir } from './support';

const now = new Date(START_MS);
/** The lowest costs the readers accept: the format is the same, the tests stay fast. */
const COST: RootKeyCost = { scrypt: { log2N: 10, r: 8, p: 1 }, pbkdf2Iterations: 1000 };
const password = Buffer.from('correct horse battery staple');
const given = (p: Uint8Array) => () => Promise.resolve(p);
const label = 'TrustChain root CA';

async function encryptedInit(): Promise<{ dataDir: string; rootDir: string; fingerprint: string }> {
  const dataDir = join(tempDir(), 'tc');
  const r = await initCa({ dataDir, rootOffline: true, rootKeys: { password, cost: COST }, now });
  expect(r.rootEncrypted).toBe(true);
  return { dataDir, rootDir: r.rootDir, fingerprint: r.rootFingerprint };
}

describe('ca init --root-offline with a password', () => {
  it('writes root.key as encrypted PKCS#8 openssl opens and root-falcon.key as an envelope, 0600, nothing plain', async () => {
    const { rootDir } = await encryptedInit();
    expect(readdirSync(rootDir).sort()).toEqual(['root-falcon.key', 'root-falcon.pub', 'root.key', 'root.pem']);
    for (const f of [DEV_CA_FILES.key, DEV_CA_FILES.falconKey]) expect(statSync(join(rootDir, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(rootDir, DEV_CA_FILES.key), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n[^]*-----END ENCRYPTED PRIVATE KEY-----\n$/);
    expect(readFileSync(join(rootDir, DEV_CA_FILES.falconKey), 'utf8')).toMatch(new RegExp(`^-----BEGIN ${ENCRYPTED_FALCON_KEY_LABEL}-----\\nU1FLRQE`)); // "SQKE" v1
    const pw = join(tempDir(), 'pw');
    writeFileSync(pw, `${password.toString()}\n`);
    // The key openssl opens is the root certificate's key.
    const fromKey = await openssl(['pkey', '-in', join(rootDir, DEV_CA_FILES.key), '-passin', `file:${pw}`, '-pubout']);
    const fromCert = await openssl(['x509', '-in', join(rootDir, DEV_CA_FILES.cert), '-noout', '-pubkey']);
    expect(fromKey).toBe(fromCert);
  });

  it('is required with --root-offline and refused without it; nothing is written either way', async () => {
    const base = tempDir();
    const none = await tcError(() => initCa({ dataDir: join(base, 'a'), rootOffline: true, now }));
    expect(none.code).toBe('INVALID_ARGUMENT');
    expect(none.message).toMatch(/--password-file FILE \(or \$STOQ_ROOT_PASSWORD_FILE\), or pass --insecure-no-password/);
    const online = await tcError(() => initCa({ dataDir: join(base, 'b'), rootOffline: false, rootKeys: { password }, now }));
    expect(online.code).toBe('INVALID_ARGUMENT');
    expect(readdirSync(base)).toEqual([]);
  });
});

describe('sign-intermediate with an encrypted root', () => {
  it('asks for the password only then; missing is ROOT_KEY_LOCKED, wrong is WRONG_PASSWORD, and neither writes anything', async () => {
    const { dataDir, rootDir, fingerprint } = await encryptedInit();
    let asked = 0;
    const counted = (): Promise<Uint8Array> => (asked++, Promise.resolve(password));
    // An intermediate in place is refused before anyone is asked for the password.
    expect((await tcError(() => signIntermediate({ dataDir, rootDir, now, password: counted }))).code).toBe('STATE_EXISTS');
    expect(asked).toBe(0);
    rmSync(join(dataDir, 'intermediate'), { recursive: true });
    const locked = await tcError(() => signIntermediate({ dataDir, rootDir, now }));
    expect(locked.code).toBe('ROOT_KEY_LOCKED');
    expect(locked.message).toMatch(/password-encrypted; give the password with --password-file FILE/);
    const wrong = await tcError(() => signIntermediate({ dataDir, rootDir, now, password: given(Buffer.from('correct horse battery stapler')) }));
    expect(wrong.code).toBe('WRONG_PASSWORD');
    expect(wrong.message).toContain(join(rootDir, DEV_CA_FILES.falconKey));
    expect(existsSync(join(dataDir, 'intermediate'))).toBe(false);
    const signed = await signIntermediate({ dataDir, rootDir, now, password: counted });
    expect([asked, signed.rootFingerprint, signed.rootEncrypted]).toEqual([1, fingerprint, true]);
    const inter = join(dataDir, 'intermediate');
    expect(await openssl(['verify', '-attime', String(START_MS / 1000 + 60), '-CAfile', join(inter, 'root.pem'), join(inter, 'intermediate.pem')])).toContain(': OK');
    // Go's crypto/x509 parses the root this path makes (not DevCa's) and verifies the intermediate under it.
    const out = await goX509(
      `func main() {
	root, inter := load(os.Args[1]), load(os.Args[2])
	at, _ := time.Parse(time.RFC3339, os.Args[3])
	if !root.IsCA || root.MaxPathLen != 1 { fmt.Println("FAIL: root is not a CA with pathLen 1"); os.Exit(1) }
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := inter.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil { fmt.Println("FAIL:", err); os.Exit(1) }
	fmt.Println("ok")
}`,
      [join(rootDir, DEV_CA_FILES.cert), join(inter, 'intermediate.pem'), new Date(START_MS + 3600_000).toISOString()],
      tempDir('trustchain-go-'),
      "Go's crypto/x509 refused the root or the intermediate",
    );
    expect(out.trim()).toBe('ok');
  }, 120_000);

  it('refuses an altered, truncated, mixed or re-keyed set as STATE_DAMAGED or WRONG_PASSWORD, never opening it', async () => {
    const { dataDir, rootDir } = await encryptedInit();
    rmSync(join(dataDir, 'intermediate'), { recursive: true });
    const falconPath = join(rootDir, DEV_CA_FILES.falconKey);
    const keyPath = join(rootDir, DEV_CA_FILES.key);
    const original = readFileSync(falconPath, 'utf8');
    const attempt = () => tcError(() => signIntermediate({ dataDir, rootDir, now, password: given(password) }));
    const b64 = original.split('\n').slice(1, -2).join('');
    const envelope = Buffer.from(b64, 'base64');
    const rewrite = (bytes: Buffer): void => writeFileSync(falconPath, `-----BEGIN ${ENCRYPTED_FALCON_KEY_LABEL}-----\n${bytes.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${ENCRYPTED_FALCON_KEY_LABEL}-----\n`, { mode: 0o600 });

    const flipped = Buffer.from(envelope);
    flipped[100] ^= 0x01;
    rewrite(flipped);
    expect((await attempt()).code).toBe('WRONG_PASSWORD'); // GCM cannot tell an altered byte from a wrong password
    rewrite(envelope.subarray(0, envelope.length - 50));
    const truncated = await attempt();
    expect([truncated.code, truncated.message]).toEqual(['STATE_DAMAGED', expect.stringMatching(/root-falcon\.key cannot be read \(envelope holds 2255 secret bytes/)]);
    const v2 = Buffer.from(envelope);
    v2[4] = 2;
    rewrite(v2);
    expect(await attempt()).toEqual({ code: 'STATE_DAMAGED', message: expect.stringMatching(/envelope version 2; this build reads version 1 only/) });
    writeFileSync(falconPath, original, { mode: 0o600 });

    // root.key from another root, under another password: the FALCON key opens, root.key does not.
    const other = await initCa({ dataDir: join(tempDir(), 'o'), rootOffline: true, rootKeys: { password: Buffer.from('other'), cost: COST }, now });
    const key = readFileSync(keyPath);
    writeFileSync(keyPath, readFileSync(join(other.rootDir, DEV_CA_FILES.key)), { mode: 0o600 });
    expect(await attempt()).toEqual({ code: 'STATE_DAMAGED', message: expect.stringMatching(/root\.key does not open with the password that opens .*root-falcon\.key/) });
    // A plain root.key beside an encrypted FALCON key.
    const plainDir = (await initCa({ dataDir: join(tempDir(), 'p'), rootOffline: true, rootKeys: { insecureNoPassword: true }, now })).rootDir;
    writeFileSync(keyPath, readFileSync(join(plainDir, DEV_CA_FILES.key)), { mode: 0o600 });
    expect(await attempt()).toEqual({ code: 'STATE_DAMAGED', message: expect.stringMatching(/root-falcon\.key is password-encrypted but .*root\.key is not/) });
    writeFileSync(keyPath, key, { mode: 0o600 });
    expect(existsSync(join(dataDir, 'intermediate'))).toBe(false);
    expect((await signIntermediate({ dataDir, rootDir, now, password: given(password) })).rootEncrypted).toBe(true);
  });
});

describe('plain roots', () => {
  it('open as before without a password (and with one: it is not asked); encrypt-root makes a checked encrypted copy and leaves them alone', async () => {
    const dataDir = join(tempDir(), 'tc');
    const r = await initCa({ dataDir, rootOffline: true, rootKeys: { insecureNoPassword: true }, now });
    expect(r.rootEncrypted).toBe(false);
    const plainKey = readFileSync(join(r.rootDir, DEV_CA_FILES.key), 'utf8');
    expect(plainKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    let asked = 0;
    const opened = await openRootSet(r.rootDir, { label, falcon: nativeFalcon, password: () => (asked++, Promise.resolve(password)) });
    expect([opened.encrypted, opened.ca.fingerprint, asked]).toEqual([false, r.rootFingerprint, 0]);

    const to = join(tempDir(), 'encrypted-root');
    expect((await encryptRootSet(r.rootDir, to, password, { label, falcon: nativeFalcon, cost: COST })).fingerprint).toBe(r.rootFingerprint);
    expect(readFileSync(join(r.rootDir, DEV_CA_FILES.key), 'utf8')).toBe(plainKey);
    expect(readFileSync(join(to, DEV_CA_FILES.cert), 'utf8')).toBe(readFileSync(join(r.rootDir, DEV_CA_FILES.cert), 'utf8'));
    expect((await tcError(() => encryptRootSet(r.rootDir, to, password, { label, falcon: nativeFalcon, cost: COST }))).code).toBe('STATE_EXISTS');
    expect(await tcError(() => encryptRootSet(to, join(tempDir(), 'x'), password, { label, falcon: nativeFalcon, cost: COST }))).toEqual({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/already password-encrypted/) });

    renameSync(join(dataDir, 'intermediate'), join(dataDir, '..', 'old-intermediate'));
    const signed = await signIntermediate({ dataDir, rootDir: to, now, password: given(password) });
    expect([signed.rootFingerprint, signed.rootEncrypted]).toEqual([r.rootFingerprint, true]);
  });
});

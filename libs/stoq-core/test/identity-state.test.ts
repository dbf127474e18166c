// A user's keys are data: DevCa.openOrCreate and NodeIdentity.loadOrCreate must never replace
// them silently. For every file of each set: missing, truncated, garbage, empty and exposed
// (permissions) each give a typed IdentityError naming the file, and the refusal writes nothing.
// Directories others can write are refused; a crash during first creation (a real SIGKILL of a
// child process) leaves no set, and its leftover is reported, never adopted. First creation and
// re-issue are logged. Runs with the native FALCON.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DevCa } from '../src/identity/dev-ca';
import { IdentityError, type IdentityErrorCode } from '../src/identity/errors';
import { NodeIdentity } from '../src/identity/node-identity';

let root: string;
let n = 0;
let sharedCa: DevCa;
const fresh = (prefix: string): string => join(root, `${prefix}-${n++}`);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'stoq-identity-state-'));
  sharedCa = await DevCa.openOrCreate(join(root, 'shared-ca'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every entry under `dir` (recursively) with its mode and content hash: "writes nothing" means this is unchanged. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[p] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else {
        out[p] = `${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
      }
    }
  };
  walk(dir);
  return out;
}

async function refusal(p: Promise<unknown>): Promise<IdentityError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IdentityError);
  return err as IdentityError;
}

/** `open` must refuse with `code`, naming `path` in message and `paths`, and leave `area` untouched. */
async function expectRefused(open: () => Promise<unknown>, area: string, code: IdentityErrorCode, path: string, message?: RegExp): Promise<IdentityError> {
  const before = snapshot(area);
  const err = await refusal(open());
  expect(err.code).toBe(code);
  expect(err.paths).toContain(path);
  expect(err.message).toContain(path);
  if (message) expect(err.message).toMatch(message);
  expect(snapshot(area)).toEqual(before);
  return err;
}

function collectingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

type Damage = 'missing' | 'truncated' | 'garbage' | 'empty';
function damage(path: string, how: Damage): void {
  if (how === 'missing') unlinkSync(path);
  else if (how === 'truncated') writeFileSync(path, readFileSync(path).subarray(0, Math.floor(statSync(path).size / 2)));
  else if (how === 'garbage') writeFileSync(path, randomBytes(700));
  else writeFileSync(path, '');
}

const CA_FILES = [
  { name: 'root.key', kind: 'private' },
  { name: 'root-falcon.key', kind: 'private' },
  { name: 'root-falcon.pub', kind: 'public' },
  { name: 'root.pem', kind: 'public' },
] as const;

const ID_KEY_FILES = [
  { name: 'tls.key', kind: 'private' },
  { name: 'falcon.key', kind: 'private' },
  { name: 'falcon.pub', kind: 'public' },
] as const;
const ID_CERT_FILES = [
  { name: 'cert.pem', kind: 'public' },
  { name: 'trust-roots.pem', kind: 'public' },
] as const;

describe('DevCa refuses partial, damaged or exposed state and writes nothing', () => {
  const damages: Damage[] = ['missing', 'truncated', 'garbage', 'empty'];
  for (const file of CA_FILES) {
    for (const how of damages) {
      test(`${file.name} ${how}`, async () => {
        const area = fresh('ca-area');
        const dir = join(area, 'dev-ca');
        await DevCa.openOrCreate(dir);
        const path = join(dir, file.name);
        damage(path, how);
        const err = await expectRefused(() => DevCa.openOrCreate(dir), area, how === 'missing' ? 'IDENTITY_INCOMPLETE' : 'IDENTITY_DAMAGED', path);
        if (how === 'missing') expect(err.message).toMatch(/Restore the missing file\(s\) from a backup, or move .* away to start over/);
      });
    }
    const modes = file.kind === 'private' ? [0o644, 0o640, 0o604] : [0o666, 0o664];
    for (const mode of modes) {
      test(`${file.name} with mode 0${mode.toString(8)}`, async () => {
        const area = fresh('ca-area');
        const dir = join(area, 'dev-ca');
        await DevCa.openOrCreate(dir);
        const path = join(dir, file.name);
        chmodSync(path, mode);
        await expectRefused(() => DevCa.openOrCreate(dir), area, 'IDENTITY_PERMISSIONS', path, new RegExp(`run: chmod ${file.kind === 'private' ? 600 : 644} '${path.replace(/[.]/g, '\\.')}'`));
        chmodSync(path, file.kind === 'private' ? 0o600 : 0o644); // the fix the message names works
        await DevCa.openOrCreate(dir);
      });
    }
  }

  test('keys swapped for another valid key are refused, naming both files', async () => {
    const area = fresh('ca-area');
    const dir = join(area, 'dev-ca');
    await DevCa.openOrCreate(dir);
    writeFileSync(join(dir, 'root.key'), readFileSync(join(root, 'shared-ca', 'root.key')));
    const err = await expectRefused(() => DevCa.openOrCreate(dir), area, 'IDENTITY_DAMAGED', join(dir, 'root.key'), /does not match the key of/);
    expect(err.paths).toContain(join(dir, 'root.pem'));
  });

  test('all files missing from an existing (empty) directory is a first creation', async () => {
    const dir = fresh('ca');
    mkdirSync(dir, { mode: 0o700 });
    const ca = await DevCa.openOrCreate(dir);
    expect((await DevCa.openOrCreate(dir)).fingerprint).toBe(ca.fingerprint);
  });

  test('a CA directory others can write, or a world-writable parent without the sticky bit, is refused', async () => {
    const area = fresh('ca-area');
    const dir = join(area, 'dev-ca');
    await DevCa.openOrCreate(dir);
    for (const mode of [0o777, 0o770, 0o702]) {
      chmodSync(dir, mode);
      await expectRefused(() => DevCa.openOrCreate(dir), area, 'IDENTITY_PERMISSIONS', dir, new RegExp(`run: chmod go-w '${dir.replace(/[.]/g, '\\.')}'`));
    }
    chmodSync(dir, 0o700);
    chmodSync(area, 0o777);
    await expectRefused(() => DevCa.openOrCreate(dir), area, 'IDENTITY_PERMISSIONS', area, /parent directory .* is world-writable/);
    chmodSync(area, 0o1777); // like /tmp: others cannot rename our entries
    await DevCa.openOrCreate(dir);
    chmodSync(area, 0o700);
  });
});

describe('NodeIdentity never replaces its keys', () => {
  const load = (dataDir: string, extra: Partial<Parameters<typeof NodeIdentity.loadOrCreate>[0]> = {}): Promise<NodeIdentity> =>
    NodeIdentity.loadOrCreate({ dataDir, service: 'caesar', instance: 'caesar-1', ca: sharedCa, ...extra });

  for (const file of ID_KEY_FILES) {
    for (const how of ['missing', 'truncated', 'garbage', 'empty'] as const) {
      test(`${file.name} ${how}`, async () => {
        const dataDir = fresh('node');
        await load(dataDir);
        const path = join(dataDir, 'identity', file.name);
        damage(path, how);
        const err = await expectRefused(() => load(dataDir), dataDir, how === 'missing' ? 'IDENTITY_INCOMPLETE' : 'IDENTITY_DAMAGED', path);
        if (how === 'missing') expect(err.message).toMatch(/Refusing to generate new keys.*move .* away to start over/);
      });
    }
  }

  for (const file of ID_CERT_FILES) {
    for (const how of ['truncated', 'garbage', 'empty'] as const) {
      test(`${file.name} ${how}`, async () => {
        const dataDir = fresh('node');
        await load(dataDir);
        const path = join(dataDir, 'identity', file.name);
        damage(path, how);
        await expectRefused(() => load(dataDir), dataDir, 'IDENTITY_DAMAGED', path, /restore it from a backup, or delete it/);
      });
    }
    test(`${file.name} missing: the CA re-issues it for the same keys, and says so`, async () => {
      const dataDir = fresh('node');
      const first = await load(dataDir);
      unlinkSync(join(dataDir, 'identity', file.name));
      const { logger, lines } = collectingLogger();
      const again = await load(dataDir, { logger });
      expect(again.reissued).toBe(true);
      expect(again.keyPem).toBe(first.keyPem);
      expect(Buffer.from(again.falconSecretKey).equals(Buffer.from(first.falconSecretKey))).toBe(true);
      expect(existsSync(join(dataDir, 'identity', file.name))).toBe(true);
      expect(lines).toEqual([expect.objectContaining({ msg: 'issued a new certificate for the node identity', path: join(dataDir, 'identity'), fingerprint: again.fingerprint, reason: `${join(dataDir, 'identity', file.name)} is missing` })]);
    });
  }

  for (const file of [...ID_KEY_FILES, ...ID_CERT_FILES]) {
    const modes = file.kind === 'private' ? [0o644, 0o660] : [0o666, 0o646];
    for (const mode of modes) {
      test(`${file.name} with mode 0${mode.toString(8)}`, async () => {
        const dataDir = fresh('node');
        await load(dataDir);
        const path = join(dataDir, 'identity', file.name);
        chmodSync(path, mode);
        await expectRefused(() => load(dataDir), dataDir, 'IDENTITY_PERMISSIONS', path, new RegExp(`run: chmod ${file.kind === 'private' ? 600 : 644} `));
      });
    }
  }

  test('an identity directory others can write is refused', async () => {
    const dataDir = fresh('node');
    await load(dataDir);
    const dir = join(dataDir, 'identity');
    chmodSync(dir, 0o757);
    await expectRefused(() => load(dataDir), dataDir, 'IDENTITY_PERMISSIONS', dir, /writable by others/);
    chmodSync(dir, 0o700);
    expect((await load(dataDir)).reissued).toBe(false);
  });

  test('first creation writes the whole set at once and logs path and fingerprint; later starts log nothing', async () => {
    const dataDir = fresh('node');
    const { logger, lines } = collectingLogger();
    const id = await load(dataDir, { logger });
    expect(readdirSync(join(dataDir, 'identity')).sort()).toEqual(['cert.pem', 'falcon.key', 'falcon.pub', 'tls.key', 'trust-roots.pem']);
    expect(readdirSync(dataDir)).toEqual(['identity']); // no temp left behind
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'created a new node identity',
        path: join(dataDir, 'identity'),
        fingerprint: id.fingerprint,
        falconKeySha256: createHash('sha256').update(id.falconPublicKey).digest('hex'),
      }),
    ]);
    lines.length = 0;
    await load(dataDir, { logger });
    expect(lines).toEqual([]);

    const caArea = fresh('ca-area');
    const ca = await DevCa.openOrCreate(join(caArea, 'dev-ca'), { logger });
    expect(ca.created).toBe(true);
    expect(lines).toEqual([expect.objectContaining({ msg: 'created a new development CA', path: join(caArea, 'dev-ca'), fingerprint: ca.fingerprint })]);
    lines.length = 0;
    expect((await DevCa.openOrCreate(join(caArea, 'dev-ca'), { logger })).created).toBe(false);
    expect(lines).toEqual([]);
  });

  test('concurrent first starts in one process agree on one CA and one identity', async () => {
    const caDir = join(fresh('ca-area'), 'dev-ca');
    const cas = await Promise.all([DevCa.openOrCreate(caDir), DevCa.openOrCreate(caDir), DevCa.openOrCreate(caDir)]);
    expect(new Set(cas.map((c) => c.fingerprint)).size).toBe(1);
    const dataDir = fresh('node');
    const ids = await Promise.all([load(dataDir, { ca: cas[0]! }), load(dataDir, { ca: cas[1]! })]);
    expect(ids[0]!.keyPem).toBe(ids[1]!.keyPem);
    expect(readdirSync(dirOf(caDir))).toEqual(['dev-ca']);
  });
});

const dirOf = (p: string): string => join(p, '..');

describe('a crash during first creation leaves nothing usable, and its leftover is reported', () => {
  const CHILD = join(__dirname, 'identity-crash-child.js');
  const run = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [CHILD, ...args], { encoding: 'utf8' });

  test.each([
    ['before the commit rename', ['--kill-at-rename', '^\\.dev-ca\\.creating\\.']],
    ['after writing 2 of the 4 files', ['--kill-at-write', '3']],
  ])('CA killed %s', async (_what, killArgs) => {
    const area = fresh('crash');
    const caDir = join(area, 'dev-ca');
    const r = run(['--ca', caDir, ...killArgs]);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(caDir)).toBe(false);
    const leftovers = readdirSync(area).filter((e) => e.startsWith('.dev-ca.creating.'));
    expect(leftovers).toHaveLength(1);
    const leftover = join(area, leftovers[0]!);

    const err = await expectRefused(() => DevCa.openOrCreate(caDir), area, 'IDENTITY_TEMP_LEFTOVER', leftover, /interrupted .* never used\. Remove it \(rm -r /);
    expect(err.paths).toEqual([leftover]);
    rmSync(leftover, { recursive: true });
    const ca = await DevCa.openOrCreate(caDir);
    expect((await DevCa.openOrCreate(caDir)).fingerprint).toBe(ca.fingerprint);
  });

  test('identity killed before its commit rename: no identity, the leftover is reported', async () => {
    const area = fresh('crash');
    const caDir = join(area, 'dev-ca');
    const dataDir = join(area, 'node');
    expect(run(['--ca', caDir]).status).toBe(0);
    const r = run(['--ca', caDir, '--identity', dataDir, '--kill-at-rename', '^\\.identity\\.creating\\.']);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(join(dataDir, 'identity'))).toBe(false);
    const leftover = join(dataDir, readdirSync(dataDir).find((e) => e.startsWith('.identity.creating.'))!);
    expect(readdirSync(leftover).sort()).toEqual(['cert.pem', 'falcon.key', 'falcon.pub', 'tls.key', 'trust-roots.pem']);
    const ca = await DevCa.openOrCreate(caDir);
    await expectRefused(() => NodeIdentity.loadOrCreate({ dataDir, service: 'caesar', instance: 'caesar-1', ca }), area, 'IDENTITY_TEMP_LEFTOVER', leftover);
  });

  test('a renewal killed before its rename leaves the old certificate; the temp file is reported', async () => {
    const area = fresh('crash');
    const caDir = join(area, 'dev-ca');
    const dataDir = join(area, 'node');
    const first = run(['--ca', caDir, '--identity', dataDir]);
    expect(first.status).toBe(0);
    const certPath = join(dataDir, 'identity', 'cert.pem');
    const before = readFileSync(certPath, 'utf8');
    const later = new Date(Date.now() + 23 * 3600_000).toISOString(); // past 2/3 of 24 h
    const r = run(['--ca', caDir, '--identity', dataDir, '--now', later, '--kill-at-rename', '^\\.cert\\.pem\\.']);
    expect(r.signal).toBe('SIGKILL');
    expect(readFileSync(certPath, 'utf8')).toBe(before);
    const temp = join(dataDir, 'identity', readdirSync(join(dataDir, 'identity')).find((e) => e.startsWith('.cert.pem.'))!);
    const ca = await DevCa.openOrCreate(caDir);
    await expectRefused(() => NodeIdentity.loadOrCreate({ dataDir, service: 'caesar', instance: 'caesar-1', ca }), area, 'IDENTITY_TEMP_LEFTOVER', temp, /the files it was to replace are intact/);
  });

  test('a temp file of a writer that is still running (its holder renewing) is not a leftover: a reader loads the set', async () => {
    const area = fresh('live-writer');
    const caDir = join(area, 'dev-ca');
    const dataDir = join(area, 'node');
    expect(run(['--ca', caDir, '--identity', dataDir]).status).toBe(0);
    const ca = await DevCa.openOrCreate(caDir);
    const first = await NodeIdentity.loadOrCreate({ dataDir, service: 'caesar', instance: 'caesar-1', ca });
    // As writeFileAtomic names it: .<file>.<pid>.<12 hex>.tmp, here of this (live) process.
    writeFileSync(join(dataDir, 'identity', `.cert.pem.${process.pid}.0123456789ab.tmp`), 'half');
    const again = await NodeIdentity.loadOrCreate({ dataDir, service: 'caesar', instance: 'caesar-1', ca: null });
    expect(again.fingerprint).toBe(first.fingerprint);
  });

  test('two processes creating the same CA and identity at once end with one of each', () => {
    const area = fresh('race');
    const args = ['--ca', join(area, 'dev-ca'), '--identity', join(area, 'node')];
    // Both children start before either finishes (FALCON key generation alone takes a while).
    const script = `const { spawn } = require('node:child_process');
      const run = () => new Promise((res) => { let out = ''; const c = spawn(process.execPath, ${JSON.stringify([CHILD, ...args])}); c.stdout.on('data', (d) => (out += d)); c.stderr.pipe(process.stderr); c.on('exit', (code) => res({ code, out })); });
      Promise.all([run(), run()]).then((r) => process.stdout.write(JSON.stringify(r)));`;
    const results = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as Array<{ code: number; out: string }>;
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(results[0]!.out).toBe(results[1]!.out);
    expect(readdirSync(area).sort()).toEqual(['dev-ca', 'node']);
  });
});

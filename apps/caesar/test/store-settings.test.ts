// `caesar serve` store flags and the config's [caesar] section: SQLite by default; PostgreSQL with
// a URL that carries no password, the password from a 0600 file (or libpq's PGPASSWORD /
// PGPASSFILE); flags override the file's keys; clear errors otherwise.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStoqError } from '@stoq/core';
import { loadServiceConfig } from '@stoq/service';
import { CAESAR_SECTION, SettingsError, checkServeFlags, settingsFromFlags, storeFromFlags, storeSettings, type CaesarSection } from '../src/settings';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'caesar-settings-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refused = (v: Parameters<typeof storeFromFlags>[0], message: RegExp): void => {
  expect(() => storeFromFlags(v)).toThrow(SettingsError);
  expect(() => storeFromFlags(v)).toThrow(message);
};

test('SQLite by default; PostgreSQL flags need --store postgres', () => {
  expect(settingsFromFlags({}).store).toEqual({ kind: 'sqlite' });
  expect(storeFromFlags({ store: 'sqlite' })).toEqual({ kind: 'sqlite' });
  refused({ 'postgres-url': 'postgresql://caesar@[::1]:5432/caesar' }, /--postgres-url needs --store postgres/);
  refused({ store: 'mysql' }, /--store must be sqlite or postgres/);
});

test('PostgreSQL: a URL without password, a schema name, the password from a private file', () => {
  const url = 'postgresql://caesar@[::1]:5432/caesar';
  expect(storeFromFlags({ store: 'postgres', 'postgres-url': url })).toEqual({ kind: 'postgres', url, schema: 'caesar' });
  expect(storeFromFlags({ store: 'postgres', 'postgres-url': url, 'postgres-schema': 'ledger_2' })).toMatchObject({ schema: 'ledger_2' });
  refused({ store: 'postgres' }, /needs --postgres-url/);
  refused({ store: 'postgres', 'postgres-url': 'not a url' }, /must be a URL/);
  refused({ store: 'postgres', 'postgres-url': 'mysql://x@[::1]/db' }, /must start with postgresql:\/\//);
  refused({ store: 'postgres', 'postgres-url': 'postgresql://caesar:secret@[::1]:5432/caesar' }, /must not carry a password/);
  refused({ store: 'postgres', 'postgres-url': `${url}?password=secret` }, /must not carry a password/);
  refused({ store: 'postgres', 'postgres-url': url, 'postgres-schema': 'Caesar' }, /--postgres-schema must be a lower-case identifier/);
  refused({ store: 'postgres', 'postgres-url': url, 'postgres-schema': 'pg_catalog' }, /--postgres-schema/);

  const file = join(dir, 'pw');
  writeFileSync(file, 's3cret\n', { mode: 0o600 });
  expect(storeFromFlags({ store: 'postgres', 'postgres-url': url, 'postgres-password-file': file })).toEqual({ kind: 'postgres', url, schema: 'caesar', password: 's3cret' });
  chmodSync(file, 0o644);
  refused({ store: 'postgres', 'postgres-url': url, 'postgres-password-file': file }, /readable by others; chmod 600/);
  refused({ store: 'postgres', 'postgres-url': url, 'postgres-password-file': join(dir, 'missing') }, /--postgres-password-file .*missing/);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '', { mode: 0o600 });
  refused({ store: 'postgres', 'postgres-url': url, 'postgres-password-file': empty }, /on one line/);
});

describe('[caesar] section', () => {
  const url = 'postgresql://caesar@[::1]:5432/caesar';
  let n = 0;
  /** Writes a caesar.toml with the given [caesar] body in its own directory and loads it as `caesar serve` does. */
  async function load(body: string): Promise<{ path: string; dir: string; section: CaesarSection }> {
    const home = join(dir, `conf-${n++}`);
    mkdirSync(home);
    const path = join(home, 'caesar.toml');
    writeFileSync(path, `[node]\nname = "caesar-1"\n[service]\ntrustchain = "[::1]:7440"\n${body === '' ? '' : `[caesar]\n${body}`}`);
    return { path, dir: home, section: (await loadServiceConfig(path, CAESAR_SECTION)).own! };
  }
  async function refusal(body: string): Promise<{ path: string; err: Error }> {
    const home = join(dir, `conf-${n++}`);
    mkdirSync(home);
    const path = join(home, 'caesar.toml');
    writeFileSync(path, `[node]\nname = "caesar-1"\n[caesar]\n${body}`);
    try {
      await loadServiceConfig(path, CAESAR_SECTION);
    } catch (err) {
      expect(isStoqError(err, 'CONFIG_INVALID')).toBe(true);
      return { path, err: err as Error };
    }
    throw new Error('expected a refusal');
  }

  test('chooses the store; a relative password file is relative to the config file', async () => {
    const { dir: home, section } = await load(`store = "postgres"\npostgres_url = "${url}"\npostgres_password_file = "pg-password"\npostgres_schema = "ledger_2"\n`);
    expect(section).toEqual({ store: 'postgres', postgresUrl: url, postgresPasswordFile: join(home, 'pg-password'), postgresSchema: 'ledger_2' });
    writeFileSync(join(home, 'pg-password'), 'from-file\n', { mode: 0o600 });
    expect(storeSettings({}, section)).toEqual({ kind: 'postgres', url, schema: 'ledger_2', password: 'from-file' });
    expect(settingsFromFlags({}, section).store).toEqual({ kind: 'postgres', url, schema: 'ledger_2', password: 'from-file' });
    // No section, or an empty one: SQLite.
    expect((await load('')).section).toEqual({});
    expect(storeSettings({}, (await load('')).section)).toEqual({ kind: 'sqlite' });
    expect(storeSettings({}, (await load('store = "sqlite"\n')).section)).toEqual({ kind: 'sqlite' });
  });

  test('flags override the file key by key', async () => {
    const { dir: home, section } = await load(`store = "postgres"\npostgres_url = "${url}"\npostgres_password_file = "pg-password"\n`);
    writeFileSync(join(home, 'pg-password'), 'from-file\n', { mode: 0o600 });
    const flagFile = join(home, 'flag-password');
    writeFileSync(flagFile, 'from-flag\n', { mode: 0o600 });
    const other = 'postgresql://ops@[::1]:6543/ledgers';
    expect(storeSettings({ 'postgres-url': other }, section)).toEqual({ kind: 'postgres', url: other, schema: 'caesar', password: 'from-file' });
    expect(storeSettings({ 'postgres-password-file': flagFile, 'postgres-schema': 'blue' }, section)).toEqual({ kind: 'postgres', url, schema: 'blue', password: 'from-flag' });
    // --store sqlite over the file's PostgreSQL: the file's postgres_* keys are left aside.
    expect(storeSettings({ store: 'sqlite' }, section)).toEqual({ kind: 'sqlite' });
    // --store postgres with the URL from the file.
    expect(storeSettings({ store: 'postgres' }, section)).toMatchObject({ kind: 'postgres', url });
    // A PostgreSQL flag needs PostgreSQL from the flags or the file.
    expect(() => storeSettings({ 'postgres-schema': 'blue' }, {})).toThrow(/--postgres-schema needs --store postgres \(or store = "postgres" in \[caesar\]\)/);
    expect(() => storeSettings({ store: 'sqlite', 'postgres-url': url }, section)).toThrow(/--postgres-url needs --store postgres$/);
    // A bad flag is refused even when the file has a good value.
    expect(() => storeSettings({ 'postgres-url': 'postgresql://caesar:pw@[::1]/caesar' }, section)).toThrow(/--postgres-url must not carry a password/);
  });

  test('the file names its own mistakes: file, section and key', async () => {
    const unknown = await refusal('store = "postgres"\npostgres_uri = "x"\n');
    expect(unknown.err.message).toBe(`${unknown.path}: caesar.postgres_uri: unknown key`);
    expect((await refusal('store = "mysql"\n')).err.message).toMatch(/caesar\.toml: caesar\.store: "mysql" is not one of sqlite, postgres$/);
    expect((await refusal('store = "postgres"\npostgres_url = "postgresql://caesar:secret@[::1]/caesar"\n')).err.message).toMatch(/caesar\.toml: caesar\.postgres_url: must not carry a password/);
    expect((await refusal('store = "postgres"\npostgres_url = "mysql://x@[::1]/db"\n')).err.message).toMatch(/caesar\.postgres_url: must start with postgresql:\/\//);
    expect((await refusal('store = "postgres"\npostgres_schema = "Caesar"\n')).err.message).toMatch(/caesar\.postgres_schema: must be a lower-case identifier/);
    expect((await refusal('store = 1\n')).err.message).toMatch(/caesar\.store: expected a string, got integer/);
    // PostgreSQL keys under another store would do nothing: refused.
    expect((await refusal(`postgres_url = "${url}"\n`)).err.message).toMatch(/caesar\.toml: caesar\.postgres_url: needs store = "postgres" in the same section$/);
    expect((await refusal(`store = "sqlite"\npostgres_schema = "blue"\n`)).err.message).toMatch(/caesar\.postgres_schema: needs store = "postgres"/);
    // Cross-key problems the flags could still fix are settings errors (usage, exit 2), naming both ways.
    const noUrl = (await load('store = "postgres"\n')).section;
    expect(() => storeSettings({}, noUrl)).toThrow(/store = "postgres" in \[caesar\] needs --postgres-url or postgres_url in \[caesar\]/);
    const open = await load(`store = "postgres"\npostgres_url = "${url}"\npostgres_password_file = "pw"\n`);
    writeFileSync(join(open.dir, 'pw'), 'x\n', { mode: 0o644 });
    chmodSync(join(open.dir, 'pw'), 0o644);
    expect(() => storeSettings({}, open.section)).toThrow(SettingsError);
    expect(() => storeSettings({}, open.section)).toThrow(/caesar\.postgres_password_file .*pw is readable by others; chmod 600/);
  });
});

test('checkServeFlags: what the flags alone get wrong, before the config is read; what needs the file waits', () => {
  expect(() => checkServeFlags({ 'postgres-url': 'postgresql://caesar@[::1]:5432/caesar' })).not.toThrow(); // the file may say store = "postgres"
  expect(() => checkServeFlags({ store: 'postgres' })).not.toThrow(); // the file may give the URL
  expect(() => checkServeFlags({ store: 'mysql' })).toThrow(/--store must be sqlite or postgres/);
  expect(() => checkServeFlags({ 'postgres-url': 'postgresql://caesar:pw@[::1]/caesar' })).toThrow(/--postgres-url must not carry a password/);
  expect(() => checkServeFlags({ 'postgres-schema': 'Caesar' })).toThrow(/--postgres-schema must be a lower-case identifier/);
  expect(() => checkServeFlags({ 'slash-share': '3/2' })).toThrow(/--slash-share must be a fraction/);
  expect(() => checkServeFlags({ ledger: '0' })).toThrow(SettingsError);
});

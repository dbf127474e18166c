// `caesar serve` store flags: SQLite by default; PostgreSQL with a URL that carries no password,
// the password from a 0600 file (or libpq's PGPASSWORD / PGPASSFILE); clear errors otherwise.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsError, settingsFromFlags, storeFromFlags } from '../src/settings';

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

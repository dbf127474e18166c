// `caesar serve` flags and the config's [caesar] section -> CaesarSettings. [service] belongs to
// runService; [caesar] (the store choice) is Caesar's, declared through runServeCommand's
// `section`, so unknown keys there are refused like anywhere else in the file. Flags override it.
import { isAbsolute, resolve } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { StoqError, type ConfigSection } from '@stoq/core';
import { parseU128Flag } from './cli/flag-values';
import { SCHEMA_NAME } from './store/postgres-schema';
import { COMMON_SERVE_OPTIONS, genesisFileSource, type GenesisSource, type ServiceConfigSection } from '@stoq/service';
import type { ValidatorBook } from './service/proof-verifiers';
import type { CaesarSettings, LedgerStoreSettings } from './service/start-caesar';

/** Codes Caesar uses for its own accounts and transfers on the staking ledger. */
export const CAESAR_CODES = { stakeAccount: 900, stake: 901, unbonding: 902, reward: 903, slash: 904 } as const;

export const SERVE_OPTIONS = {
  ...COMMON_SERVE_OPTIONS,
  admin: { type: 'string', multiple: true },
  operator: { type: 'string', multiple: true },
  rewarder: { type: 'string', multiple: true },
  ledger: { type: 'string' },
  'unbonding-seconds': { type: 'string' },
  'reward-per-block': { type: 'string' },
  'slash-share': { type: 'string' },
  'mint-account': { type: 'string' },
  'burn-account': { type: 'string' },
  'hypermesh-genesis': { type: 'string' },
  'validator-account': { type: 'string', multiple: true },
  store: { type: 'string' },
  'postgres-url': { type: 'string' },
  'postgres-password-file': { type: 'string' },
  'postgres-schema': { type: 'string' },
} as const;

export interface ServeValues {
  admin?: string[];
  operator?: string[];
  rewarder?: string[];
  ledger?: string;
  'unbonding-seconds'?: string;
  'reward-per-block'?: string;
  'slash-share'?: string;
  'mint-account'?: string;
  'burn-account'?: string;
  'hypermesh-genesis'?: string;
  'validator-account'?: string[];
  store?: string;
  'postgres-url'?: string;
  'postgres-password-file'?: string;
  'postgres-schema'?: string;
}

export class SettingsError extends Error {
  readonly code = 'SETTINGS_INVALID';
}

function integer(v: string | undefined, flag: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < min || n > max) throw new SettingsError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** The [caesar] section of the config file: the store choice (flags override each key). */
export interface CaesarSection {
  readonly store?: 'sqlite' | 'postgres';
  readonly postgresUrl?: string;
  /** Absolute: a relative path in the file is relative to the file's directory. */
  readonly postgresPasswordFile?: string;
  readonly postgresSchema?: string;
}

const STORE_KINDS = ['sqlite', 'postgres'] as const;

/** Why a PostgreSQL URL is refused, or null. Never a password in it: it would show in the process list and in shell history or the config. */
function postgresUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `must be a URL like postgresql://caesar@[::1]:5432/caesar, got ${JSON.stringify(url)}`;
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') return `must start with postgresql://, got ${parsed.protocol}//`;
  if (parsed.password !== '' || parsed.searchParams.has('password')) return 'must not carry a password (it would show in the process list or the config); use a password file, PGPASSWORD or PGPASSFILE';
  return null;
}

function schemaProblem(name: string): string | null {
  return SCHEMA_NAME.test(name) ? null : `must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters, not pg_*), got ${JSON.stringify(name)}`;
}

/** Reads [caesar]; its errors are CONFIG_INVALID naming `caesar.<key>` (runService adds the file). */
export function readCaesarSection(s: ConfigSection, baseDir: string): CaesarSection {
  const store = s.optionalString('store', (v) => (STORE_KINDS.includes(v as never) ? null : `${JSON.stringify(v)} is not one of ${STORE_KINDS.join(', ')}`)) as CaesarSection['store'] | null;
  const url = s.optionalString('postgres_url', postgresUrlProblem);
  const passwordFile = s.optionalString('postgres_password_file', (v) => (v.trim() === '' ? 'must not be empty' : null));
  const schema = s.optionalString('postgres_schema', schemaProblem);
  // The file must say what it means on its own: PostgreSQL keys under another store would be ignored.
  const pgKey = ([['postgres_url', url], ['postgres_password_file', passwordFile], ['postgres_schema', schema]] as const).find(([, v]) => v !== null);
  if (pgKey && store !== 'postgres') {
    throw new StoqError('CONFIG_INVALID', `${s.path(pgKey[0])}: needs store = "postgres" in the same section`, { details: { key: s.path(pgKey[0]) } });
  }
  return {
    ...(store !== null ? { store } : {}),
    ...(url !== null ? { postgresUrl: url } : {}),
    ...(passwordFile !== null ? { postgresPasswordFile: isAbsolute(passwordFile) ? passwordFile : resolve(baseDir, passwordFile) } : {}),
    ...(schema !== null ? { postgresSchema: schema } : {}),
  };
}

/** `[caesar]` for runServeCommand. */
export const CAESAR_SECTION: ServiceConfigSection<CaesarSection> = { name: 'caesar', read: readCaesarSection };

/**
 * Where the ledger lives: `--store sqlite` (default: <data_dir>/caesar-ledger.sqlite) or
 * `--store postgres --postgres-url postgresql://user@host:port/db` with the password from
 * `--postgres-password-file` (mode 0600, as libpq wants of ~/.pgpass), PGPASSWORD or PGPASSFILE —
 * never in the URL. Each flag overrides its key of [caesar] (`store`, `postgres_url`,
 * `postgres_password_file`, `postgres_schema`); `--store sqlite` over a file's PostgreSQL store
 * ignores the file's postgres_* keys.
 */
export function storeSettings(v: ServeValues, file: CaesarSection = {}): LedgerStoreSettings {
  if (v.store !== undefined && !STORE_KINDS.includes(v.store as never)) throw new SettingsError(`--store must be sqlite or postgres, got ${JSON.stringify(v.store)}`);
  const kind = v.store ?? file.store ?? 'sqlite';
  const pgFlags = (['postgres-url', 'postgres-password-file', 'postgres-schema'] as const).filter((f) => v[f] !== undefined);
  if (kind === 'sqlite') {
    if (pgFlags.length > 0) throw new SettingsError(`--${pgFlags[0]} needs --store postgres${v.store === undefined ? ' (or store = "postgres" in [caesar])' : ''}`);
    return { kind: 'sqlite' };
  }
  const chosenBy = v.store !== undefined ? '--store postgres' : 'store = "postgres" in [caesar]';
  const url = v['postgres-url'] ?? file.postgresUrl;
  if (url === undefined) throw new SettingsError(`${chosenBy} needs --postgres-url or postgres_url in [caesar], e.g. postgresql://caesar@[::1]:5432/caesar`);
  if (v['postgres-url'] !== undefined) {
    const problem = postgresUrlProblem(url);
    if (problem) throw new SettingsError(`--postgres-url ${problem}`);
  }
  const schema = v['postgres-schema'] ?? file.postgresSchema ?? 'caesar';
  if (v['postgres-schema'] !== undefined) {
    const problem = schemaProblem(schema);
    if (problem) throw new SettingsError(`--postgres-schema ${problem}`);
  }
  const fromFlag = v['postgres-password-file'];
  const passwordFile = fromFlag ?? file.postgresPasswordFile;
  if (passwordFile === undefined) return { kind: 'postgres', url, schema };
  const what = fromFlag !== undefined ? '--postgres-password-file' : 'caesar.postgres_password_file';
  let password: string;
  try {
    if ((statSync(passwordFile).mode & 0o077) !== 0) throw new SettingsError(`${what} ${passwordFile} is readable by others; chmod 600 it`);
    password = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    throw new SettingsError(`${what} ${passwordFile}: ${(err as Error).message}`);
  }
  if (password === '' || password.includes('\n')) throw new SettingsError(`${what} ${passwordFile} must hold the password on one line`);
  return { kind: 'postgres', url, schema, password };
}

/**
 * What the flags alone can already refuse, before the config file is read (runServeCommand's
 * checkFlags): every non-store flag, and each store flag's own value; what needs the file too
 * (a URL for PostgreSQL, PostgreSQL flags without PostgreSQL) waits for storeSettings.
 */
export function checkServeFlags(v: ServeValues): void {
  settingsFromFlags({ ...v, store: undefined, 'postgres-url': undefined, 'postgres-password-file': undefined, 'postgres-schema': undefined });
  if (v.store !== undefined && !STORE_KINDS.includes(v.store as never)) throw new SettingsError(`--store must be sqlite or postgres, got ${JSON.stringify(v.store)}`);
  const url = v['postgres-url'] === undefined ? null : postgresUrlProblem(v['postgres-url']);
  if (url) throw new SettingsError(`--postgres-url ${url}`);
  const schema = v['postgres-schema'] === undefined ? null : schemaProblem(v['postgres-schema']);
  if (schema) throw new SettingsError(`--postgres-schema ${schema}`);
}

/** The store from flags alone (no [caesar] section). */
export function storeFromFlags(v: ServeValues): LedgerStoreSettings {
  return storeSettings(v);
}

/** Caesar's settings from `caesar serve` flags and the config's [caesar] section (flags win). */
export function settingsFromFlags(v: ServeValues, file?: CaesarSection): CaesarSettings {
  const ledger = integer(v.ledger, 'ledger', 1, 0xffff_ffff, 1);
  const unbonding = integer(v['unbonding-seconds'], 'unbonding-seconds', 1, 365 * 86_400, 14 * 86_400);
  const share = /^([0-9]+)\/([1-9][0-9]*)$/.exec(v['slash-share'] ?? '1/20');
  if (!share || BigInt(share[1]!) > BigInt(share[2]!)) throw new SettingsError(`--slash-share must be a fraction n/d in [0, 1], e.g. 1/20, got ${JSON.stringify(v['slash-share'])}`);
  const optionalId = (flag: 'mint-account' | 'burn-account'): bigint | null => (v[flag] === undefined ? null : parseU128Flag(v[flag]!, `--${flag}`, SettingsError));
  const accounts = new Map<string, bigint>();
  for (const entry of v['validator-account'] ?? []) {
    const m = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)=(.+)$/.exec(entry);
    if (!m) throw new SettingsError(`--validator-account must be <validator instance>=<account id>, e.g. hypermesh-1=31, got ${JSON.stringify(entry)}`);
    if (accounts.has(m[1]!)) throw new SettingsError(`--validator-account names ${m[1]} twice`);
    accounts.set(m[1]!, parseU128Flag(m[2]!, `--validator-account ${m[1]}`, SettingsError));
  }
  if (accounts.size > 0 && v['hypermesh-genesis'] === undefined) throw new SettingsError('--validator-account needs --hypermesh-genesis (the validators are the genesis set)');
  let hypermesh: ValidatorBook | undefined;
  if (v['hypermesh-genesis'] !== undefined) {
    let source: GenesisSource;
    try {
      source = genesisFileSource(v['hypermesh-genesis']);
    } catch (err) {
      throw new SettingsError(`--hypermesh-genesis: ${(err as Error).message}`);
    }
    hypermesh = { genesis: () => source.current(), accounts };
  }
  return {
    store: storeSettings(v, file),
    ...(hypermesh ? { hypermesh } : {}),
    access: { admins: v.admin ?? ['admin'], operators: v.operator ?? [] },
    rewarders: v.rewarder ?? ['hypermesh'],
    economics: {
      staking: { ledger, stakeAccountCode: CAESAR_CODES.stakeAccount, stakeCode: CAESAR_CODES.stake, unbondingCode: CAESAR_CODES.unbonding, unbondingPeriodNs: BigInt(unbonding) * 1_000_000_000n },
      rewardCode: CAESAR_CODES.reward,
      slashCode: CAESAR_CODES.slash,
      rewardPerBlock: v['reward-per-block'] === undefined ? 1_000_000n : parseU128Flag(v['reward-per-block'], '--reward-per-block', SettingsError),
      slashNumerator: BigInt(share[1]!),
      slashDenominator: BigInt(share[2]!),
      mintAccountId: optionalId('mint-account'),
      burnAccountId: optionalId('burn-account'),
    },
  };
}

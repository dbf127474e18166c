// `caesar serve` flags -> CaesarSettings. The [service] section of the config belongs to
// runService (which refuses unknown sections), so Caesar's own settings are flags.
import { readFileSync, statSync } from 'node:fs';
import { parseU128Flag } from './cli/flag-values';
import { SCHEMA_NAME } from './store/postgres-schema';
import { COMMON_SERVE_OPTIONS, genesisFileSource, type GenesisSource } from '@stoq/service';
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

/**
 * Where the ledger lives: `--store sqlite` (default: <data_dir>/caesar-ledger.sqlite) or
 * `--store postgres --postgres-url postgresql://user@host:port/db` with the password from
 * `--postgres-password-file` (mode 0600, as libpq wants of ~/.pgpass), PGPASSWORD or PGPASSFILE —
 * never in the URL (it would sit in the process list and in shell history).
 */
export function storeFromFlags(v: ServeValues): LedgerStoreSettings {
  const kind = v.store ?? 'sqlite';
  const pgFlags = (['postgres-url', 'postgres-password-file', 'postgres-schema'] as const).filter((f) => v[f] !== undefined);
  if (kind === 'sqlite') {
    if (pgFlags.length > 0) throw new SettingsError(`--${pgFlags[0]} needs --store postgres`);
    return { kind: 'sqlite' };
  }
  if (kind !== 'postgres') throw new SettingsError(`--store must be sqlite or postgres, got ${JSON.stringify(kind)}`);
  const url = v['postgres-url'];
  if (url === undefined) throw new SettingsError('--store postgres needs --postgres-url, e.g. postgresql://caesar@[::1]:5432/caesar');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SettingsError(`--postgres-url must be a URL like postgresql://caesar@[::1]:5432/caesar, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') throw new SettingsError(`--postgres-url must start with postgresql://, got ${parsed.protocol}//`);
  if (parsed.password !== '') throw new SettingsError('--postgres-url must not carry a password (it would show in the process list); use --postgres-password-file, PGPASSWORD or PGPASSFILE');
  if (parsed.searchParams.has('password')) throw new SettingsError('--postgres-url must not carry a password parameter; use --postgres-password-file, PGPASSWORD or PGPASSFILE');
  const schema = v['postgres-schema'] ?? 'caesar';
  if (!SCHEMA_NAME.test(schema)) throw new SettingsError(`--postgres-schema must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters), got ${JSON.stringify(schema)}`);
  const file = v['postgres-password-file'];
  if (file === undefined) return { kind: 'postgres', url, schema };
  let password: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) throw new SettingsError(`--postgres-password-file ${file} is readable by others; chmod 600 it`);
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    throw new SettingsError(`--postgres-password-file ${file}: ${(err as Error).message}`);
  }
  if (password === '' || password.includes('\n')) throw new SettingsError(`--postgres-password-file ${file} must hold the password on one line`);
  return { kind: 'postgres', url, schema, password };
}

export function settingsFromFlags(v: ServeValues): CaesarSettings {
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
    store: storeFromFlags(v),
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

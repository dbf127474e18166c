// `caesar serve` flags -> CaesarSettings. The [service] section of the config belongs to
// runService (which refuses unknown sections), so Caesar's own settings are flags.
import { parseU128Flag } from './cli/flag-values';
import { COMMON_SERVE_OPTIONS, genesisFileSource, type GenesisSource } from '@stoq/service';
import type { ValidatorBook } from './service/proof-verifiers';
import type { CaesarSettings } from './service/start-caesar';

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

// `catalog serve` flags -> CatalogSettings. The [service] section of the config belongs to
// runService (which refuses unknown sections), so Catalog's own settings are flags.
import { COMMON_SERVE_OPTIONS } from '@stoq/service';
import { availableParallelism } from 'node:os';
import type { CatalogSettings } from './service/start-catalog';

export const SERVE_OPTIONS = {
  ...COMMON_SERVE_OPTIONS,
  ledger: { type: 'string' },
  'fee-account': { type: 'string' },
  'transfer-code': { type: 'string' },
  price: { type: 'string' },
  'max-module-bytes': { type: 'string' },
  'max-memory-bytes': { type: 'string' },
  'default-memory-bytes': { type: 'string' },
  'max-fuel': { type: 'string' },
  'max-output-bytes': { type: 'string' },
  'timeout-ms': { type: 'string' },
  workers: { type: 'string' },
  queue: { type: 'string' },
  rate: { type: 'string' },
  burst: { type: 'string' },
  'reservation-grace-seconds': { type: 'string' },
  'register-assets': { type: 'boolean' },
  'answer-window-seconds': { type: 'string' },
} as const;

export type ServeValues = { [K in Exclude<keyof typeof SERVE_OPTIONS, 'register-assets' | 'help'>]?: string } & { 'register-assets'?: boolean };

export class SettingsError extends Error {
  readonly code = 'SETTINGS_INVALID';
}

const MiB = 1 << 20;

function integer(v: string | undefined, flag: string, min: bigint, max: bigint, dflt: bigint): bigint {
  if (v === undefined) return dflt;
  if (!/^[0-9]{1,39}$/.test(v) || BigInt(v) < min || BigInt(v) > max) throw new SettingsError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

export function settingsFromFlags(v: ServeValues): CatalogSettings {
  const n = (flag: keyof ServeValues, min: number, max: number, dflt: number): number => Number(integer(v[flag] as string | undefined, flag, BigInt(min), BigInt(max), BigInt(dflt)));
  const workers = n('workers', 1, 64, Math.max(1, availableParallelism()));
  const maxMemoryBytes = n('max-memory-bytes', 64 * 1024, 1024 * MiB, 64 * MiB);
  const timeoutMs = n('timeout-ms', 10, 600_000, 10_000);
  return {
    limits: {
      maxModuleBytes: n('max-module-bytes', 1024, 3 * MiB, 2 * MiB),
      maxMemoryBytes,
      defaultMemoryBytes: Math.min(maxMemoryBytes, n('default-memory-bytes', 64 * 1024, 1024 * MiB, 16 * MiB)),
      maxFuel: integer(v['max-fuel'], 'max-fuel', 1n, 2n ** 53n, 10_000_000_000n),
      timeoutMs,
      maxOutputBytes: n('max-output-bytes', 1024, MiB, 512 * 1024),
    },
    workers,
    // Runs are short and arrive in bursts (Caesar's group commit releases reservations together):
    // a deep queue keeps them from being refused after their fee is reserved.
    queueDepth: n('queue', 0, 4096, workers * 32),
    billing: {
      ledger: n('ledger', 1, 0xffff_ffff, 1),
      code: n('transfer-code', 1, 0xffff, 700),
      feeAccountId: integer(v['fee-account'], 'fee-account', 1n, (1n << 127n) - 1n, 700_000_001n),
      pricePerFuel: integer(v.price, 'price', 1n, (1n << 64n) - 1n, 1n),
      // A reservation outlives its run by the grace; Caesar releases one Catalog never settled (a crash).
      reservationTimeoutSeconds: Math.ceil(timeoutMs / 1000) + n('reservation-grace-seconds', 1, 86_400, 60),
    },
    rate: { perSecond: n('rate', 1, 1_000_000, 1000), burst: n('burst', 1, 1_000_000, 2000) },
    registerAssets: v['register-assets'] ?? false,
    answerWindowSeconds: n('answer-window-seconds', 60, 30 * 86_400, 86_400),
  };
}

// `catalog serve --config catalog.toml`: Catalog as a STOQ service. It enrolls with TrustChain like
// every service (the config's [service] section, a join token on first start), keeps its programs
// in the data dir and answers catalog/* (docs/catalog-api.md). Catalog's own settings are flags.
import { runServeCommand } from '@stoq/service';
import { SERVE_OPTIONS, SettingsError, settingsFromFlags, type ServeValues } from './settings';
import { startCatalog } from './service/start-catalog';

export const SERVE_USAGE = `usage: catalog serve --config <catalog.toml> [--data-dir DIR] [--join-token T]
  billing (Caesar; catalog must be a Caesar operator: caesar serve --operator catalog):
    [--ledger N] (default 1)  [--fee-account ID] (default 700000001, created at first use)
    [--transfer-code C] (default 700)  [--price P] (base units per fuel unit, default 1)
    [--reservation-grace-seconds S] (default 60: an unsettled reservation expires run timeout + S after it is made)
  limits: [--max-module-bytes B] (default 2 MiB)  [--max-memory-bytes B] (default 64 MiB)
    [--default-memory-bytes B] (16 MiB)  [--max-fuel F] (1e10)  [--max-output-bytes B] (512 KiB)
    [--timeout-ms T] (10000)  [--workers N] (cores)  [--queue N] (32 x workers)
    [--rate R] [--burst B] (executions per caller per second, default 1000 / 2000)
  [--register-assets] (register uploaded programs as HyperMesh "program" assets)
  [--answer-window-seconds S] (default 86400: how long execute answers are kept for retries with the same request id)`;

export function serve(argv: string[]): Promise<number> {
  return runServeCommand(argv, {
    service: 'catalog',
    usage: SERVE_USAGE,
    options: SERVE_OPTIONS,
    settings: (values) => settingsFromFlags(values as ServeValues),
    usageErrors: [SettingsError],
    setup: (ctx, settings) => startCatalog(ctx, settings),
  });
}

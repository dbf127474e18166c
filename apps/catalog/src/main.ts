// `catalog serve --config catalog.toml`: Catalog as a STOQ service. It enrolls with TrustChain like
// every service (the config's [service] section, a join token on first start), keeps its programs
// in the data dir and answers catalog/* (docs/catalog-api.md). Catalog's own settings are flags.
import { parseArgs } from 'node:util';
import { runService } from '@stoq/service';
import { SERVE_OPTIONS, SettingsError, settingsFromFlags } from './settings';
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
  [--register-assets] (register uploaded programs as HyperMesh "program" assets)`;

export async function serve(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: SERVE_OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`catalog serve: ${(err as Error).message}\n${SERVE_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`catalog serve: --config is required\n${SERVE_USAGE}\n`);
    return 2;
  }
  let settings;
  try {
    settings = settingsFromFlags(values);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`catalog serve: ${err.message}\n`);
    return 2;
  }
  const svc = await runService({
    service: 'catalog',
    configPath: values.config,
    overrides: { ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(values['join-token'] ? { joinToken: values['join-token'] } : {}) },
    setup: (ctx) => startCatalog(ctx, settings),
  });
  svc.logger.info({ address: svc.address, advertised: svc.advertised }, 'catalog serving');
  await svc.stopped;
  return 0;
}

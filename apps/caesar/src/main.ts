// `caesar serve --config caesar.toml`: Caesar as a STOQ service. It enrolls with TrustChain like
// every service (the config's [service] section, a join token on first start), keeps its ledger
// in the data dir and answers caesar/* (docs/caesar-api.md). Caesar's own settings are flags.
import { parseArgs } from 'node:util';
import { runService } from '@stoq/service';
import { SERVE_OPTIONS, SettingsError, settingsFromFlags } from './settings';
import { startCaesar } from './service/start-caesar';

export const SERVE_USAGE = `usage: caesar serve --config <caesar.toml> [--data-dir DIR] [--join-token T]
  [--admin SERVICE]... (default admin)  [--operator SERVICE]...  [--rewarder SERVICE]... (default hypermesh)
  [--ledger N] (staking ledger, default 1)  [--unbonding-seconds S] (default 1209600)
  [--reward-per-block AMOUNT] (default 1000000)  [--slash-share n/d] (default 1/20)
  [--mint-account ID] [--burn-account ID] (the staking ledger's supply accounts, admin-created)
  [--hypermesh-genesis FILE] (HyperMesh's genesis: reward_block and slash verify against its validators)
  [--validator-account INSTANCE=ID]... (the Caesar account staking for each genesis validator)`;

export async function serve(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: SERVE_OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`caesar serve: ${(err as Error).message}\n${SERVE_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`caesar serve: --config is required\n${SERVE_USAGE}\n`);
    return 2;
  }
  let settings;
  try {
    settings = settingsFromFlags(values);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`caesar serve: ${err.message}\n`);
    return 2;
  }
  const svc = await runService({
    service: 'caesar',
    configPath: values.config,
    overrides: { ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(values['join-token'] ? { joinToken: values['join-token'] } : {}) },
    setup: (ctx) => startCaesar(ctx, settings),
  });
  svc.logger.info({ address: svc.address, advertised: svc.advertised }, 'caesar serving');
  await svc.stopped;
  return 0;
}

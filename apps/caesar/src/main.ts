// `caesar serve --config caesar.toml`: Caesar as a STOQ service. It enrolls with TrustChain like
// every service (the config's [service] section, a join token on first start), keeps its ledger
// in the data dir and answers caesar/* (docs/caesar-api.md). Caesar's own settings are flags.
import { runServeCommand } from '@stoq/service';
import { SERVE_OPTIONS, SettingsError, settingsFromFlags, type ServeValues } from './settings';
import { startCaesar } from './service/start-caesar';

export const SERVE_USAGE = `usage: caesar serve --config <caesar.toml> [--data-dir DIR] [--join-token T]
  [--admin SERVICE]... (default admin)  [--operator SERVICE]...  [--rewarder SERVICE]... (default hypermesh)
  [--ledger N] (staking ledger, default 1)  [--unbonding-seconds S] (default 1209600)
  [--reward-per-block AMOUNT] (default 1000000)  [--slash-share n/d] (default 1/20)
  [--mint-account ID] [--burn-account ID] (the staking ledger's supply accounts, admin-created)
  [--hypermesh-genesis FILE] (HyperMesh's genesis: reward_block and slash verify against its validators)
  [--validator-account INSTANCE=ID]... (the Caesar account staking for each genesis validator)
  [--store sqlite|postgres] (default sqlite: <data_dir>/caesar-ledger.sqlite)
  [--postgres-url postgresql://USER@HOST:PORT/DB] [--postgres-password-file FILE] [--postgres-schema NAME] (default caesar;
   the password from the file, PGPASSWORD or PGPASSFILE, never in the URL)`;

export function serve(argv: string[]): Promise<number> {
  return runServeCommand(argv, {
    service: 'caesar',
    usage: SERVE_USAGE,
    options: SERVE_OPTIONS,
    settings: (values) => settingsFromFlags(values as ServeValues),
    usageErrors: [SettingsError],
    setup: (ctx, settings) => startCaesar(ctx, settings),
  });
}

// `caesar serve --config caesar.toml`: Caesar as a STOQ service. It enrolls with TrustChain like
// every service (the config's [service] section, a join token on first start), keeps its ledger
// in the data dir (or PostgreSQL) and answers caesar/* (docs/caesar-api.md). Caesar's own settings
// are flags and the config's [caesar] section (the store; flags override it).
import { runServeCommand } from '@stoq/service';
import { CAESAR_SECTION, SERVE_OPTIONS, SettingsError, checkServeFlags, settingsFromFlags, type ServeValues } from './settings';
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
   the password from the file, PGPASSWORD or PGPASSFILE, never in the URL)
  The store can also be set in the config's [caesar] section (store, postgres_url, postgres_password_file,
  postgres_schema); a flag overrides its key.`;

export function serve(argv: string[]): Promise<number> {
  return runServeCommand(argv, {
    service: 'caesar',
    usage: SERVE_USAGE,
    options: SERVE_OPTIONS,
    section: CAESAR_SECTION,
    checkFlags: (values) => checkServeFlags(values as ServeValues),
    settings: (values, fromFile) => settingsFromFlags(values as ServeValues, fromFile),
    usageErrors: [SettingsError],
    setup: (ctx, settings) => startCaesar(ctx, settings),
  });
}

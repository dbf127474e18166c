// `<service> serve --config FILE [--data-dir DIR] [--join-token T] [service flags]`: the command
// line every service app shares — parse strictly, --help, --config required, the app's flags
// turned into its settings (a refusal is a usage error, exit 2), then runService and wait for
// the orderly stop (exit 0). The app keeps only its flags, its usage text and its setup.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runService, type ServiceContext, type ServiceHooks } from './run-service';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags runServeCommand itself reads; an app's option table must include them. */
export const COMMON_SERVE_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'join-token': { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies Options;

export interface ServeCommand<S> {
  /** The service name certificates carry, e.g. `caesar`; also the log line "<service> serving". */
  readonly service: string;
  readonly usage: string;
  /** The app's option table (COMMON_SERVE_OPTIONS spread in). */
  readonly options: Options;
  /** The app's settings from the parsed flags; throws `usageErrors` instances for bad flags. */
  settings(values: Record<string, unknown>): S;
  /** Error classes `settings` throws for bad flags (reported as usage errors, exit 2). */
  readonly usageErrors: ReadonlyArray<new (...args: never[]) => Error>;
  setup(ctx: ServiceContext, settings: S): Promise<ServiceHooks | void> | ServiceHooks | void;
}

export async function runServeCommand<S>(argv: string[], cmd: ServeCommand<S>): Promise<number> {
  const fail = (message: string, usage = true): number => {
    process.stderr.write(`${cmd.service} serve: ${message}\n${usage ? `${cmd.usage}\n` : ''}`);
    return 2;
  };
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: cmd.options, strict: true, allowPositionals: false }));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values['help']) {
    process.stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  const config = values['config'];
  if (typeof config !== 'string') return fail('--config is required');
  let settings: S;
  try {
    settings = cmd.settings(values);
  } catch (err) {
    if (!cmd.usageErrors.some((E) => err instanceof E)) throw err;
    return fail((err as Error).message, false);
  }
  const dataDir = values['data-dir'];
  const joinToken = values['join-token'];
  const svc = await runService({
    service: cmd.service,
    configPath: config,
    overrides: { ...(typeof dataDir === 'string' ? { dataDir } : {}), ...(typeof joinToken === 'string' ? { joinToken } : {}) },
    setup: (ctx) => cmd.setup(ctx, settings),
  });
  svc.logger.info({ address: svc.address, advertised: svc.advertised }, `${cmd.service} serving`);
  await svc.stopped;
  return 0;
}

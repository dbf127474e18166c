// `<service> serve --config FILE [--data-dir DIR] [--join-token T] [service flags]`: the command
// line every service app shares — parse strictly, --help, --config required, the app's flags
// turned into its settings (a refusal is a usage error, exit 2), then runService and wait for
// the orderly stop (exit 0). The app keeps only its flags, its usage text and its setup.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runService, type ServiceContext, type ServiceHooks } from './run-service';
import type { ServiceConfigSection } from './service-config';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags runServeCommand itself reads; an app's option table must include them. */
export const COMMON_SERVE_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'join-token': { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies Options;

export interface ServeCommand<S, F = never> {
  /** The service name certificates carry, e.g. `caesar`; also the log line "<service> serving". */
  readonly service: string;
  readonly usage: string;
  /** The app's option table (COMMON_SERVE_OPTIONS spread in). */
  readonly options: Options;
  /**
   * The app's own config section (`[caesar]`): read with the config file, before enrollment, and
   * given to `settings`, which lets flags override the file's keys.
   */
  readonly section?: ServiceConfigSection<F>;
  /**
   * The app's settings from the parsed flags (and, with `section`, the file's section: then it is
   * called while the config loads); throws `usageErrors` instances for bad flags.
   */
  settings(values: Record<string, unknown>, fromFile?: F): S;
  /**
   * With `section`: the flags' own mistakes (a malformed value, whatever the file says), checked
   * before the config file is read, as `settings` does without a section; throws `usageErrors`.
   */
  checkFlags?(values: Record<string, unknown>): void;
  /** Error classes `settings` throws for bad flags (reported as usage errors, exit 2). */
  readonly usageErrors: ReadonlyArray<new (...args: never[]) => Error>;
  setup(ctx: ServiceContext, settings: S): Promise<ServiceHooks | void> | ServiceHooks | void;
}

export async function runServeCommand<S, F = never>(argv: string[], cmd: ServeCommand<S, F>): Promise<number> {
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
  const usageError = (err: unknown): boolean => cmd.usageErrors.some((E) => err instanceof E);
  let settings: S | undefined;
  try {
    if (cmd.section) cmd.checkFlags?.(values);
    else settings = cmd.settings(values);
  } catch (err) {
    if (!usageError(err)) throw err;
    return fail((err as Error).message, false);
  }
  const own = cmd.section;
  const dataDir = values['data-dir'];
  const joinToken = values['join-token'];
  let svc;
  try {
    svc = await runService<F>({
      service: cmd.service,
      configPath: config,
      overrides: { ...(typeof dataDir === 'string' ? { dataDir } : {}), ...(typeof joinToken === 'string' ? { joinToken } : {}) },
      // Flags and the file's section are combined while the config loads, so a bad combination
      // is a usage error before anything else happens (no join token spent on it).
      ...(own
        ? {
            section: {
              name: own.name,
              read: (s, baseDir) => {
                const fromFile = own.read(s, baseDir);
                s.done(); // unknown keys are reported before what the flags make of the rest
                settings = cmd.settings(values, fromFile);
                return fromFile;
              },
            },
          }
        : {}),
      setup: (ctx) => cmd.setup(ctx, settings as S),
    });
  } catch (err) {
    if (own && usageError(err)) return fail((err as Error).message, false);
    throw err;
  }
  svc.logger.info({ address: svc.address, advertised: svc.advertised }, `${cmd.service} serving`);
  await svc.stopped;
  return 0;
}

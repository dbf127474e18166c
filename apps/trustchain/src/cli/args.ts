// Command-line parsing for `trustchain`: `--help`/`-h` everywhere, parse errors as usage errors
// (exit 2) pointing at the command's help; the data dir and durations. (stoq-cli has the same
// shape; apps do not import each other, so the few lines live here too.)
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './cli-error';

type Options = NonNullable<ParseArgsConfig['options']>;
export type ParsedCommand<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export const DATA_DIR_ENV = 'STOQ_TRUSTCHAIN_DIR';
export const DEFAULT_DATA_DIR = '.trustchain';

/** Parses `argv` for `command`; null when help was asked for (the caller prints it). */
export function parseCommand<const O extends Options>(command: string, argv: string[], options: O): ParsedCommand<O> | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    throw usageError(`${message} (see trustchain ${command} --help)`);
  }
}

/** --data-dir, else $STOQ_TRUSTCHAIN_DIR, else ./.trustchain; absolute. */
export function dataDirOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env[DATA_DIR_ENV] ?? DEFAULT_DATA_DIR;
  if (chosen.trim() === '') throw usageError(`the data dir must not be empty (--data-dir or $${DATA_DIR_ENV})`);
  return resolve(chosen);
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `3600`, `90s`, `30m`, `1h`, `7d` → seconds; a usage error naming `flag` otherwise. */
export function durationSeconds(text: string, flag: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) throw usageError(`${flag} must be a duration like 3600, 90s, 30m, 1h or 7d, got "${text}"`);
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw usageError(`trustchain ${command} takes no positional arguments, got "${positionals[0]}" (see trustchain ${command} --help)`);
}

// Command-line parsing shared by every subcommand: `--help`/`-h` everywhere, parse errors as
// usage errors (exit 2) that point at the command's help, and range-checked numeric options.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './cli-error';

type Options = NonNullable<ParseArgsConfig['options']>;
export type ParsedCommand<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Largest delay Node's timers take (2^31-1 ms, ~24.8 days); larger ones fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Parses `argv` for `command`; returns null when help was asked for (the caller prints it).
 * `--timeout -5` is read as the value "-5" (node:util would call it ambiguous), so the range
 * check can say what is wrong with it.
 */
export function parseCommand<const O extends Options>(command: string, argv: string[], options: O): ParsedCommand<O> | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : null;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    throw usageError(`${message} (see stoq ${command} --help)`);
  }
}

/** An integer option in min..max, or a usage error naming the flag, the range and the value. */
export function intOption(text: string, flag: string, min: number, max: number, unit = ''): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`${flag} must be an integer from ${min} to ${max}${unit ? ` ${unit}` : ''}, got "${text}"`);
  }
  return n;
}

export function timeoutOption(text: string): number {
  return intOption(text, '--timeout', 1, MAX_TIMEOUT_MS, 'ms (about 24.8 days, the largest timer Node.js has)');
}

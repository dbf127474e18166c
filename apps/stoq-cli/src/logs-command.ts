// `stoq logs [service] [-f]`: the logs `npm start` keeps per service (<ecosystem>/logs/<name>.log,
// pino JSON lines), merged in time order and printed one readable line each; `-f` keeps following
// them as they grow. `--json` prints the JSON lines as they are.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseCommand } from './args';
import { usageError } from './cli-error';
import { findEcosystem } from '@stoq/client';
import { HELP } from './help';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'service', 'instance', 'host', 'pid', 'hostname']);
/** Most bytes read from the end of each file for the first screen. */
const TAIL_BYTES = 256 * 1024;

/** One readable line for a pino JSON line (the text itself when it is not JSON). */
export function formatLogLine(raw: string, file: string): string {
  let l: Record<string, unknown>;
  try {
    l = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return `${file}: ${raw}`;
  }
  const time = typeof l['time'] === 'number' ? new Date(l['time']).toISOString().slice(11, 23) : '??:??:??.???';
  const level = LEVELS[Number(l['level'])] ?? String(l['level'] ?? '');
  const who = [l['service'] ?? file, l['instance']].filter(Boolean).join('/');
  const rest = Object.entries(l)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} ${who}: ${String(l['msg'] ?? '')}${rest ? `  ${rest}` : ''}`;
}

interface Followed {
  readonly name: string;
  readonly path: string;
  offset: number;
  partial: string;
}

function readNew(f: Followed, maxBytes = Number.POSITIVE_INFINITY): string[] {
  const size = statSync(f.path).size;
  if (size < f.offset) f.offset = 0; // truncated or replaced
  const start = Math.max(f.offset, size - maxBytes);
  if (size <= start) return [];
  const buf = Buffer.alloc(size - start);
  const fd = openSync(f.path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  f.offset = size;
  const text = (start > 0 && start === size - maxBytes ? '' : f.partial) + buf.toString('utf8');
  const lines = text.split('\n');
  f.partial = lines.pop() ?? '';
  // A read that started mid-file begins mid-line: drop that fragment.
  if (start > 0 && start === size - maxBytes) lines.shift();
  return lines.filter((l) => l.length > 0);
}

const timeOf = (raw: string): number => {
  const m = /"time":(\d+)/.exec(raw);
  return m ? Number(m[1]) : 0;
};

export async function runLogs(argv: string[]): Promise<number> {
  const parsed = parseCommand('logs', argv, {
    follow: { type: 'boolean', short: 'f', default: false },
    lines: { type: 'string', short: 'n', default: '100' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (!parsed) {
    process.stdout.write(`${HELP.logs}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw usageError('stoq logs takes at most one service name');
  const n = Number(values.lines);
  if (!Number.isInteger(n) || n < 0) throw usageError(`--lines must be a non-negative integer, got "${values.lines}"`);
  const eco = findEcosystem(process.cwd());
  const dir = values.dir ?? (eco ? join(eco.dir, 'logs') : null);
  if (!dir || !existsSync(dir)) throw usageError('no logs found: run `npm start` in this repository first, or give --dir <ecosystem>/logs');
  const only = positionals[0];
  const files: Followed[] = readdirSync(dir)
    .filter((f) => f.endsWith('.log') && (only === undefined || f === `${only}.log`))
    .sort()
    .map((f) => ({ name: basename(f, '.log'), path: join(dir, f), offset: 0, partial: '' }));
  if (files.length === 0) throw usageError(only ? `no log for service "${only}" in ${dir}` : `no logs in ${dir}`);
  const show = (raw: string, file: string): void => void process.stdout.write(`${values.json ? raw : formatLogLine(raw, file)}\n`);

  const first = files.flatMap((f) => readNew(f, TAIL_BYTES).map((raw) => ({ raw, file: f.name })));
  first.sort((a, b) => timeOf(a.raw) - timeOf(b.raw));
  for (const l of n === 0 ? [] : first.slice(-n)) show(l.raw, l.file);
  if (!values.follow) return 0;

  // Following: poll the files' sizes (a few times a second) until interrupted.
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const fresh = files.flatMap((f) => (existsSync(f.path) ? readNew(f).map((raw) => ({ raw, file: f.name })) : []));
      fresh.sort((a, b) => timeOf(a.raw) - timeOf(b.raw));
      for (const l of fresh) show(l.raw, l.file);
    }, 250);
    const stop = (): void => {
      clearInterval(timer);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

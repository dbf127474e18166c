// The `npm start` launcher (scripts/start.mjs) as a user runs it, for the tests that need a whole
// ecosystem of plain processes (launcher.e2e.test.ts, ecosystem.e2e.test.ts): start it in its
// own folder and ports, wait for its progress lines, find the services' processes and logs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(__dirname, '..', '..');

export interface Launcher {
  readonly child: ChildProcess;
  /** Every stderr line so far (progress, restarts, the status table). */
  readonly lines: string[];
  /**
   * The first line matching `re` (already printed, or the next one); with `after`, only lines
   * from index `after` of `lines` on. Rejects if the launcher exits first.
   */
  waitFor(re: RegExp, after?: number): Promise<string>;
  /** Ctrl-C as a terminal sends it (SIGINT to the process group); resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/**
 * Starts `node scripts/start.mjs --home <home> --port-offset <offset> [...args]` in its own
 * process group, as a shell starts a foreground job.
 */
export function startLauncher(opts: { home: string; offset: number; args?: string[]; env?: NodeJS.ProcessEnv }): Launcher {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--home', opts.home, '--port-offset', String(opts.offset), ...(opts.args ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, ...opts.env },
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; after: number; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    lines.push(l);
    const i = lines.length - 1;
    for (const w of [...waiters]) if (i >= w.after && w.re.test(l)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(l);
  });
  const exited = once(child, 'exit');
  const waitFor = (re: RegExp, after = 0): Promise<string> => {
    const seen = lines.slice(after).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ re, after, resolve });
      void exited.then(([code]) => reject(new Error(`launcher exited (${code}) before ${re}; it said:\n${lines.join('\n')}`)));
    });
  };
  const interrupt = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    process.kill(-child.pid!, 'SIGINT');
    const [code] = (await exited) as [number | null];
    return code;
  };
  return { child, lines, waitFor, interrupt };
}

/** PIDs of processes whose command line mentions the ecosystem folder `home`. */
export function processesOfHome(home: string): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.includes(home) && !l.includes('ps -eo'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** The PID of the launcher's service `name` (its command line names `<home>/<name>.toml`), or null. */
export function pidOfService(home: string, name: string): number | null {
  for (const pid of processesOfHome(home)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(join(home, `${name}.toml`))) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

/** A service's pino JSON log lines, from `<home>/logs/<name>.log` (lines that are not JSON are skipped). */
export function serviceLog(home: string, name: string): Array<Record<string, unknown> & { msg?: string; time?: number }> {
  let text: string;
  try {
    text = readFileSync(join(home, 'logs', `${name}.log`), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** SHA-256 of the leaf certificate in `<dataDir>/identity/cert.pem`, lower-case hex (how logs and `stoq status` name it). */
export function certificateFingerprint(dataDir: string): string {
  return new X509Certificate(readFileSync(join(dataDir, 'identity', 'cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase();
}

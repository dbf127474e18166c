// The `npm start` launcher (scripts/start.mjs) as a user runs it, for the tests that need a whole
// ecosystem of plain processes (launcher.e2e.test.ts, ecosystem.e2e.test.ts): start it in its
// own folder and ports, wait for its progress lines, find the services' processes and logs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

export interface PromResult {
  metric: Record<string, string>;
  /** An instant vector's sample. */
  value?: [number, string];
  /** A range vector's raw samples. */
  values?: [number, string][];
}

export interface Prometheus {
  readonly url: string;
  /** A PromQL query (instant): its result. */
  query(promql: string): Promise<PromResult[]>;
  stop(): Promise<void>;
}

/** A free TCP port on [::1]. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen({ host: '::1', port: 0 }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** Whether a `prometheus` binary is on PATH (Debian's package). */
export const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;

/**
 * A real Prometheus (Debian's package, as ngauge.e2e.test.ts runs it) scraping NGauge's /metrics
 * at `target` ("[::1]:port") every 500 ms, its state in `dir`. honor_labels keeps NGauge's own
 * `instance` label (the scraped service's) on its series.
 */
export async function startPrometheus(target: string, dir: string): Promise<Prometheus> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), ['global:', '  scrape_interval: 500ms', '  scrape_timeout: 400ms', 'scrape_configs:', '  - job_name: ngauge', '    honor_labels: true', '    static_configs:', `      - targets: ['${target}']`, ''].join('\n'));
  const child = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=[::1]:${port}`], { stdio: 'ignore' });
  const url = `http://[::1]:${port}`;
  return {
    url,
    async query(promql: string): Promise<PromResult[]> {
      const body = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { data: { result: PromResult[] } };
      return body.data.result;
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Whether NGauge's `up` samples of one instance show it down after `sinceMs` and up after that,
 * and up last (samples: ms since the epoch, value 0 or 1).
 */
export function downThenUp(samples: Array<{ t: number; v: number }>, sinceMs: number): boolean {
  const sorted = [...samples].sort((x, y) => x.t - y.t);
  const down = sorted.find((x) => x.t >= sinceMs - 1000 && x.v === 0);
  return down !== undefined && sorted.some((x) => x.t > down.t && x.v === 1) && sorted.at(-1)?.v === 1;
}

/**
 * What Prometheus must hold for an instance that was killed at `sinceMs` and restarted: a
 * process_start_time_seconds from before and one from after, and `up` 1 now. (A crash that
 * NGauge saw as one failed scrape is in its /metrics for less than an interval, so a scraper can
 * miss the 0; the restart it cannot miss.)
 */
export async function prometheusSawRestart(prom: Prometheus, instance: string, sinceMs: number): Promise<boolean> {
  const since = sinceMs / 1000;
  const starts = (await prom.query(`process_start_time_seconds{instance="${instance}"}[1h]`)).flatMap((r) => r.values ?? []).map(([, v]) => Number(v));
  const up = (await prom.query(`up{instance="${instance}"}`)).map((r) => r.value?.[1]);
  return starts.some((v) => v < since) && starts.some((v) => v >= since - 1) && up.length === 1 && up[0] === '1';
}

// Helpers to run the real `stoq` command as child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { storedIdentity } from '@stoq/client';
import { StoqTransport, type Ipv6Endpoint } from '@stoq/core';
import { DnsSrvResolver, RpcClient, isRpcError, statusName } from '@stoq/rpc';

/** The command under test; STOQ_E2E_BIN runs the suite against another build (e.g. an older one). */
export const STOQ_BIN = process.env['STOQ_E2E_BIN'] ?? join(__dirname, '..', '..', 'apps', 'stoq-cli', 'bin', 'stoq.js');
/** The `trustchain` command. */
export const TRUSTCHAIN_BIN = join(__dirname, '..', '..', 'apps', 'trustchain', 'bin', 'trustchain.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `stoq <args>` to completion; `input` (if given) is written to its stdin. */
/** Run `trustchain <args>` to completion. */
export function runTrustChain(args: string[], cwd: string): Promise<RunResult> {
  return runStoq(args, cwd, { bin: TRUSTCHAIN_BIN });
}

export async function runStoq(args: string[], cwd: string, opts: { input?: string; env?: NodeJS.ProcessEnv; bin?: string } = {}): Promise<RunResult> {
  const env = { ...process.env, ...opts.env };
  delete env['STOQ_DATA_DIR']; // tests choose the data dir explicitly
  if (opts.env?.['STOQ_DATA_DIR'] !== undefined) env['STOQ_DATA_DIR'] = opts.env['STOQ_DATA_DIR'];
  const child = spawn(process.execPath, [opts.bin ?? STOQ_BIN, ...args], { cwd, env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

/** A long-running `stoq` process whose pino JSON log lines can be awaited. */
export class StoqProcess {
  readonly lines: LogLine[] = [];
  private readonly waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  /** Exit code, or the signal name if a signal ended the process. */
  readonly exited: Promise<number | string | null>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.pred(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
    this.exited = once(child, 'exit').then(([code, signal]) => (code as number | null) ?? (signal as string | null));
  }

  static start(args: string[], cwd: string, opts: { env?: NodeJS.ProcessEnv; bin?: string } = {}): StoqProcess {
    const env = { ...process.env, ...opts.env };
    if (opts.env?.['STOQ_DATA_DIR'] === undefined) delete env['STOQ_DATA_DIR'];
    return new StoqProcess(spawn(process.execPath, [opts.bin ?? STOQ_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] }));
  }

  /** A `trustchain <args>` process. */
  static trustchain(args: string[], cwd: string): StoqProcess {
    return StoqProcess.start(args, cwd, { bin: TRUSTCHAIN_BIN });
  }

  /** Resolves with the first log line (past or future) matching `pred`; rejects if the process exits first. */
  waitFor(pred: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve });
      void this.exited.then((code) => reject(new Error(`stoq exited (code ${code}) before the expected log line`)));
    });
  }

  async stop(): Promise<number | string | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** The repository's example stoq.toml, bound to a free port, written into `dir`. */
export function writeExampleConfig(dir: string): void {
  const toml = readFileSync(join(__dirname, '..', '..', 'stoq.toml'), 'utf8').replace(/bind = "\[::1\]:4433"/, 'bind = "[::1]:0"');
  writeFileSync(join(dir, 'stoq.toml'), toml);
}

/** A `stoq node` on the example config in a fresh temp dir; resolves once it listens. */
export async function startExampleNode(prefix: string): Promise<{ dir: string; node: StoqProcess; address: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeExampleConfig(dir);
  const node = StoqProcess.start(['node', '--config', 'stoq.toml'], dir);
  const address = (await node.waitFor((l) => l.msg === 'stoq node listening')).address as string;
  return { dir, node, address };
}

export const NGAUGE_BIN = join(__dirname, '..', '..', 'apps', 'ngauge', 'bin', 'ngauge.js');

/** What a service needs to enroll with a running `trustchain serve` (its ready line's fields). */
export interface TrustChainEndpoints {
  readonly rootFingerprint: string;
  readonly stoq: string;
  readonly dns: string;
}

/**
 * Writes `<home>/<file>`: a stoq.toml for `instance` on its own free port, enrolling with the
 * TrustChain of `tc` (the root pinned by fingerprint), with a short discovery lease.
 */
export function writeServiceConfig(home: string, file: string, instance: string, tc: TrustChainEndpoints, leaseSeconds = 5): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, file),
    [
      '[node]',
      `name = "${instance}"`,
      'data_dir = "data"',
      '[transport]',
      'bind = "[::1]:0"',
      '[certificates]',
      `root_fingerprint = "${tc.rootFingerprint}"`,
      '[service]',
      `trustchain = "${tc.stoq}"`,
      `dns = "${tc.dns}"`,
      `lease_seconds = ${leaseSeconds}`,
      '',
    ].join('\n'),
  );
}

/** The `caesar` command (service and client). */
export const CAESAR_BIN = join(__dirname, '..', '..', 'apps', 'caesar', 'bin', 'caesar.js');

/** The `hypermesh` command (validator process). */
export const HYPERMESH_BIN = join(__dirname, '..', '..', 'apps', 'hypermesh', 'bin', 'hypermesh.js');

/**
 * Polls `probe` every 100 ms until it returns a value (not null), or fails after `timeoutMs`. It
 * waits for a condition to hold, never for a fixed time.
 */
export async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const v = await probe().catch((err: unknown) => {
      last = err;
      return null;
    });
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A one-time join token for `service` from the TrustChain whose data dir is `tcDir` (10 minutes). */
export async function joinToken(tcDir: string, service: string, cwd: string): Promise<string> {
  const r = await runTrustChain(['token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], cwd);
  if (r.code !== 0) throw new Error(`trustchain token create --service ${service} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

/** RPC clients with stored identities (`dialAs`), finding services through TrustChain's DNS; closed together. */
export class DnsClients {
  private readonly open: Array<{ rpc: RpcClient; transport: StoqTransport }> = [];

  constructor(private readonly dns: () => string) {}

  /** A client speaking as the identity in `identityDir` (one attempt per call: tests see every refusal). */
  async dialAs(identityDir: string): Promise<RpcClient> {
    const transport = StoqTransport.create({ identity: await storedIdentity(identityDir), bind: '[::]:0' });
    const rpc = new RpcClient({
      connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
      resolver: new DnsSrvResolver({ server: this.dns() as Ipv6Endpoint }),
      retry: { maxAttempts: 1 },
    });
    this.open.push({ rpc, transport });
    return rpc;
  }

  async closeAll(): Promise<void> {
    for (const c of this.open.splice(0)) {
      c.rpc.close();
      await c.transport.close();
    }
  }
}

/** 'OK', or the status name and message the call ended with (other errors are thrown). */
export async function statusOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (!isRpcError(err)) throw err;
    return `${statusName(err.code)}: ${err.message}`;
  }
}

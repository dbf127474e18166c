// Running `docker` / `docker compose` from the compose tests: whether the CLI, the Compose plugin
// and an engine are there (and why not), and a promise-returning runner.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const COMPOSE_FILE = join(ROOT, 'docker', 'compose.yaml');
/** CI sets it: a missing Docker CLI, plugin or engine is then a failure, not a skip. */
export const REQUIRE_DOCKER = process.env['STOQ_REQUIRE_DOCKER'] === '1';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** null when `docker compose` runs here; otherwise why not. */
export function composeUnavailable(): string | null {
  const cli = spawnSync('docker', ['--version'], { encoding: 'utf8' });
  if (cli.error || cli.status !== 0) return `no docker CLI (${cli.error?.message ?? firstLine(cli.stderr)})`;
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (plugin.status !== 0) return `no Docker Compose v2 plugin (docker compose version: ${firstLine(plugin.stderr || plugin.stdout)})`;
  return null;
}

/** null when a Docker engine answers; otherwise why not (the CLI or plugin missing, or the engine). */
export function engineUnavailable(): string | null {
  const noCompose = composeUnavailable();
  if (noCompose) return noCompose;
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 30_000 });
  if (info.status !== 0) return `no Docker engine reachable (docker info: ${firstLine(info.stderr) || info.error?.message || `exit ${info.status}`})`;
  return null;
}

/** Runs a command to completion, collecting its output (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `docker compose -f docker/compose.yaml <args>`. */
export function compose(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return run('docker', ['compose', '-f', COMPOSE_FILE, ...args], env);
}

/** Throws with the command's output unless it exited 0; returns its stdout. */
export function ok(r: Result, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`);
  return r.stdout;
}

// Shared first-run logic for `npm start` and `npm test` on a fresh clone: install npm
// dependencies if they are missing or older than the lockfile, then build (Rust addon + TS).
// Uses only Node built-ins, because it runs before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
export const root = join(dirname(self), '..');

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts, env: { ...process.env, ...opts.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function mustRun(cmd, args, opts) {
  const status = run(cmd, args, opts);
  if (status !== 0) {
    process.stderr.write(`\n${cmd} ${args.join(' ')} failed with exit code ${status}\n`);
    process.exit(status);
  }
}

export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  process.stderr.write('stoq: installing npm dependencies (first run)…\n');
  // `npm install`, not `npm ci`: it installs exactly what package-lock.json pins, but unlike ci
  // it tolerates @napi-rs/cli's optional per-platform packages that the registry never published
  // for some platforms (npm leaves them out of the lock file, and ci then refuses the lock).
  mustRun('npm', ['install', '--no-audit', '--no-fund']);
}

export function ensureBuilt() {
  // A wrong import between layers fails the build (scripts/module-boundaries.cjs says which).
  mustRun(process.execPath, [join(root, 'scripts', 'module-boundaries.cjs')]);
  process.stderr.write('stoq: building (incremental; the first build compiles the Rust engine and takes a few minutes)…\n');
  // Synchronous for the callers; the child streams Nx's output, minus replayed cache hits.
  mustRun(process.execPath, [self, '--nx-build']);
}

const ANSI = /\x1b\[[0-9;]*m/g;
const CACHED = /\[(local cache|remote cache|existing outputs match the cache, left as is)\]/;

/**
 * Runs the Nx build and streams its output, except the replayed logs of cache hits (Nx would
 * print the cached cargo log, "Finished … in 2m 01s", on every start): a cached task gets one
 * line, a task that ran shows its whole output.
 */
async function nxBuild() {
  const child = spawn('npx', ['nx', 'run-many', '-t', 'build', '--parallel=2', '--outputStyle=static'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  });
  let replaying = false;
  const cached = [];
  const progress = buildProgress();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const plain = line.replace(ANSI, '');
    const total = /Running target build for (\d+) projects?/.exec(plain);
    if (total) progress.total = Number(total[1]);
    const task = /^> nx run (\S+)/.exec(plain);
    if (task) {
      progress.done++; // static output: a task's header comes when it has finished
      replaying = CACHED.test(plain);
      if (replaying) cached.push(task[1]);
    } else if (/^\s*NX\s/.test(plain)) replaying = false; // Nx's summary
    if (!replaying) progress.print(`${line}\n`);
  });
  const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
  progress.stop();
  if (cached.length > 0) process.stderr.write(`stoq: up to date, not rebuilt: ${cached.join(', ')}\n`);
  return code ?? (signal ? 1 : 0);
}

/**
 * Progress while Nx builds: its static output shows a task only once it has finished, so the
 * first build (minutes of Rust) would otherwise be silent. On a terminal, a spinner line on
 * stderr (tasks done, elapsed); elsewhere a plain line every 30 s.
 */
function buildProgress() {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  let shown = false;
  const state = { total: 0, done: 0 };
  const elapsed = () => {
    const s = Math.round((Date.now() - started) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
  };
  const status = () => `stoq: building ${state.total ? `${state.done} of ${state.total} packages done` : '…'}, ${elapsed()}`;
  const clear = () => {
    if (shown) process.stderr.write('\r\x1b[K');
    shown = false;
  };
  const timer = setInterval(
    () => {
      if (tty) {
        clear();
        process.stderr.write(`${frames[frame++ % frames.length]} ${status()}`);
        shown = true;
      } else process.stderr.write(`${status()} (the first build compiles the Rust engine)\n`);
    },
    tty ? 120 : 30_000,
  );
  return Object.assign(state, {
    print(text) {
      clear();
      process.stdout.write(text);
    },
    stop() {
      clearInterval(timer);
      clear();
    },
  });
}

/**
 * Tracked files changed by a test run. `before` is a snapshot taken at the start (other people's
 * uncommitted edits are already in it), so only what changed during the run is reported.
 * Returns null outside a git checkout.
 */
export function trackedState() {
  const inside = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, encoding: 'utf8' });
  if (inside.status !== 0 || inside.stdout.trim() !== 'true') return null;
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).stdout;
  const files = status.split('\n').filter(Boolean).map((l) => l.slice(3).split(' -> ').pop());
  const present = files.filter((f) => existsSync(join(root, f)));
  const hashes = present.length
    ? spawnSync('git', ['hash-object', '--', ...present], { cwd: root, encoding: 'utf8' }).stdout.trim().split('\n')
    : [];
  const state = new Map(files.map((f) => [f, 'deleted']));
  present.forEach((f, i) => state.set(f, hashes[i]));
  return state;
}

export function changedSince(before) {
  const after = trackedState();
  if (before === null || after === null) return [];
  return [...new Set([...before.keys(), ...after.keys()])].filter((f) => before.get(f) !== after.get(f)).sort();
}

if (process.argv[2] === '--nx-build') process.exit(await nxBuild());

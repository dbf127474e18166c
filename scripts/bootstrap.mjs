// Shared first-run logic for `npm start` and `npm test` on a fresh clone: install npm
// dependencies if they are missing or older than the lockfile, then build (Rust addon + TS).
// Uses only Node built-ins, because it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

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
  process.stderr.write('stoq: building (incremental; the first build compiles the Rust engine and takes a few minutes)…\n');
  mustRun('npx', ['nx', 'run-many', '-t', 'build', '--parallel=2', '--outputStyle=static'], {
    env: { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  });
}

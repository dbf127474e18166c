// `npm prune --omit=dev` without npm (the image has only the node binary): removes every package
// package-lock.json marks as a development-only dependency from <app>/node_modules.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const app = process.argv[2];
const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
let removed = 0;
for (const [path, meta] of Object.entries(lock.packages ?? {})) {
  if (!path.startsWith('node_modules/') || !meta.dev) continue;
  rmSync(join(app, path), { recursive: true, force: true });
  removed++;
}
console.log(`prune-dev: removed ${removed} development package(s)`);

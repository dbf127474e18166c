// `npm start`: bring up the local STOQ node (and, as services land, the ecosystem) from stoq.toml.
import { ensureBuilt, ensureInstalled, root, run } from './bootstrap.mjs';
import { join } from 'node:path';

ensureInstalled();
ensureBuilt();
const args = process.argv.slice(2);
process.exit(run(process.execPath, [join(root, 'apps/stoq-cli/bin/stoq.js'), 'node', '--config', 'stoq.toml', ...args]));

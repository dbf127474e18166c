// `npm test`: the whole suite. Installs and builds on first run, then one Jest run over every
// package (unit, property, integration and cross-process e2e tests). Extra args go to Jest.
import { ensureBuilt, ensureInstalled, run } from './bootstrap.mjs';

ensureInstalled();
ensureBuilt();
process.exit(run('npx', ['jest', '--ci', ...process.argv.slice(2)]));

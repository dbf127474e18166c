// Builds everything `npm start` and `npm test` need, in dependency order, through Nx:
// the Rust addon in native/ (cargo, incremental) and every TypeScript package.
import { spawnSync } from 'node:child_process';

const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--parallel=2', '--outputStyle=static'], {
  stdio: 'inherit',
  env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
});
process.exit(r.status ?? 1);

// `npm start`: bring up the local ecosystem. Builds what is missing, then supervises:
//   1. TrustChain (`trustchain serve`, state in .stoq/ecosystem/trustchain): CA, revocation, CT
//      log, DNS for hypermesh. on [::1]:7440 (STOQ), [::1]:5354 (DNS), [::1]:7441 (CT HTTP);
//   2. a STOQ node (`stoq node`, state in .stoq/ecosystem/node) on [::1]:4433 that enrolls with
//      TrustChain on first start: the launcher mints its join token, as DESIGN.md's bootstrap says,
//      and writes its config (.stoq/ecosystem/node.toml) with the root fingerprint to pin.
// Logs of both go to stdout as JSON lines (each names its service). Ctrl-C / SIGTERM stops the
// node first (it deregisters), then TrustChain; if either dies, the other is stopped and the
// launcher exits 1. `npm start -- --dev-ca` runs only a node on the development CA (./stoq.toml).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureBuilt, ensureInstalled, root, run } from './bootstrap.mjs';

ensureInstalled();
ensureBuilt();
const args = process.argv.slice(2);
const STOQ = join(root, 'apps/stoq-cli/bin/stoq.js');
const TRUSTCHAIN = join(root, 'apps/trustchain/bin/trustchain.js');

if (args.includes('--dev-ca')) {
  process.exit(run(process.execPath, [STOQ, 'node', '--config', 'stoq.toml', ...args.filter((a) => a !== '--dev-ca')]));
}

const home = join(root, '.stoq', 'ecosystem');
const tcDir = join(home, 'trustchain');
const nodeDir = join(home, 'node');
mkdirSync(home, { recursive: true, mode: 0o700 });

const children = new Set();
let stopping = false;

/** Starts a child whose stdout lines are forwarded; resolves when `ready(line)` holds. */
function start(name, argv, ready, env = {}) {
  const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.add(child);
  return new Promise((resolve, reject) => {
    let up = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      process.stdout.write(`${line}\n`);
      if (up) return;
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      if (ready(parsed)) {
        up = true;
        resolve({ child, line: parsed });
      }
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (!up) reject(new Error(`${name} exited (${signal ?? code}) before it was ready`));
      else if (!stopping) {
        process.stderr.write(`stoq: ${name} exited (${signal ?? code}); stopping the rest\n`);
        void stopAll(1);
      }
    });
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

let node;
let tc;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  if (node) await stopChild(node);
  if (tc) await stopChild(tc);
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const t = await start('trustchain', [TRUSTCHAIN, 'serve', '--data-dir', tcDir], (l) => l.msg === 'trustchain serve ready');
  tc = t.child;
  const { rootFingerprint, stoq, dns } = t.line;

  // First start of the node: mint its join token (single use; burned by the enrollment).
  const tokenFile = join(home, 'node.token');
  if (!existsSync(join(nodeDir, 'identity', 'cert.pem'))) {
    const r = spawnSync(process.execPath, [TRUSTCHAIN, 'token', 'create', '--service', 'node', '--ttl', '10m', '--data-dir', tcDir], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`trustchain token create failed: ${r.stderr.trim()}`);
    writeFileSync(tokenFile, r.stdout.trim() + '\n', { mode: 0o600 });
  }
  writeFileSync(
    join(home, 'node.toml'),
    [
      '# Written by `npm start` on every start (scripts/start.mjs): a stoq node on TrustChain.',
      '[node]',
      'name = "node-1"',
      'data_dir = "node"',
      '[transport]',
      'bind = "[::1]:4433"',
      '[certificates]',
      `root_fingerprint = "${rootFingerprint}"`,
      '[service]',
      `trustchain = "${stoq}"`,
      `dns = "${dns}"`,
      'join_token_file = "node.token"',
      '',
    ].join('\n'),
  );
  const n = await start('stoq node', [STOQ, 'node', '--config', join(home, 'node.toml'), ...args], (l) => l.msg === 'stoq node listening');
  node = n.child;
  process.stderr.write(
    [
      '',
      `stoq: ecosystem up. TrustChain ${stoq} (DNS ${dns}, root sha256:${rootFingerprint}); node-1 ${n.line.address}`,
      `  npx stoq call node/echo --dns '${dns}' --identity .stoq/ecosystem/trustchain/admin --data '{"text":"hi"}'`,
      `  npx stoq ping --identity .stoq/ecosystem/trustchain/admin '${n.line.address}'`,
      `  dig @::1 -p ${dns.slice(dns.lastIndexOf(':') + 1)} SRV _stoq._udp.node.hypermesh`,
      `  npx trustchain certs list --data-dir .stoq/ecosystem/trustchain`,
      '',
    ].join('\n'),
  );
} catch (err) {
  process.stderr.write(`stoq: ${err.message}\n`);
  await stopAll(1);
}

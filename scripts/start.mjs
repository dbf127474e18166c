// `npm start`: bring up the local ecosystem. Builds what is missing, then supervises:
//   1. TrustChain (`trustchain serve`, state in .stoq/ecosystem/trustchain): CA, revocation, CT
//      log, DNS for hypermesh. on [::1]:7440 (STOQ), [::1]:5354 (DNS), [::1]:7441 (CT HTTP);
//   2. the services that enroll with it (SERVICES below): a STOQ node (`stoq node`) on [::1]:4433
//      and NGauge (monitoring, dashboard on http://[::1]:9464/) on [::1]:4434. On a service's first
//      start the launcher mints its join token, as DESIGN.md's bootstrap says; every start writes
//      its config (.stoq/ecosystem/<name>.toml) with the root fingerprint to pin.
// Logs go to stdout as JSON lines (each names its service). Ctrl-C / SIGTERM stops the services
// in reverse order (each deregisters), then TrustChain; if one dies, the rest are stopped and the
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

// The services that enroll with TrustChain, started in this order after it and stopped in the
// reverse order. Each gets <home>/<name>.toml (written on every start), its data dir <home>/<name>
// and, on its first start only, a join token in <home>/<name>.token.
const NGAUGE = join(root, 'apps/ngauge/bin/ngauge.js');
const SERVICES = [
  { name: 'node', instance: 'node-1', bind: '[::1]:4433', argv: (cfg) => [STOQ, 'node', '--config', cfg, ...args], ready: (l) => l.msg === 'stoq node listening' },
  {
    name: 'ngauge',
    instance: 'ngauge-1',
    bind: '[::1]:4434',
    argv: (cfg) => [NGAUGE, '--config', cfg, '--http', '[::1]:9464', '--rules', join(root, 'apps/ngauge/alerts.yaml')],
    ready: (l) => l.msg === 'NGauge serving',
  },
];

const running = [];
let tc;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of running.reverse()) await stopChild(child);
  if (tc) await stopChild(tc);
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/** Writes the service's config and, before its first enrollment, mints its join token. */
function prepare(svc, { rootFingerprint, stoq, dns }) {
  if (!existsSync(join(home, svc.name, 'identity', 'cert.pem'))) {
    const r = spawnSync(process.execPath, [TRUSTCHAIN, 'token', 'create', '--service', svc.name, '--ttl', '10m', '--data-dir', tcDir], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`trustchain token create --service ${svc.name} failed: ${r.stderr.trim()}`);
    writeFileSync(join(home, `${svc.name}.token`), r.stdout.trim() + '\n', { mode: 0o600 });
  }
  const config = join(home, `${svc.name}.toml`);
  writeFileSync(
    config,
    [
      `# Written by \`npm start\` on every start (scripts/start.mjs): ${svc.name} on TrustChain.`,
      '[node]',
      `name = "${svc.instance}"`,
      `data_dir = "${svc.name}"`,
      '[transport]',
      `bind = "${svc.bind}"`,
      '[certificates]',
      `root_fingerprint = "${rootFingerprint}"`,
      '[service]',
      `trustchain = "${stoq}"`,
      `dns = "${dns}"`,
      `join_token_file = "${svc.name}.token"`,
      '',
    ].join('\n'),
  );
  return config;
}

try {
  const t = await start('trustchain', [TRUSTCHAIN, 'serve', '--data-dir', tcDir], (l) => l.msg === 'trustchain serve ready');
  tc = t.child;
  const { rootFingerprint, stoq, dns } = t.line;
  const up = [['trustchain', 'trustchain-1', stoq]];
  let dashboard = null;
  for (const svc of SERVICES) {
    const s = await start(svc.name, svc.argv(prepare(svc, t.line)), svc.ready);
    running.push(s.child);
    up.push([svc.name, svc.instance, s.line.address ?? svc.bind]);
    if (svc.name === 'ngauge') dashboard = `http://${s.line.http}/`;
  }
  process.stderr.write(
    [
      '',
      `stoq: ecosystem up (root sha256:${rootFingerprint}, DNS ${dns})`,
      ...up.map(([name, instance, address]) => `  ${name.padEnd(11)} ${instance.padEnd(14)} ${address}`),
      `  dashboard   ${dashboard}`,
      '',
      `  npx stoq call node/echo --dns '${dns}' --identity .stoq/ecosystem/trustchain/admin --data '{"text":"hi"}'`,
      `  npx stoq call ngauge/targets --dns '${dns}' --identity .stoq/ecosystem/trustchain/admin`,
      `  dig @::1 -p ${dns.slice(dns.lastIndexOf(':') + 1)} PTR _services._dns-sd._udp.hypermesh`,
      `  npx trustchain certs list --data-dir .stoq/ecosystem/trustchain`,
      '',
    ].join('\n'),
  );
} catch (err) {
  process.stderr.write(`stoq: ${err.message}\n`);
  await stopAll(1);
}

// `npm start`: bring up the local ecosystem. Builds what is missing, then supervises:
//   1. TrustChain (`trustchain serve`): CA, revocation, CT log, DNS for hypermesh. on [::1]:7440
//      (STOQ), [::1]:5354 (DNS), [::1]:7441 (CT HTTP);
//   2. the services that enroll with it (SERVICES below): a STOQ node (`stoq node`) on [::1]:4433,
//      Caesar (the ledger) on [::1]:4435, four HyperMesh validators on [::1]:4441-4444 (their
//      genesis, <home>/hypermesh-genesis.json, written once from their enrolled FALCON keys) and
//      NGauge (monitoring, dashboard on http://[::1]:9464/) on [::1]:4434. On a service's first
//      start the launcher mints its join token, as DESIGN.md's bootstrap says; every start writes
//      its config (<home>/<name>.toml) with the root fingerprint to pin. Once Caesar answers, the
//      validators' staking accounts (and the mint/burn accounts) are created, funded and staked
//      as TrustChain's admin, so HyperMesh's block rewards and slashing have somewhere to go.
// State lives in <home> (default .stoq/ecosystem) and is reused by the next start: same
// identities, no new enrollment. <home>/cli is the CLI's own identity (service `cli`, enrolled
// with `stoq enroll`), the default of `stoq status` and `@stoq/client` programs run here. Each service's pino JSON log goes to <home>/logs/<name>.log
// (`npx stoq logs [service] [-f]` shows them merged and readable); the launcher prints progress
// and a status table.
// Supervision (the semantics of docker's `restart: unless-stopped` for what it restarts, and of
// systemd's Restart=on-failure / supervisord's autorestart=unexpected for what counts as a failure):
//   - a crash (a non-zero exit code, or death by a signal other than SIGTERM / SIGINT / SIGHUP,
//     e.g. `kill -9`) is reported as "exited unexpectedly" and restarted after 1, 2, 4... s (at
//     most 30 s); the fifth crash of one service within a minute stops the launcher with that
//     service's last log lines;
//   - a clean stop (exit code 0, which every service gives on SIGTERM / SIGINT after draining, or
//     death by one of those signals) is an operator's deliberate stop: reported as "stopped",
//     restarted after 1 s, never counted as a crash (`kill -TERM <pid>` restarts one service, e.g.
//     after moving its certificate away so that it enrolls again);
//   - every restart first does what a start does: the service's config is rewritten and, when its
//     identity is not usable (no certificate, or one that expires within a minute: `enrolled()`),
//     a new join token is minted, so a service whose certificate expired while it was down, or
//     that an operator un-enrolled, enrolls again.
// Ctrl-C / SIGTERM stops the services in reverse order (each deregisters), then TrustChain; each
// gets 20 s before SIGKILL, and a second Ctrl-C kills them all at once.
//
//   npm start [-- --home DIR] [--port-offset N] [--cert-lifetime DURATION] [--fresh [--yes]] [--dev-ca]
// --port-offset shifts every port (a second ecosystem beside the first; the tests use it).
// --cert-lifetime (or $STOQ_CERT_LIFETIME) is TrustChain's `serve --cert-lifetime`: the lifetime
// of the leaves it issues from now on (90s, 30m, 24h; default 24h), so every service renews at
// 2/3 of it; short ones make renewal easy to watch (tests-e2e/test/ecosystem.e2e.test.ts uses 2m).
// The CLI identity (<home>/cli) is renewed only by a start: with a short lifetime, renew it with
// `stoq enroll` (see that command's help) before it expires.
// `--dev-ca` runs only a node on the development CA (./stoq.toml).
// `--fresh` starts over: it deletes <home> (identities, TrustChain's root and keys, the ledgers,
// the logs) after the operator types "yes", or at once with `--yes`; never while a launcher runs
// on it (<home>/launcher.pid names the running one; a second launcher on the same home is refused
// too).
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ensureBuilt, ensureInstalled, root, run } from './bootstrap.mjs';

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: { home: { type: 'string' }, fresh: { type: 'boolean', default: false }, yes: { type: 'boolean', default: false }, 'port-offset': { type: 'string', default: '0' }, 'cert-lifetime': { type: 'string', ...(process.env.STOQ_CERT_LIFETIME ? { default: process.env.STOQ_CERT_LIFETIME } : {}) }, 'dev-ca': { type: 'boolean', default: false } },
  strict: true,
});
const offset = Number(opts['port-offset']);
if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) {
  process.stderr.write(`stoq: --port-offset must be an integer from 0 to 50000, got ${opts['port-offset']}\n`);
  process.exit(2);
}
const port = (p) => `[::1]:${p + offset}`;

const home = resolve(opts.home ?? join(root, '.stoq', 'ecosystem'));
const tcDir = join(home, 'trustchain');
const logs = join(home, 'logs');
const PID_FILE = join(home, 'launcher.pid');

/** The pid of a launcher running on `home`, or null (no pid file, or its process is gone or is something else). */
function runningLauncher() {
  let pid;
  try {
    pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start.mjs') ? pid : null;
  } catch {
    return null;
  }
}

// Before the build: a rebuild must not replace dist/ under a running ecosystem's processes.
if (!opts['dev-ca']) {
  const already = runningLauncher();
  if (already !== null) {
    process.stderr.write(`stoq: an ecosystem is already running from ${home} (launcher pid ${already}); stop it first (Ctrl-C in its terminal, or kill -INT ${already})\n`);
    process.exit(1);
  }
  if (opts.fresh && existsSync(home) && readdirSync(home).length > 0) {
    const what = `${home} (every identity, TrustChain's root and keys, the ledgers and the logs)`;
    if (!opts.yes) {
      if (!process.stdin.isTTY) {
        process.stderr.write(`stoq: --fresh deletes ${what}; stdin is not a terminal to confirm on: add --yes to confirm. Nothing was deleted.\n`);
        process.exit(2);
      }
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await new Promise((r) => rl.question(`stoq: --fresh deletes ${what}. Type yes to start over: `, r));
      rl.close();
      if (String(answer).trim() !== 'yes') {
        process.stderr.write('stoq: not confirmed; nothing was deleted.\n');
        process.exit(1);
      }
    }
    rmSync(home, { recursive: true, force: true });
    process.stderr.write(`stoq: deleted ${home}; starting over\n`);
  }
}
ensureInstalled();
ensureBuilt();
const STOQ = join(root, 'apps/stoq-cli/bin/stoq.js');
const TRUSTCHAIN = join(root, 'apps/trustchain/bin/trustchain.js');
const NGAUGE = join(root, 'apps/ngauge/bin/ngauge.js');
const CAESAR = join(root, 'apps/caesar/bin/caesar.js');
const HYPERMESH = join(root, 'apps/hypermesh/bin/hypermesh.js');
const CATALOG = join(root, 'apps/catalog/bin/catalog.js');


if (opts['dev-ca']) process.exit(run(process.execPath, [STOQ, 'node', '--config', 'stoq.toml']));

mkdirSync(logs, { recursive: true, mode: 0o700 });
writeFileSync(PID_FILE, `${process.pid}\n`, { mode: 0o600 });
process.on('exit', () => {
  try {
    if (readFileSync(PID_FILE, 'utf8').trim() === String(process.pid)) unlinkSync(PID_FILE);
  } catch {
    // gone already
  }
});

const GENESIS = join(home, 'hypermesh-genesis.json');
/** HyperMesh's four-proof rules: the stake-attestation key is Caesar's (written before the validators start). */
const FOUR_PROOF = join(home, 'hypermesh-four-proof.json');
/**
 * Caesar's side of HyperMesh rewards and slashing: the staking ledger's mint and burn accounts and
 * one staking account per genesis validator (hypermesh-i → 900000010 + i), created, funded and
 * staked by TrustChain's admin before the validators start (fixed ids: later starts get "exists").
 */
const MINT_ACCOUNT = '900000001';
const BURN_ACCOUNT = '900000002';
const validatorAccount = (i) => String(900000010 + i);
const VALIDATOR_FUNDS = '1000000';
const VALIDATOR_STAKE = '100000';
/** HyperMesh's genesis validators (N = 3f + 1 = 4), each its own process. */
const VALIDATORS = [1, 2, 3, 4].map((i) => ({
  name: `hypermesh-${i}`,
  service: 'hypermesh',
  instance: `hypermesh-${i}`,
  bind: port(4440 + i),
  argv: (cfg) => [HYPERMESH, 'serve', '--config', cfg, '--genesis', GENESIS, '--four-proof', FOUR_PROOF],
  ready: (l) => l.msg === 'hypermesh validator ready',
}));

// The services that enroll with TrustChain, started in this order after it and stopped in the
// reverse order. Each gets <home>/<name>.toml (written on every start), its data dir <home>/<name>
// and, on its first start only, a join token in <home>/<name>.token.
const SERVICES = [
  { name: 'node', instance: 'node-1', bind: port(4433), argv: (cfg) => [STOQ, 'node', '--config', cfg], ready: (l) => l.msg === 'stoq node listening' },
  { name: 'caesar', instance: 'caesar-1', bind: port(4435), argv: (cfg) => [CAESAR, 'serve', '--config', cfg, '--hypermesh-genesis', GENESIS, '--operator', 'catalog', '--mint-account', MINT_ACCOUNT, '--burn-account', BURN_ACCOUNT, '--reward-per-block', '100', ...[1, 2, 3, 4].flatMap((i) => ['--validator-account', `hypermesh-${i}=${validatorAccount(i)}`])], ready: (l) => l.msg === 'caesar serving' },
  ...VALIDATORS,
  // Catalog bills through Caesar (an operator there) and registers programs as HyperMesh assets.
  { name: 'catalog', instance: 'catalog-1', bind: port(4436), argv: (cfg) => [CATALOG, 'serve', '--config', cfg, '--register-assets'], ready: (l) => l.msg === 'catalog serving' },
  {
    name: 'ngauge',
    instance: 'ngauge-1',
    bind: port(4434),
    argv: (cfg) => [NGAUGE, '--config', cfg, '--http', port(9464), '--rules', join(root, 'apps/ngauge/alerts.yaml')],
    ready: (l) => l.msg === 'NGauge serving',
  },
];

const RESTART_MAX_MS = 30_000;
const CRASHES_TO_GIVE_UP = 5;
const CRASH_WINDOW_MS = 60_000;
const say = (line) => process.stderr.write(`stoq: ${line}\n`);
let stopping = false;
/** name → { child, spec } of what runs now. */
const running = new Map();

/**
 * Whether the identity in `dir` can still be used or renewed with its own certificate: present
 * and not expired. Otherwise (first start, or a stop longer than a certificate's life) the service
 * must enroll afresh with a new join token.
 */
function enrolled(dir) {
  const cert = join(dir, 'identity', 'cert.pem');
  if (!existsSync(cert)) return false;
  return new Date(new X509Certificate(readFileSync(cert)).validTo).getTime() > Date.now() + 60_000;
}

/** `stoq status` of the running ecosystem as indented lines, or null (it failed: the caller lists what it started). */
function statusTable(dns, cliDir) {
  return new Promise((resolveTable) => {
    const child = spawn(process.execPath, [STOQ, 'status', '--dns', dns, '--identity', cliDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => resolveTable(null));
    child.on('close', (code) => {
      const lines = out.trimEnd().split('\n').filter(Boolean);
      if (code !== 0 && lines.length === 0) resolveTable(null);
      else resolveTable(lines.map((l) => `  ${l}`));
    });
  });
}

/** A new one-time join token for `service`. */
function mintToken(service) {
  const target = service === 'admin' ? ['--admin'] : ['--service', service];
  const r = spawnSync(process.execPath, [TRUSTCHAIN, 'token', 'create', ...target, '--ttl', '10m', '--data-dir', tcDir], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`trustchain token create ${target.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The last `n` lines of a service's log file. */
function tail(name, n = 15) {
  try {
    return readFileSync(join(logs, `${name}.log`), 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

/** The last line of a service's log, shortened to its message (and error) when it is pino JSON. */
function lastWords(name) {
  const line = tail(name, 1)[0] ?? '(its log is empty)';
  try {
    const l = JSON.parse(line);
    return [l.msg, l.err?.message ?? l.error].filter(Boolean).join(': ') || line;
  } catch {
    return line;
  }
}

/**
 * Starts one process; its stdout (pino JSON) goes to <home>/logs/<name>.log. Resolves with the
 * first line that satisfies `ready`; rejects if the process exits before that.
 */
function launch(spec) {
  const out = createWriteStream(join(logs, `${spec.name}.log`), { flags: 'a', mode: 0o600 });
  // Its own process group: a terminal's Ctrl-C reaches only the launcher, which stops the
  // services one by one in reverse order (each deregisters through TrustChain, which goes last).
  const child = spawn(process.execPath, spec.argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(spec.env ?? {}) }, detached: true });
  child.stderr.pipe(out, { end: false });
  running.set(spec.name, { child, spec });
  return new Promise((resolveReady, reject) => {
    let up = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      out.write(`${line}\n`);
      if (up) return;
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      if (spec.ready(parsed)) {
        up = true;
        resolveReady(parsed);
      }
    });
    // 'close', not 'exit': its stdout and stderr are drained by then, and once the log file has
    // them (out.end's callback) tail() shows the lines that explain the exit.
    child.on('close', (code, signal) => out.end(() => {
      if (running.get(spec.name)?.child === child) running.delete(spec.name);
      if (!up) reject(new Error(`${spec.name} exited (${signal ?? code}) before it was ready: ${lastWords(spec.name)}; its log ends:\n  ${tail(spec.name).join('\n  ')}`));
      else if (stopping) return;
      else if (code === 0 || CLEAN_STOP_SIGNALS.has(signal)) void stopped(spec, signal ?? code);
      else void crashed(spec, signal ?? code);
    }));
  });
}

/** Deaths by these signals are stops someone asked for (systemd's Restart=on-failure agrees), not crashes. */
const CLEAN_STOP_SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGHUP']);
/** The delay before restarting a service that stopped cleanly (no backoff: it did not fail). */
const RESTART_AFTER_STOP_MS = 1000;
const crashes = new Map();

/**
 * A crash: counted (the fifth within CRASH_WINDOW_MS stops the launcher), then a restart after a
 * backoff of 1, 2, 4... s.
 */
async function crashed(spec, how) {
  const now = Date.now();
  const recent = (crashes.get(spec.name) ?? []).filter((t) => now - t < CRASH_WINDOW_MS);
  recent.push(now);
  crashes.set(spec.name, recent);
  if (recent.length >= CRASHES_TO_GIVE_UP) {
    say(`${spec.name} crashed ${recent.length} times within a minute (last: ${how}); stopping. Its log ends:\n  ${tail(spec.name).join('\n  ')}`);
    await stopAll(1);
    return;
  }
  const delay = Math.min(RESTART_MAX_MS, 1000 * 2 ** (recent.length - 1));
  say(`${spec.name} exited unexpectedly (${how}); restarting in ${delay / 1000} s`);
  await restart(spec, delay);
}

/** A clean stop (exit 0, or SIGTERM/SIGINT/SIGHUP) that the launcher did not ask for: not a crash. */
async function stopped(spec, how) {
  say(`${spec.name} stopped (${how === 0 ? 'exit 0' : how}), not by the launcher; restarting in ${RESTART_AFTER_STOP_MS / 1000} s`);
  await restart(spec, RESTART_AFTER_STOP_MS);
}

/**
 * After `delay`, starts the service again as a first start does: `spec.prepare()` rewrites its
 * config and mints a join token when its identity is no longer usable. A failure to prepare or
 * to come up is a crash.
 */
async function restart(spec, delay) {
  await new Promise((r) => setTimeout(r, delay));
  if (stopping) return;
  try {
    if (spec.prepare?.()) say(`${spec.name}: its certificate is missing or expires within a minute; minted a new join token`);
    await launch(spec);
    say(`${spec.name} restarted`);
  } catch (err) {
    void crashed(spec, err.message.split('\n')[0]);
  }
}

/** SIGTERM, and SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
const STOP_TIMEOUT_MS = 20_000;
/** Resolves with how it ended: its exit code, or the signal that killed it. */
function stopChild(child, name) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((r) => {
    const kill = setTimeout(() => {
      say(`${name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`);
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    child.once('exit', (exitCode, signal) => {
      clearTimeout(kill);
      r(signal ?? exitCode);
    });
    child.kill('SIGTERM');
  });
}

function killAll() {
  for (const { child } of running.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
// Whatever ends the launcher, no service outlives it.
process.on('exit', killAll);

async function stopAll(code) {
  if (stopping) {
    say('stopping now (SIGKILL)');
    killAll();
    process.exit(code || 130);
  }
  stopping = true;
  // Reverse start order (a restarted service keeps its place).
  // Each service's own exit status is reported (an orderly stop is exit 0 for every service).
  for (const name of ['trustchain', ...SERVICES.map((s) => s.name)].reverse()) {
    const r = running.get(name);
    if (!r) continue;
    say(`stopping ${name}`);
    const how = await stopChild(r.child, name);
    say(how === 0 ? `${name} stopped (exit 0)` : `${name} did not stop cleanly (${typeof how === 'number' ? `exit ${how}` : how})`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/**
 * Writes the service's config and, when its identity is not usable (first start, or a certificate
 * gone or expiring: `enrolled()`), mints its join token. Returns { config, minted }.
 */
function prepare(svc, { rootFingerprint, stoq, dns }) {
  const minted = !enrolled(join(home, svc.name));
  if (minted) writeFileSync(join(home, `${svc.name}.token`), `${mintToken(svc.service ?? svc.name)}\n`, { mode: 0o600 });
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
  return { config, minted };
}

/**
 * The validators' four-proof rules, from Caesar's current FALCON key (Caesar runs by now): stake
 * attestations in proof sets must be Caesar's. Rewritten when the key differs (say so).
 */
function writeFourProofRules() {
  // `hypermesh four-proof` owns the rules format (the compose bootstrap runs the same command).
  const r = spawnSync(process.execPath, [HYPERMESH, 'four-proof', '--ledger-falcon-key', join(home, 'caesar', 'identity', 'falcon.pub'), '--out', `${FOUR_PROOF}.new`], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hypermesh four-proof failed: ${r.stderr.trim()}`);
  const rules = readFileSync(`${FOUR_PROOF}.new`, 'utf8');
  const before = existsSync(FOUR_PROOF) ? readFileSync(FOUR_PROOF, 'utf8') : null;
  if (before !== null && before !== rules) say(`Caesar's FALCON key changed: rewriting ${FOUR_PROOF}`);
  renameSync(`${FOUR_PROOF}.new`, FOUR_PROOF);
}

/**
 * The validators' staking accounts in Caesar (see MINT_ACCOUNT): as TrustChain's admin, through
 * the typed client, once Caesar answers by name. Idempotent; a refusal other than "exists" stops
 * the launcher with its code.
 */
async function provisionValidatorStakes(dns) {
  const { connect } = await import('@stoq/client');
  const caesar = await connect('caesar', { identity: join(tcDir, 'admin'), dns });
  const OK = 0;
  const ACCOUNT_EXISTS = 15;
  const TRANSFER_EXISTS = 43;
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await caesar.whoAmI({});
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Caesar is not reachable by name to create the validators' staking accounts: ${err.message}`);
        await new Promise((r) => setTimeout(r, 200)); // polling for DNS registration, with a deadline
      }
    }
    const ids = [1, 2, 3, 4].map(validatorAccount);
    const accounts = [{ id: MINT_ACCOUNT, ledger: 1, code: 1, flags: 1 << 14 }, { id: BURN_ACCOUNT, ledger: 1, code: 1, flags: 1 << 15 }, ...ids.map((id) => ({ id, ledger: 1, code: 1 }))];
    const created = await caesar.createAccounts({ accounts });
    (created.results ?? []).forEach((r, i) => {
      if (r !== OK && r !== ACCOUNT_EXISTS) throw new Error(`caesar create_accounts refused account ${accounts[i].id} (result ${r})`);
    });
    const funded = await caesar.createTransfers({ transfers: ids.map((id, i) => ({ id: String(900000101 + i), debitAccountId: MINT_ACCOUNT, creditAccountId: id, amount: VALIDATOR_FUNDS, ledger: 1, code: 1 })) });
    (funded.results ?? []).forEach((r, i) => {
      if (r !== OK && r !== TRANSFER_EXISTS) throw new Error(`caesar create_transfers refused funding ${ids[i]} (result ${r})`);
    });
    for (const [i, id] of ids.entries()) {
      const staked = await caesar.stake({ ownerAccountId: id, amount: VALIDATOR_STAKE, transferId: String(900000201 + i) });
      if ((staked.result ?? 0) !== 0) throw new Error(`caesar stake for ${id} refused (result ${staked.result}, transfer result ${staked.transferResult})`);
    }
  } finally {
    await caesar.close();
  }
}

try {
  say(`starting TrustChain (state in ${tcDir})`);
  const tcSpec = {
    name: 'trustchain',
    // Earned certificates are approved by HyperMesh's genesis validators (read once the file exists).
    // --cert-lifetime is checked by TrustChain (5s..30d), which names the flag in its error.
    argv: [TRUSTCHAIN, 'serve', '--data-dir', tcDir, '--bind', port(7440), '--dns-bind', port(5354), '--ct-http-bind', port(7441), '--hypermesh-genesis', GENESIS, ...(opts['cert-lifetime'] ? ['--cert-lifetime', opts['cert-lifetime']] : [])],
    ready: (l) => l.msg === 'trustchain serve ready',
  };
  const t = await launch(tcSpec);
  const { rootFingerprint, stoq, dns } = t;
  // The client identities for `stoq` commands and `@stoq/client` programs run here, each enrolled
  // with its own join token on the first start and renewed by later starts when due: `cli` (what
  // they use by default) and an administrator, `admin/admin-cli` (only with --admin or
  // { admin: true }; its token is an admin token, `trustchain token create --admin`).
  const enrollClient = (dir, service, instance) => {
    const token = enrolled(dir) ? [] : ['--token', mintToken(service)];
    const r = spawnSync(process.execPath, [STOQ, 'enroll', '--trustchain', stoq, '--root-fingerprint', rootFingerprint, '--service', service, '--instance', instance, '--data-dir', dir, ...token], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`stoq enroll (${service}/${instance}) failed: ${r.stderr.trim()}`);
  };
  const cliDir = join(home, 'cli');
  enrollClient(cliDir, 'cli', 'cli-1');
  enrollClient(join(home, 'admin'), 'admin', 'admin-cli');
  const up = [['trustchain', 'trustchain-1', stoq]];
  let dashboard = null;
  // HyperMesh's genesis needs every validator's FALCON key: each enrolls first (once), then one
  // genesis file is written for all (once; it is never replaced).
  for (const v of VALIDATORS) {
    const { config: cfg } = prepare(v, t);
    if (!enrolled(join(home, v.name))) {
      say(`enrolling ${v.name}`);
      const r = spawnSync(process.execPath, [HYPERMESH, 'enroll', '--config', cfg], { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`hypermesh enroll (${v.name}) failed: ${r.stderr.trim()}`);
    }
  }
  if (!existsSync(GENESIS)) {
    const r = spawnSync(process.execPath, [HYPERMESH, 'genesis', '--chain-id', 'hypermesh-1', '--out', GENESIS, ...VALIDATORS.flatMap((v) => ['--config', join(home, `${v.name}.toml`)])], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`hypermesh genesis failed: ${r.stderr.trim()}`);
  }
  for (const svc of SERVICES) {
    if (svc.service === 'hypermesh') writeFourProofRules();
    say(`starting ${svc.name}`);
    // The restart path prepares again (a new token if the certificate expired while it was down).
    const ready = await launch({ ...svc, argv: svc.argv(prepare(svc, t).config), prepare: () => prepare(svc, t).minted });
    up.push([svc.service ?? svc.name, svc.instance, ready.address ?? ready.stoq ?? svc.bind]);
    if (svc.name === 'ngauge') dashboard = `http://${ready.http}/`;
    if (svc.name === 'caesar') await provisionValidatorStakes(dns);
  }
  // The status table: what `stoq status` shows (service, instance, address, health, certificate
  // fingerprint and expiry), from TrustChain DNS and each instance's health; the plain list of
  // what was started if it cannot be had.
  const table = await statusTable(dns, cliDir);
  process.stderr.write(
    [
      '',
      `stoq: ecosystem up (root sha256:${rootFingerprint}, DNS ${dns}, state ${home})`,
      ...(table ?? up.map(([name, instance, address]) => `  ${name.padEnd(11)} ${instance.padEnd(14)} ${address}`)),
      `  dashboard   ${dashboard}`,
      '',
      '  npx stoq status                 every instance, its health and certificate',
      '  npx stoq logs -f                the services\' logs, merged',
      `  npx stoq call node/echo --dns '${dns}' --identity ${cliDir} --data '{"text":"hi"}'`,
      '  node examples/pay-with-caesar.mjs   a typed client (@stoq/client) paying through Caesar',
      `  dig @::1 -p ${dns.slice(dns.lastIndexOf(':') + 1)} PTR _services._dns-sd._udp.hypermesh`,
      '',
    ].join('\n'),
  );
} catch (err) {
  say(err.message);
  await stopAll(1);
}

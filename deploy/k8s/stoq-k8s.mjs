// The Kubernetes bootstrap of deploy/k8s: what docker/image/stoq-compose.mjs does for compose, for
// pods whose data dirs are ReadWriteOnce volumes on different nodes. Mounted from a ConfigMap at
// /etc/stoq-k8s/ and run with the image's node; it only calls the image's own CLIs (trustchain,
// stoq, hypermesh) and, for the validators' staking accounts, stoq-compose.mjs validator-setup.
//
// The hand-over goes through the `shared` volume (ReadWriteMany), mounted in every pod at
// /ecosystem/.stoq/ecosystem — the layout of `npm start`'s ecosystem folder (root-fingerprint,
// hypermesh-genesis.json, hypermesh-four-proof.json, cli/) plus k8s/:
//   k8s/requests/<instance>      a pod that is not enrolled asks for a join token
//   k8s/tokens/<instance>.token  the broker's answer (0600; the pod moves it into its data dir)
//   k8s/keys/<instance>.pub      FALCON public keys: the validators' (for the genesis) and
//                                Caesar's (for the four-proof rules)
//   k8s/validator-setup.done     the Caesar key the four-proof rules and stakes were made for
// TrustChain's admin identity never leaves TrustChain's pod: the broker runs there.
//
//   node stoq-k8s.mjs broker --instance INSTANCE=SERVICE... --validators N
//     (TrustChain's pod, beside `trustchain serve`) forever: the root fingerprint; a join token
//     for each request from the table; the CLI identity; the genesis once all N validator keys
//     are published (never replaced); the four-proof rules and the validators' stakes once
//     Caesar's key is published (again only when it changes).
//   node stoq-k8s.mjs init --service S (--instance I | --ordinal-instance PREFIX) --port P --dir D
//        [--enroll] [--wait FILE]... [--wait-healthy SERVICE]...
//     (an init container of every other pod) writes D/service.toml (bind [::]:P, advertise the
//     pod's IPv6 address, TrustChain's Service address resolved from cluster DNS), gets a join
//     token through the broker unless the identity in D is usable, and with --enroll enrolls now
//     (`hypermesh enroll`) and publishes the FALCON key; then waits for the files and services.
//   node stoq-k8s.mjs publish-key --instance I --dir D
//     (a sidecar) publishes D/identity/falcon.pub as k8s/keys/I.pub whenever it appears or changes.
// Every wait polls with a deadline and exits 1 when it passes, so the kubelet restarts the step
// with its back-off; every step skips what exists, so pod restarts reuse identities and ledgers.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// The image's paths; the environment overrides them only to try the steps outside a cluster.
const APP = process.env.STOQ_K8S_APP ?? '/app';
const SHARED = process.env.STOQ_K8S_SHARED ?? '/ecosystem/.stoq/ecosystem';
const K8S = join(SHARED, 'k8s');
const REQUESTS = join(K8S, 'requests');
const TOKENS = join(K8S, 'tokens');
const KEYS = join(K8S, 'keys');
const SETUP_DONE = join(K8S, 'validator-setup.done');
const GENESIS = join(SHARED, 'hypermesh-genesis.json');
const FOUR_PROOF = join(SHARED, 'hypermesh-four-proof.json');
const ROOT_FINGERPRINT = join(SHARED, 'root-fingerprint');
const CLI_DIR = join(SHARED, 'cli');
const TRUSTCHAIN_DIR = process.env.STOQ_K8S_TRUSTCHAIN_DIR ?? '/var/lib/stoq/trustchain';
const STOQ_PORT = 7440;
const DNS_PORT = 5354;
const POLL_MS = 2000;
const WAIT_MS = Number(process.env.STOQ_K8S_WAIT_SECONDS ?? 600) * 1000;
const bin = {
  stoq: join(APP, 'apps/stoq-cli/bin/stoq.js'),
  trustchain: join(APP, 'apps/trustchain/bin/trustchain.js'),
  hypermesh: join(APP, 'apps/hypermesh/bin/hypermesh.js'),
  compose: join(APP, 'docker/stoq-compose.mjs'),
};
const say = (line) => process.stderr.write(`stoq-k8s: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a script with node; its trimmed stdout, or an error naming the command and its stderr. */
function run(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script.split('/').pop()} ${args.slice(0, 2).join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

/** As scripts/start.mjs and stoq-compose.mjs: usable while its certificate has a minute left. */
function enrolled(dir) {
  const cert = join(dir, 'identity', 'cert.pem');
  if (!existsSync(cert)) return false;
  return new Date(new X509Certificate(readFileSync(cert)).validTo).getTime() > Date.now() + 60_000;
}

function writeAtomic(path, text, mode = 0o644) {
  writeFileSync(`${path}.tmp`, text, { mode });
  renameSync(`${path}.tmp`, path);
}

const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : null);

/** Polls `check` until it returns a value other than undefined/false; exit 1 after the deadline. */
async function waitFor(what, check) {
  const deadline = Date.now() + WAIT_MS;
  let said = false;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${WAIT_MS / 1000} s (the kubelet restarts this step)`);
    if (!said) say(`waiting for ${what}`);
    said = true;
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------- broker (TrustChain's pod)

const ADMIN = join(TRUSTCHAIN_DIR, 'admin');
const LOCAL_TRUSTCHAIN = `[::1]:${STOQ_PORT}`;
const LOCAL_DNS = `[::1]:${DNS_PORT}`;

/** A join token from the running TrustChain, asked as its admin (trustchain/create_token). */
function mintToken(service) {
  const out = run(bin.stoq, ['call', 'trustchain/create_token', '--target', LOCAL_TRUSTCHAIN, '--server-name', 'trustchain.hypermesh', '--identity', ADMIN, '--timeout', '10000', '--data', JSON.stringify({ service, ttlSeconds: 600 })]);
  const token = JSON.parse(out).token;
  if (typeof token !== 'string' || token === '') throw new Error(`trustchain/create_token answered no token: ${out}`);
  return token;
}

const CLI_RENEW_CHECK_MS = 10 * 60_000;

function brokerPass(table, validators, fingerprint, state) {
  if (read(ROOT_FINGERPRINT) !== `${fingerprint}\n`) writeAtomic(ROOT_FINGERPRINT, `${fingerprint}\n`);
  for (const d of [REQUESTS, TOKENS, KEYS]) mkdirSync(d, { recursive: true });
  // Join tokens, only for the instances of the table (a request names nothing else).
  for (const instance of readdirSync(REQUESTS)) {
    const service = table.get(instance);
    const tokenFile = join(TOKENS, `${instance}.token`);
    if (!service) {
      say(`ignoring a token request for ${instance}: not in the broker's --instance table`);
      rmSync(join(REQUESTS, instance), { force: true });
    } else if (!existsSync(tokenFile)) {
      say(`join token for ${instance} (${service})`);
      writeAtomic(tokenFile, `${mintToken(service)}\n`, 0o600);
    }
  }
  // The CLI identity, in the ecosystem folder as compose keeps it (`stoq` finds it there).
  // Run again every 10 minutes: `stoq enroll` renews an identity past 2/3 of its life.
  if (!enrolled(CLI_DIR) || Date.now() - state.cliCheckedAt > CLI_RENEW_CHECK_MS) {
    const cliToken = enrolled(CLI_DIR) ? [] : ['--token', mintToken('cli')];
    run(bin.stoq, ['enroll', '--trustchain', LOCAL_TRUSTCHAIN, '--root-fingerprint', fingerprint, '--service', 'cli', '--instance', 'cli-1', '--data-dir', CLI_DIR, ...cliToken]);
    state.cliCheckedAt = Date.now();
  }
  // The genesis, from the validators' published keys, once all of them are there.
  const names = [...table].filter(([, s]) => s === 'hypermesh').map(([i]) => i).sort();
  if (names.length !== validators) throw new Error(`--validators ${validators} but the table names ${names.length} hypermesh instances`);
  if (!existsSync(GENESIS) && names.every((n) => existsSync(join(KEYS, `${n}.pub`)))) {
    say(`writing ${GENESIS} (${names.join(', ')})`);
    rmSync(`${GENESIS}.tmp`, { force: true });
    run(bin.hypermesh, ['genesis', '--chain-id', 'hypermesh-1', '--out', `${GENESIS}.tmp`, ...names.flatMap((n) => ['--validator', `${n}=${join(KEYS, `${n}.pub`)}`])]);
    renameSync(`${GENESIS}.tmp`, GENESIS);
  }
  // Once Caesar's key is published: stoq-compose.mjs validator-setup (the four-proof rules and
  // the staking accounts, same ids and amounts as compose and npm start). It reads Caesar's key
  // from /var/lib/stoq/caesar/identity/ (an emptyDir here) and TrustChain's admin identity.
  const caesarKey = [...table].find(([, s]) => s === 'caesar')?.[0];
  const key = caesarKey ? read(join(KEYS, `${caesarKey}.pub`)) : null;
  if (key !== null && read(SETUP_DONE) !== key) {
    mkdirSync('/var/lib/stoq/caesar/identity', { recursive: true });
    writeFileSync('/var/lib/stoq/caesar/identity/falcon.pub', key);
    say('validator-setup: four-proof rules and staking accounts');
    run(bin.compose, ['validator-setup', '--dns', LOCAL_DNS]);
    writeAtomic(SETUP_DONE, key);
  }
}

async function broker(argv) {
  const { values } = parseArgs({ args: argv, options: { instance: { type: 'string', multiple: true }, validators: { type: 'string' } }, strict: true });
  const table = new Map((values.instance ?? []).map((s) => {
    const m = /^([a-z0-9-]+)=([a-z0-9-]+)$/.exec(s);
    if (!m) throw new Error(`--instance ${s}: expected INSTANCE=SERVICE`);
    return [m[1], m[2]];
  }));
  const validators = Number(values.validators ?? 0);
  if (table.size === 0 || !Number.isInteger(validators) || validators < 1) throw new Error('broker needs --instance INSTANCE=SERVICE... and --validators N');
  // TrustChain starts beside this container: wait for its root and its answer, then serve forever.
  await waitFor('TrustChain (its root and its health RPC)', () => {
    if (!existsSync(join(TRUSTCHAIN_DIR, 'ca', 'root.pem'))) return false;
    const r = spawnSync(process.execPath, [bin.stoq, 'call', 'trustchain/health', '--target', LOCAL_TRUSTCHAIN, '--server-name', 'trustchain.hypermesh', '--identity', ADMIN, '--timeout', '5000'], { encoding: 'utf8' });
    return r.status === 0;
  });
  // The root is created once and never replaced.
  const fingerprint = run(bin.trustchain, ['ca', 'fingerprint', '--data-dir', TRUSTCHAIN_DIR]).replace(/^sha256:/, '');
  const state = { cliCheckedAt: 0 };
  let failing = false;
  for (;;) {
    try {
      brokerPass(table, validators, fingerprint, state);
      if (failing) say('broker pass succeeded again');
      failing = false;
    } catch (err) {
      // Stay up: a pass fails while Caesar is not reachable yet; the next one retries.
      if (!failing) say(`broker pass failed (retrying every ${POLL_MS / 1000} s): ${err.message}`);
      failing = true;
    }
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------- init (every other pod)

/** The pod's IPv6 address from the downward API (status.podIPs): STOQ is IPv6-only. */
function podIpv6() {
  const ips = (process.env.POD_IPS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const v6 = ips.find((ip) => ip.includes(':'));
  if (!v6) throw new Error(`the pod has no IPv6 address (status.podIPs = "${process.env.POD_IPS ?? ''}"); STOQ needs an IPv6 or dual-stack cluster`);
  return v6;
}

async function init(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      service: { type: 'string' }, instance: { type: 'string' }, 'ordinal-instance': { type: 'string' }, port: { type: 'string' }, dir: { type: 'string' },
      enroll: { type: 'boolean' }, wait: { type: 'string', multiple: true }, 'wait-healthy': { type: 'string', multiple: true },
    },
    strict: true,
  });
  const { service, port, dir } = values;
  if (!service || !port || !dir || !(values.instance || values['ordinal-instance'])) throw new Error('init needs --service, --instance or --ordinal-instance, --port and --dir');
  let instance = values.instance;
  if (!instance) {
    // A StatefulSet pod <name>-<ordinal> is instance <prefix>-<ordinal + 1> (validator-0 → hypermesh-1).
    const m = /-(\d+)$/.exec(process.env.HOSTNAME ?? '');
    if (!m) throw new Error(`--ordinal-instance: the pod name ${process.env.HOSTNAME} ends in no ordinal`);
    instance = `${values['ordinal-instance']}-${Number(m[1]) + 1}`;
  }
  const tcName = process.env.STOQ_TRUSTCHAIN_SERVICE ?? 'trustchain';
  const tc = await waitFor(`the address of Service ${tcName}`, () => lookup(tcName, { family: 6 }).then((r) => r.address, () => false));
  const fingerprint = (await waitFor(`${ROOT_FINGERPRINT} (TrustChain's broker writes it)`, () => read(ROOT_FINGERPRINT) ?? false)).trim();
  const advertise = `[${podIpv6()}]:${port}`;
  writeAtomic(
    join(dir, 'service.toml'),
    [
      '# Written by deploy/k8s/stoq-k8s.mjs init at every start of the pod.',
      '[node]',
      `name = "${instance}"`,
      `data_dir = "${dir}"`,
      '[transport]',
      `bind = "[::]:${port}"`,
      '[certificates]',
      `root_fingerprint = "${fingerprint}"`,
      '[service]',
      `trustchain = "[${tc}]:${STOQ_PORT}"`,
      `dns = "[${tc}]:${DNS_PORT}"`,
      // The pod's own address: peers find it through TrustChain's DNS (the lease is renewed
      // with the new address after a restart); they verify <service>.hypermesh, not the IP.
      `advertise = "${advertise}"`,
      'join_token_file = "join.token"',
      '',
    ].join('\n'),
  );
  say(`${instance}: ${join(dir, 'service.toml')} (advertise ${advertise}, TrustChain [${tc}]:${STOQ_PORT})`);
  if (!enrolled(dir)) {
    const request = join(REQUESTS, instance);
    const tokenFile = join(TOKENS, `${instance}.token`);
    mkdirSync(REQUESTS, { recursive: true });
    writeFileSync(request, `${service}\n`);
    const token = await waitFor(`a join token for ${instance}`, () => read(tokenFile) ?? false);
    writeAtomic(join(dir, 'join.token'), token, 0o600);
    rmSync(request, { force: true });
    rmSync(tokenFile, { force: true });
    say(`${instance}: join token in ${join(dir, 'join.token')}`);
  }
  if (values.enroll) {
    // Validators enroll before serving: the genesis needs every validator's FALCON key.
    if (!enrolled(dir)) run(bin.hypermesh, ['enroll', '--config', join(dir, 'service.toml')]);
    publishKey(instance, dir);
  }
  for (const file of values.wait ?? []) await waitFor(file, () => existsSync(join(SHARED, file)));
  for (const svc of values['wait-healthy'] ?? []) {
    await waitFor(`${svc}/health by name (TrustChain DNS)`, () => {
      if (!enrolled(CLI_DIR)) return false;
      const r = spawnSync(process.execPath, [bin.stoq, 'call', `${svc}/health`, '--dns', `[${tc}]:${DNS_PORT}`, '--identity', CLI_DIR, '--timeout', '5000'], { encoding: 'utf8' });
      return r.status === 0;
    });
  }
  say(`${instance}: ready to serve`);
}

// ---------------------------------------------------------------- publish-key (sidecar)

function publishKey(instance, dir) {
  const key = read(join(dir, 'identity', 'falcon.pub'));
  if (key === null) return false;
  const out = join(KEYS, `${instance}.pub`);
  if (read(out) !== key) {
    mkdirSync(KEYS, { recursive: true });
    copyFileSync(join(dir, 'identity', 'falcon.pub'), `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    say(`published ${out}`);
  }
  return true;
}

async function publishKeyLoop(argv) {
  const { values } = parseArgs({ args: argv, options: { instance: { type: 'string' }, dir: { type: 'string' } }, strict: true });
  if (!values.instance || !values.dir) throw new Error('publish-key needs --instance and --dir');
  for (;;) {
    publishKey(values.instance, values.dir);
    await sleep(5000);
  }
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'broker') await broker(rest);
  else if (command === 'init') await init(rest);
  else if (command === 'publish-key') await publishKeyLoop(rest);
  else throw new Error(`unknown command ${command ?? '(none)'}; expected broker, init or publish-key`);
} catch (err) {
  say(err.message);
  process.exit(1);
}

// The compose bootstrap, run in one-shot containers of docker/compose.yaml. It does what
// scripts/start.mjs does between starting TrustChain and starting the services, with each
// service's data dir a volume mounted at /var/lib/stoq/<name>, and the files several containers
// read (root fingerprint, HyperMesh genesis, four-proof rules, the CLI identity) in the `shared`
// volume, mounted at /ecosystem/.stoq/ecosystem: the layout of `npm start`'s ecosystem folder, so
// `stoq` commands and @stoq/client programs run in /ecosystem find it as they do in a checkout.
//
//   node stoq-compose.mjs bootstrap --trustchain ADDR --dns ADDR --service NAME=INSTANCE@[ADDR]:PORT...
//     per service: its config (<dir>/service.toml, rewritten every time) and, until it is
//     enrolled, a one-time join token (<dir>/join.token); the validators enroll here and one
//     genesis file is written for all of them (once; never replaced); the CLI identities (cli and
//     the administrator admin-cli) are enrolled (once) or renewed.
//   node stoq-compose.mjs validator-setup --dns ADDR
//     once Caesar runs: the validators' four-proof rules from Caesar's FALCON key (rewritten only
//     when the key differs), and their staking accounts in Caesar (with the mint and burn
//     accounts) created, funded and staked as TrustChain's admin — the ids and amounts of
//     scripts/start.mjs, so block rewards and slashing have somewhere to go.
// Every step is skipped when its result exists, so the next `docker compose up` reuses it all.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const APP = '/app';
const STATE = '/var/lib/stoq';
const SHARED = '/ecosystem/.stoq/ecosystem';
const TRUSTCHAIN_DIR = join(STATE, 'trustchain');
const GENESIS = join(SHARED, 'hypermesh-genesis.json');
const FOUR_PROOF = join(SHARED, 'hypermesh-four-proof.json');
const CLI_DIR = join(SHARED, 'cli');
const ADMIN_DIR = join(SHARED, 'admin');
const bin = {
  stoq: join(APP, 'apps/stoq-cli/bin/stoq.js'),
  trustchain: join(APP, 'apps/trustchain/bin/trustchain.js'),
  hypermesh: join(APP, 'apps/hypermesh/bin/hypermesh.js'),
};
const say = (line) => process.stderr.write(`stoq-compose: ${line}\n`);

/** Runs a CLI with node; its trimmed stdout, or an error naming the command and its stderr. */
function run(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script.split('/').pop()} ${args.slice(0, 2).join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

/** Same rule as scripts/start.mjs: an identity is usable while its certificate has a minute left. */
function enrolled(dir) {
  const cert = join(dir, 'identity', 'cert.pem');
  if (!existsSync(cert)) return false;
  return new Date(new X509Certificate(readFileSync(cert)).validTo).getTime() > Date.now() + 60_000;
}

const mintToken = (service) => run(bin.trustchain, ['token', 'create', ...(service === 'admin' ? ['--admin'] : ['--service', service]), '--ttl', '10m', '--data-dir', TRUSTCHAIN_DIR]);

/** Writes `path` through a temporary file, so a crash never leaves half a file to be reused. */
function writeAtomic(path, text, mode = 0o644) {
  writeFileSync(`${path}.tmp`, text, { mode });
  renameSync(`${path}.tmp`, path);
}

function bootstrap(argv) {
  const { values } = parseArgs({ args: argv, options: { trustchain: { type: 'string' }, dns: { type: 'string' }, service: { type: 'string', multiple: true } }, strict: true });
  if (!values.trustchain || !values.dns || !values.service?.length) throw new Error('bootstrap needs --trustchain, --dns and --service NAME=INSTANCE@ADDR');
  const fingerprint = run(bin.trustchain, ['ca', 'fingerprint', '--data-dir', TRUSTCHAIN_DIR]).replace(/^sha256:/, '');
  writeAtomic(join(SHARED, 'root-fingerprint'), `${fingerprint}\n`);
  const services = values.service.map((s) => {
    const m = /^([a-z0-9-]+)=([a-z0-9-]+)@(\[[0-9a-f:]+\]:\d+)$/.exec(s);
    if (!m) throw new Error(`--service ${s}: expected NAME=INSTANCE@[ipv6]:port`);
    return { name: m[1], instance: m[2], advertise: m[3], port: m[3].slice(m[3].lastIndexOf(':') + 1), service: m[1].replace(/-\d+$/, ''), dir: join(STATE, m[1]) };
  });
  for (const svc of services) {
    writeAtomic(
      join(svc.dir, 'service.toml'),
      [
        '# Written by docker/image/stoq-compose.mjs bootstrap on every `docker compose up`.',
        '[node]',
        `name = "${svc.instance}"`,
        `data_dir = "${svc.dir}"`,
        '[transport]',
        // Every address of the container: the validators enroll here, in the bootstrap container,
        // whose address differs; certificates and DNS name the advertised (fixed ULA) address.
        `bind = "[::]:${svc.port}"`,
        '[certificates]',
        `root_fingerprint = "${fingerprint}"`,
        '[service]',
        `trustchain = "${values.trustchain}"`,
        `dns = "${values.dns}"`,
        `advertise = "${svc.advertise}"`,
        'join_token_file = "join.token"',
        '',
      ].join('\n'),
    );
    if (!enrolled(svc.dir)) {
      say(`join token for ${svc.name}`);
      writeAtomic(join(svc.dir, 'join.token'), `${mintToken(svc.service)}\n`, 0o600);
    }
  }
  // The client identities for `docker compose run --rm cli …` and the e2e test, as npm start
  // enrolls them: `cli` (the default) and the administrator `admin-cli` (only with --admin or
  // { admin: true }; an admin token of its own).
  for (const [dir, service, instance] of [[CLI_DIR, 'cli', 'cli-1'], [ADMIN_DIR, 'admin', 'admin-cli']]) {
    const token = enrolled(dir) ? [] : ['--token', mintToken(service)];
    run(bin.stoq, ['enroll', '--trustchain', values.trustchain, '--root-fingerprint', fingerprint, '--service', service, '--instance', instance, '--data-dir', dir, ...token]);
  }
  // HyperMesh's genesis needs every validator's FALCON key: each enrolls first, then one file.
  const validators = services.filter((s) => s.service === 'hypermesh');
  for (const v of validators) {
    if (enrolled(v.dir)) continue;
    say(`enrolling ${v.name}`);
    run(bin.hypermesh, ['enroll', '--config', join(v.dir, 'service.toml')]);
  }
  if (!existsSync(GENESIS) && validators.length > 0) {
    say(`writing ${GENESIS}`);
    run(bin.hypermesh, ['genesis', '--chain-id', 'hypermesh-1', '--out', `${GENESIS}.tmp`, ...validators.flatMap((v) => ['--config', join(v.dir, 'service.toml')])]);
    renameSync(`${GENESIS}.tmp`, GENESIS);
  }
  say(`bootstrap done (root sha256:${fingerprint})`);
}

function fourProofRules() {
  const key = join(STATE, 'caesar', 'identity', 'falcon.pub');
  run(bin.hypermesh, ['four-proof', '--ledger-falcon-key', key, '--out', `${FOUR_PROOF}.new`]);
  const next = readFileSync(`${FOUR_PROOF}.new`, 'utf8');
  const before = existsSync(FOUR_PROOF) ? readFileSync(FOUR_PROOF, 'utf8') : null;
  if (before !== null && before !== next) say(`Caesar's FALCON key changed: rewriting ${FOUR_PROOF}`);
  renameSync(`${FOUR_PROOF}.new`, FOUR_PROOF);
  say(before === next ? 'four-proof rules unchanged' : `wrote ${FOUR_PROOF}`);
}

// The staking ledger's accounts, as in scripts/start.mjs (keep the two in step): fixed ids, so a
// later run gets "exists" for each and changes nothing.
const MINT_ACCOUNT = '900000001';
const BURN_ACCOUNT = '900000002';
const validatorAccount = (i) => String(900000010 + i);
const VALIDATOR_FUNDS = '1000000';
const VALIDATOR_STAKE = '100000';
const OK = 0;
const ACCOUNT_EXISTS = 15;
const TRANSFER_EXISTS = 43;

async function provisionValidatorStakes(dns) {
  const { connect } = await import('@stoq/client');
  const caesar = await connect('caesar', { identity: join(TRUSTCHAIN_DIR, 'admin'), dns });
  try {
    // Caesar is healthy at its address; by name it appears once its DNS registration lands.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await caesar.whoAmI({});
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Caesar is not reachable by name: ${err.message}`);
        await new Promise((r) => setTimeout(r, 200)); // polling DNS registration, with a deadline
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
    say(`validators' staking accounts ${ids.join(', ')} funded and staked`);
  } finally {
    await caesar.close();
  }
}

async function validatorSetup(argv) {
  const { values } = parseArgs({ args: argv, options: { dns: { type: 'string' } }, strict: true });
  if (!values.dns) throw new Error('validator-setup needs --dns');
  fourProofRules();
  await provisionValidatorStakes(values.dns);
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'bootstrap') bootstrap(rest);
  else if (command === 'validator-setup') await validatorSetup(rest);
  else throw new Error(`unknown command ${command ?? '(none)'}; expected bootstrap or validator-setup`);
} catch (err) {
  say(err.message);
  process.exit(1);
}

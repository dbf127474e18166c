#!/usr/bin/env node
// earned_issuance: certificates issued the earned way (trustchain/issue_certificate: four-proof
// set → 4-validator HyperMesh BFT commit → QC checked against the genesis → leaf signed,
// recorded in SQLite and appended to the durable CT log), against enroll_and_renew's first half
// (trustchain/enroll with a join token) in the same run, so the cost of consensus is visible.
//
//   node apps/trustchain/bench/earned-issuance.mjs [--count K] [--concurrency C]
//
// Needs the built packages (npm run build). Processes on [::1], temp dirs: trustchain serve
// (--hypermesh-genesis), caesar serve (stake attestations), 4 × hypermesh serve (--four-proof).
// One JSON line per figure on stdout ({"bench","unit","stoq","peer","peerName","ratio"}; for
// rates ratio = stoq / peer, for latencies too — lower is better there), status on stderr. Any
// refused request fails the run.
//
// Untimed, per client: TLS and FALCON keys, the CSR and its FALCON proof; for earned issuance the
// stake attestation bound to the node (caesar/attest_stake) and the four-proof set anchored to a
// recent committed block — the client's own proof generation, reported separately as a status
// line. Timed, per request, for both paths: a new STOQ endpoint and anonymous connection pinning
// the root (full handshake), the request, TrustChain's work including (earned) the validation
// committed by HyperMesh, reading the reply, initiating the close (the endpoint's draining
// period runs on outside the request's slot and is awaited after the timed window).
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { emit, log, percentile } from './support.mjs';

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const BIN = {
  trustchain: join(ROOT, 'apps', 'trustchain', 'bin', 'trustchain.js'),
  caesar: join(ROOT, 'apps', 'caesar', 'bin', 'caesar.js'),
  hypermesh: join(ROOT, 'apps', 'hypermesh', 'bin', 'hypermesh.js'),
};
const core = require('@stoq/core');
const rpcLib = require('@stoq/rpc');
const protos = require('@stoq/protos');
const fp = require('@stoq/four-proof');

function parseArgs(argv) {
  const opts = { count: 200, concurrency: 16 };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--count' && Number.isInteger(v) && v > 0) opts.count = v, i++;
    else if (argv[i] === '--concurrency' && Number.isInteger(v) && v > 0) opts.concurrency = v, i++;
    else {
      process.stderr.write('usage: earned-issuance.mjs [--count K] [--concurrency C]\n');
      process.exit(2);
    }
  }
  return opts;
}

// ------------------------------------------------------------------------------ processes

const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Starts `node bin args` in cwd; resolves with the first pino line matching `ready`. */
function start(bin, args, cwd, ready, env = {}) {
  const logPath = join(cwd, `${args[0]}-${children.size}.log`);
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const lines = [];
  const fd = openSync(logPath, 'a');
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      writeFileSync(fd, `${text}\n`);
      let l = {};
      try {
        l = JSON.parse(text);
      } catch {
        return;
      }
      lines.push(l);
      if (ready(l)) resolve({ child, line: l, lines });
    });
    child.once('exit', (code) => {
      closeSync(fd);
      children.delete(child);
      reject(new Error(`${args[0]} exited (${code}) before it was ready; see ${logPath}`));
    });
  });
}

function run(bin, args, cwd, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function serviceConfig(home, instance, tc) {
  require('node:fs').mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, 'service.toml'),
    ['[node]', `name = "${instance}"`, 'data_dir = "data"', '[transport]', 'bind = "[::1]:0"', '[certificates]', `root_fingerprint = "${tc.rootFingerprint}"`, '[service]', `trustchain = "${tc.stoq}"`, `dns = "${tc.dns}"`, 'lease_seconds = 5', ''].join('\n'),
  );
}

// ------------------------------------------------------------------------------ measuring

async function pool(items, concurrency, fn) {
  const latencies = [];
  let next = 0;
  let failed = null;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (failed === null && next < items.length) {
        const item = items[next++];
        const s = performance.now();
        try {
          await fn(item);
          latencies.push(performance.now() - s);
        } catch (err) {
          failed ??= err;
        }
      }
    }),
  );
  if (failed) throw failed;
  const elapsedS = (performance.now() - t0) / 1000;
  return { rate: items.length / elapsedS, p50: percentile(latencies, 50), p99: percentile(latencies, 99), elapsedS };
}

/** Endpoints closing after their request: QUIC's draining period, awaited after the timed window. */
const draining = [];

/**
 * One request over a fresh anonymous connection that trusts only the pinned root. The close is
 * initiated here; the endpoint's draining period (3 PTO, ~85 ms on loopback, like a TCP socket's
 * teardown) runs on after the request's slot is free, as in enroll-renew.mjs.
 */
async function anonymousCall(tc, method, request) {
  const transport = core.StoqTransport.create({ identity: { enrolling: true, trustRootSha256: tc.rootFingerprint }, bind: '[::1]:0' });
  try {
    const conn = await transport.connect(tc.stoq, { serverName: 'trustchain.hypermesh', expectedService: 'trustchain' });
    const rpc = new rpcLib.RpcClient({ connector: async () => conn, resolver: new rpcLib.StaticResolver({ trustchain: [tc.stoq] }), retry: { maxAttempts: 1 } });
    try {
      return await rpc.call(method, request, { timeoutMs: 60_000 });
    } finally {
      rpc.close();
      conn.close(0, 'done');
    }
  } finally {
    draining.push(transport.close());
  }
}

function client(instance, service) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const falcon = core.nativeFalcon.keypair();
  const csr = core.createCsr({ service, instance, tlsKey: privateKey, falconPublicKey: falcon.publicKey, ipAddresses: ['::1'] });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  return { instance, csr, falconSignature: core.nativeFalcon.sign(falcon.secretKey, core.falconCsrMessage(csr)), nodeId: new Uint8Array(createHash('sha256').update(falcon.publicKey).digest()), keyBinding: fp.certificateKeyBinding(spki, falcon.publicKey) };
}

// ------------------------------------------------------------------------------ main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'stoq-earned-bench-'));
  const procs = [];
  try {
    const tcDir = join(dir, 'trustchain');
    const genesisFile = join(dir, 'genesis.json');
    const tcp = await start(BIN.trustchain, ['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0', '--hypermesh-genesis', genesisFile], dir, (l) => l.msg === 'trustchain serve ready');
    procs.push(tcp.child);
    const tc = tcp.line;
    const token = async (service) => (await run(BIN.trustchain, ['token', 'create', '--service', service, '--ttl', '1h', '--data-dir', tcDir], dir)).out.trim();

    const caesarHome = join(dir, 'caesar');
    serviceConfig(caesarHome, 'caesar-1', tc);
    procs.push((await start(BIN.caesar, ['serve', '--config', 'service.toml', '--mint-account', '900000001'], caesarHome, (l) => l.msg === 'caesar serving', { STOQ_JOIN_TOKEN: await token('caesar') })).child);
    const caesarKey = core.pemToDerList(readFileSync(join(caesarHome, 'data', 'identity', 'falcon.pub'), 'utf8'), 'FALCON-1024 PUBLIC KEY', 'caesar key')[0];

    const homes = [];
    for (let i = 1; i <= 4; i++) {
      const home = join(dir, `hypermesh-${i}`);
      homes.push(home);
      serviceConfig(home, `hypermesh-${i}`, tc);
      const r = await run(BIN.hypermesh, ['enroll', '--config', 'service.toml'], home, { STOQ_JOIN_TOKEN: await token('hypermesh') });
      if (r.code !== 0) throw new Error(`hypermesh enroll: ${r.err}`);
    }
    const g = await run(BIN.hypermesh, ['genesis', '--chain-id', 'earned-bench', '--out', genesisFile, ...homes.flatMap((h) => ['--config', join(h, 'service.toml')])], dir);
    if (g.code !== 0) throw new Error(`hypermesh genesis: ${g.err}`);
    writeFileSync(join(dir, 'four-proof.json'), JSON.stringify({ format: 'hypermesh-four-proof/1', ledgerKey: { algorithm: 'falcon-1024', publicKey: Buffer.from(caesarKey).toString('base64') }, maxAnchorAgeBlocks: 100000 }));
    const validators = await Promise.all(homes.map((h) => start(BIN.hypermesh, ['serve', '--config', 'service.toml', '--genesis', genesisFile, '--four-proof', join(dir, 'four-proof.json')], h, (l) => l.msg === 'hypermesh validator ready')));
    procs.push(...validators.map((v) => v.child));

    // The admin client (TrustChain's admin identity: a Caesar admin, any peer for HyperMesh).
    const adminDir = join(tcDir, 'admin');
    const leaf = core.parseHybridCertificate(core.pemToDerList(readFileSync(join(adminDir, 'identity', 'cert.pem'), 'utf8'), 'CERTIFICATE', 'cert')[0]);
    const identity = await core.NodeIdentity.loadOrCreate({ dataDir: adminDir, service: 'admin', instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
    const adminTransport = core.StoqTransport.create({ identity, bind: '[::1]:0' });
    const admin = new rpcLib.RpcClient({ connector: (ep, o) => adminTransport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }), resolver: new rpcLib.DnsSrvResolver({ server: tc.dns }) });
    const C = protos.caesar.CaesarMethods;
    const H = protos.hypermesh.ConsensusMethods;
    const first = validators[0].line.stoq;
    for (const deadline = Date.now() + 60_000; ; ) {
      const s = await admin.call(H.status, {}, { timeoutMs: 5000, target: first }).catch(() => null);
      if (s && Number(s.committedHeight) >= 2) break;
      if (Date.now() > deadline) throw new Error('HyperMesh did not start committing within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const deadline = Date.now() + 30_000; ; ) {
      if (await admin.call(C.whoAmI, {}, { timeoutMs: 5000 }).catch(() => null)) break;
      if (Date.now() > deadline) throw new Error('Caesar not reachable by name within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    await admin.call(C.createAccounts, { accounts: [{ id: '900000001', ledger: 1, code: 1, flags: 1 << 14 }, { id: '100', ledger: 1, code: 1 }] });
    await admin.call(C.createTransfers, { transfers: [{ id: '1', debitAccountId: '900000001', creditAccountId: '100', amount: '1000000', ledger: 1, code: 1 }] });
    await admin.call(C.stake, { ownerAccountId: '100', amount: '500000', transferId: '2' });

    // ---- untimed: clients, attestations, proof sets (the client's own cost, reported apart)
    log(`preparing ${opts.count} earned and ${opts.count} enrolling clients`);
    const earned = Array.from({ length: opts.count }, (_, i) => client(`storage-${i}`, 'storage'));
    const enrolling = Array.from({ length: opts.count }, (_, i) => client(`bench-${i}`, 'bench'));
    const tokens = [];
    for (let i = 0; i < opts.count; i++) tokens.push(await token('bench'));
    const s = await admin.call(H.status, {}, { timeoutMs: 5000, target: first });
    const anchor = { height: BigInt(Number(s.committedHeight) - 1), hash: Uint8Array.from(Buffer.from((await admin.call(H.block, { height: Number(s.committedHeight) - 1 }, { timeoutMs: 5000, target: first })).hash, 'hex')) };
    const gen0 = performance.now();
    for (const c of earned) {
      const a = await admin.call(C.attestStake, { ownerAccountId: '100', validitySeconds: 3600, nodeId: c.nodeId }, { timeoutMs: 10_000 });
      const set = fp.generateFourProofSet({ context: fp.certificateRequestContext(c.keyBinding, c.nodeId), plot: fp.createPlot(c.nodeId), ipv6Address: '::1', stake: fp.decodePoStakeProof(a.fourProofStake), now: Date.now(), sequence: 1n, anchor });
      c.proofSet = fp.encodeFourProofSet(set);
    }
    const genS = (performance.now() - gen0) / 1000;
    log(`client proof generation (attestation call + plot + four proofs, default parameters): ${(opts.count / genS).toFixed(1)} sets/s, ${((genS * 1000) / opts.count).toFixed(1)} ms each (not in the figures below)`);

    // ---- timed: earned, then enrolled (never at once)
    const T = protos.trustchain.TrustChainMethods;
    const e = await pool(earned, opts.concurrency, async (c) => {
      const r = await anonymousCall(tc, T.issueCertificate, { csr: c.csr, falconSignature: c.falconSignature, proofSet: c.proofSet });
      if (!core.parseHybridCertificate(r.chain[0]).consensusApproval) throw new Error('an earned certificate without its ConsensusApproval');
    });
    await Promise.all(draining.splice(0));
    log(`earned_issuance: ${e.rate.toFixed(1)} certs/s over ${e.elapsedS.toFixed(1)} s, p50 ${e.p50.toFixed(1)} ms, p99 ${e.p99.toFixed(1)} ms (C=${opts.concurrency})`);
    let k = 0;
    const j = await pool(enrolling, opts.concurrency, async (c) => {
      await anonymousCall(tc, T.enroll, { token: tokens[k++], csr: c.csr, falconSignature: c.falconSignature });
    });
    log(`enroll (join token): ${j.rate.toFixed(1)} certs/s over ${j.elapsedS.toFixed(1)} s, p50 ${j.p50.toFixed(1)} ms, p99 ${j.p99.toFixed(1)} ms`);
    await Promise.all(draining.splice(0));
    const peerName = 'trustchain-enroll (join token, no consensus)';
    const extra = { count: opts.count, concurrency: opts.concurrency, validators: 4 };
    emit('earned_issuance', 'certs/s', e.rate, j.rate, peerName, extra);
    emit('earned_issuance_p50', 'ms', e.p50, j.p50, peerName, extra);
    emit('earned_issuance_p99', 'ms', e.p99, j.p99, peerName, extra);
    admin.close();
    await adminTransport.close();
  } finally {
    for (const c of procs.reverse()) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`earned-issuance bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});

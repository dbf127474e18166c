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
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, logMessage, serviceConfig, start, startHyperMeshCluster } from '../../../scripts/bench-cluster.mjs';
import { emit, log, percentile } from './support.mjs';

const require = createRequire(import.meta.url);
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
  let cluster = null;
  try {
    const genesisFile = join(dir, 'genesis.json');
    cluster = await startHyperMeshCluster(dir, {
      chainId: 'earned-bench',
      trustchainArgs: ['--hypermesh-genesis', genesisFile],
      // Caesar (stake attestations) before the validators, whose four-proof rules name its key.
      beforeValidators: async ({ tc, token, procs }) => {
        const caesarHome = join(dir, 'caesar');
        serviceConfig(caesarHome, 'caesar-1', tc);
        procs.push((await start(process.execPath, [BIN.caesar, 'serve', '--config', 'service.toml', '--mint-account', '900000001'], { cwd: caesarHome, logPath: join(dir, 'caesar.log'), ready: logMessage('caesar serving'), env: { STOQ_JOIN_TOKEN: token('caesar') } })).child);
        const caesarKey = core.pemToDerList(readFileSync(join(caesarHome, 'data', 'identity', 'falcon.pub'), 'utf8'), 'FALCON-1024 PUBLIC KEY', 'caesar key')[0];
        writeFileSync(join(dir, 'four-proof.json'), JSON.stringify({ format: 'hypermesh-four-proof/1', ledgerKey: { algorithm: 'falcon-1024', publicKey: Buffer.from(caesarKey).toString('base64') }, maxAnchorAgeBlocks: 100000 }));
        return ['--four-proof', join(dir, 'four-proof.json')];
      },
    });
    const { tc, token, validators } = cluster;

    // The admin client (TrustChain's admin identity: a Caesar admin, any peer for HyperMesh).
    const adminTransport = cluster.admin.transport;
    const admin = new rpcLib.RpcClient({ connector: (ep, o) => adminTransport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }), resolver: new rpcLib.DnsSrvResolver({ server: tc.dns }) });
    const C = protos.caesar.CaesarMethods;
    const H = protos.hypermesh.ConsensusMethods;
    const first = validators[0].ready.stoq;
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
    for (let i = 0; i < opts.count; i++) tokens.push(token('bench'));
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
  } finally {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`earned-issuance bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});

#!/usr/bin/env node
// ct_add_chain_durable: chains/s through `trustchain/ct/add_chain` (STOQ RPC to a real
// `trustchain serve` process; the SCT comes back after the entry is fsync'd) vs TesseraCT, the
// CT log server on Tessera's POSIX storage (`go install`ed into ~/.cache/stoq/bin on first use),
// taking the same chains through RFC 6962 `POST /ct/v1/add-chain` on the same disk.
//
// Both get the same [leaf, intermediate] chains of one foreign CA (ECDSA P-256 X.509 built in
// this process before timing) whose root each log is told to accept (`--ct-root`,
// `--roots_pem_file`); both check the chain's signatures up to that root. TesseraCT runs with
// `--enable_publication_awaiter=false`: it answers once its POSIX storage has sequenced and
// integrated the entry (files written O_SYNC, directories fsync'd) instead of waiting for the
// next published checkpoint, which is the comparable guarantee to our SCT-after-fsync. Its
// persistent antispam (badger) is always on in the POSIX binary. It runs twice: as shipped, and
// with its sequencing batch tuned for this load (TUNED); two JSON lines.
// Timed: from the first request to the last answer, CONCURRENCY requests in flight (ours over
// CONCURRENCY/64 STOQ connections, TesseraCT's over up to 64 keep-alive HTTP connections).
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, freePort, log, onExit, percentile, runBench, runChecked } from './support.mjs';
import { startServe, withAdminClients } from './serve-process.mjs';

const require = createRequire(import.meta.url);
const { cert } = require('../../../libs/ct-log/bench/certs.js');
const { trustchain } = require('@stoq/protos');
const { derToPem } = require('@stoq/core');

const TESSERACT_VERSION = 'v0.1.1';
const COUNT = Number(process.env.BENCH_CT_COUNT ?? 20_000);
const WARMUP = Number(process.env.BENCH_CT_WARMUP ?? 500);
const TUNED = ['--batch_max_size=512', '--batch_max_age=20ms'];
const CONCURRENCY = Number(process.env.BENCH_CT_CONCURRENCY ?? 512);

function tesseractBinary() {
  const bin = join(homedir(), '.cache', 'stoq', 'bin', 'posix');
  if (existsSync(bin)) return bin;
  log(`building TesseraCT ${TESSERACT_VERSION} (POSIX) with go install (a few minutes)`);
  runChecked('go', ['install', `github.com/transparency-dev/tesseract/cmd/tesseract/posix@${TESSERACT_VERSION}`], { env: { ...process.env, GOBIN: join(homedir(), '.cache', 'stoq', 'bin'), GOSUMDB: 'off' } });
  return bin;
}

const pem = (der) => derToPem(der, 'CERTIFICATE');

/** A foreign CA (root → intermediate) and `n` leaves under the intermediate, all ECDSA P-256. */
function foreignPki(n) {
  const rootKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const interKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const root = cert({ subject: 'Bench Foreign Root', key: rootKey, ca: true });
  const intermediate = cert({ subject: 'Bench Foreign Intermediate', key: interKey, ca: true, issuerName: 'Bench Foreign Root', issuerKey: rootKey });
  const leaves = Array.from({ length: n }, (_, i) => cert({ subject: `leaf${i}.bench.test`, key: leafKey, issuerName: 'Bench Foreign Intermediate', issuerKey: interKey }));
  return { root, intermediate, leaves };
}

/** Runs `submit(i, worker)` for i in [from, to) with `concurrency` workers; returns seconds and per-request ms. */
async function drive(from, to, concurrency, submit) {
  const latencies = new Array(to - from);
  let next = from;
  const t0 = performance.now();
  const worker = async (w) => {
    while (next < to) {
      const i = next++;
      const s = performance.now();
      await submit(i, w);
      latencies[i - from] = performance.now() - s;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

async function benchTrustChain(dir, pki) {
  const rootsFile = join(dir, 'foreign-roots.pem');
  writeFileSync(rootsFile, pem(pki.root));
  const serve = await startServe(join(dir, 'trustchain'), ['--ct-root', rootsFile]);
  try {
    return await withAdminClients(serve, Math.ceil(CONCURRENCY / 64), async (rpcs) => {
      const M = trustchain.CtMethods;
      let lastIndex = -1;
      const submit = async (i, w) => {
        const res = await rpcs[w % rpcs.length].call(M.addChain, { chain: [pki.leaves[i], pki.intermediate] });
        if (!res.sct || res.sct.length === 0) throw new Error(`add_chain ${i}: no SCT in the answer`);
        lastIndex = Math.max(lastIndex, Number(res.leafIndex));
      };
      await drive(0, WARMUP, 64, submit);
      const r = await drive(WARMUP, WARMUP + COUNT, CONCURRENCY, submit);
      const sth = await rpcs[0].call(M.getSth, {});
      if (Number(sth.treeSize) < lastIndex + 1) throw new Error(`STH covers ${sth.treeSize} entries, the last answer had index ${lastIndex}`);
      return r;
    });
  } finally {
    await serve.stop();
  }
}

async function startTesseract(bin, dir, pki, name, tuning) {
  const port = await freePort('tcp');
  const roots = join(dir, 'tesseract-roots.pem');
  writeFileSync(roots, pem(pki.root));
  const keyFile = join(dir, 'tesseract-key.pem');
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }));
  const args = [
    `--http_endpoint=[::1]:${port}`,
    '--origin=bench.stoq.test/tesseract',
    `--storage_dir=${join(dir, name)}`,
    `--roots_pem_file=${roots}`,
    `--private_key=${keyFile}`,
    '--enable_publication_awaiter=false',
    '--logtostderr',
    ...tuning,
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  onExit(() => child.kill('SIGKILL'));
  let out = '';
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      out += d.toString();
      if (out.includes('CT HTTP Server Starting')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`TesseraCT exited ${code} before serving:\n${out}`)));
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const post = (body) =>
    new Promise((resolve, reject) => {
      const req = request({ host: '::1', port, path: '/ct/v1/add-chain', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    post,
    stop: () =>
      new Promise((resolve) => {
        agent.destroy();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function benchTesseract(bin, dir, pki, name, tuning) {
  const t = await startTesseract(bin, dir, pki, name, tuning);
  let pushbacks = 0;
  try {
    const bodies = pki.leaves.map((leaf) => Buffer.from(JSON.stringify({ chain: [Buffer.from(leaf).toString('base64'), Buffer.from(pki.intermediate).toString('base64')] })));
    // Pushback (the antispam follower lagging) is TesseraCT telling the client to come back, as
    // CT submitters do; such requests are retried after 50 ms and counted, the wait included.
    const submit = async (i) => {
      let res = await t.post(bodies[i]);
      while (res.status === 429 || (res.status >= 500 && /pushback/.test(res.body))) {
        pushbacks++;
        await new Promise((r) => setTimeout(r, 50));
        res = await t.post(bodies[i]);
      }
      if (res.status !== 200) throw new Error(`TesseraCT add-chain ${i}: HTTP ${res.status} ${res.body}`);
      if (!JSON.parse(res.body).signature) throw new Error(`TesseraCT add-chain ${i}: no SCT signature in ${res.body}`);
    };
    await waitUntilAccepting(() => submit(0));
    await drive(1, WARMUP, 64, submit);
    pushbacks = 0;
    const r = await drive(WARMUP, WARMUP + COUNT, CONCURRENCY, submit);
    return { ...r, pushbacks };
  } finally {
    await t.stop();
  }
}

/** The first request, retried while the listener is not yet bound (ECONNREFUSED only). */
async function waitUntilAccepting(first) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await first();
    } catch (err) {
      if (err.code !== 'ECONNREFUSED' || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function main() {
  const bin = tesseractBinary();
  const dir = mkdtempSync(join(tmpdir(), 'tc-ct-bench-'));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  log(`building ${WARMUP + COUNT} foreign leaf certificates`);
  const pki = foreignPki(WARMUP + COUNT);
  log(`TrustChain: ${COUNT} add_chain over STOQ, ${CONCURRENCY} in flight`);
  const ours = await benchTrustChain(dir, pki);
  const ms = (x) => Math.round(x * 10) / 10;
  const lat = (r, prefix) => ({ [`${prefix}P50Ms`]: ms(percentile(r.latencies, 50)), [`${prefix}P99Ms`]: ms(percentile(r.latencies, 99)) });
  // TesseraCT as shipped, and with the sequencing batch tuned for this load (the best of the
  // settings we tried: 256/250 ms default, 1024/50 ms, 4096/100 ms, 512/20 ms).
  for (const [suffix, tuning, what] of [
    ['', [], 'defaults'],
    ['_vs_tuned', TUNED, TUNED.join(' ')],
  ]) {
    log(`TesseraCT ${TESSERACT_VERSION} (${what}): ${COUNT} add-chain over HTTP, ${CONCURRENCY} in flight`);
    const peer = await benchTesseract(bin, dir, pki, `tesseract${suffix}`, tuning);
    emit(`trustchain.ct_add_chain_durable${suffix}`, 'chains/s', COUNT / ours.seconds, COUNT / peer.seconds, `TesseraCT ${TESSERACT_VERSION} POSIX (Tessera), HTTP add-chain, ${what}`, {
      count: COUNT,
      concurrency: CONCURRENCY,
      p50Ms: ms(percentile(ours.latencies, 50)),
      p99Ms: ms(percentile(ours.latencies, 99)),
      ...lat(peer, 'peer'),
      peerPushbacks: peer.pushbacks,
    });
  }
}

runBench('ct_add_chain_durable', main);

#!/usr/bin/env node
// enroll_and_renew: TrustChain vs step-ca, certificates per second and per-request latency for a
// first enrollment and one renewal of K clients, C requests in flight.
//
//   node apps/trustchain/bench/enroll-renew.mjs [--count K] [--concurrency C] [--warmup W] [--keep]
//
// Needs the built packages (npm run build; `npx tsc -p tsconfig.build.json` in a package whose
// dist is stale), openssl, and go (step-ca v0.28.3 is built once into ~/.cache/stoq/bin by
// `go install`; see step-ca/ca.mjs). Prints one JSON line per figure on stdout:
//   {"bench","unit","stoq","peer","peerName","ratio", ...} with ratio = stoq / peer (higher is better);
// status goes to stderr. Any failed request fails the run (exit 1): a failure is a bug, not a
// data point. Both CAs run as child processes on [::1] with temp data dirs, one after the other
// (never at the same time), and this process is the client of both.
//
// Per client, untimed: a fresh ECDSA P-256 TLS key (and for TrustChain a FALCON-1024 key pair),
// the CSRs and the proofs (TrustChain: FALCON signature over each CSR; step-ca: the ES256 JWK
// one-time token), TrustChain's join tokens (minted over the admin RPC). Key generation runs in
// worker threads before anything is timed: it is client cost and the same for any CA.
//
// Timed, per request, identically for both CAs: creating the client's TLS configuration, a new
// connection with a full handshake (no resumption, no 0-RTT, no connection reuse: a client
// enrolls once and renews once per lifetime), the request, the CA's work up to its durable
// reply, reading and checking the reply, and closing the connection (the close is initiated in
// the slot; QUIC's draining period, like a TCP socket's teardown, runs on after the slot is
// free and is awaited after the timed window).
//   TrustChain: a new STOQ endpoint (QUIC, TLS 1.3 with X25519MLKEM768 required, the FALCON-1024
//     exchange; no path-MTU probes from the client, as TrustChainSource and the client library's
//     renewal dial their one-request connections; the CA still probes toward the client); enroll = anonymous connection pinning the root SHA-256, `trustchain/enroll`;
//     renew = mutual TLS + FALCON with the issued certificate, `trustchain/renew_certificate`
//     (same keys, a new CSR and FALCON proof made before the window). The server verifies CSR
//     and FALCON proof, signs the leaf with the P-384 root plus the FALCON-1024 alt signature,
//     commits to SQLite (WAL, synchronous=FULL; enroll burns the token in the same transaction),
//     appends to the CT log (fsync) and answers with chain, SCT and inclusion proof.
//   step-ca: a new HTTPS connection (TCP + TLS 1.3; X25519, as Node 20's OpenSSL 3.0 has no
//     ML-KEM); enroll = `POST /1.0/sign` with the CSR and the JWK token (step-ca verifies the
//     JWT, stores its jti to refuse reuse, signs with the P-384 intermediate, stores the
//     certificate); renew = `POST /1.0/renew` authenticated by mutual TLS with the issued chain
//     (same key, no CSR). Database badgerv2, whose default SyncWrites=true fsyncs each commit.
//     No FALCON signature, no CT log: step-ca does neither.
// Latency: from the start of a request to its reply parsed. Throughput: K over the wall time
// from the first request's start to the last one's end. The status lines also give the CPU
// the client (this process) and the server used in each window, and how busy the client's
// event loop was: the client and the CA share the machine's cores.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { percentile } from './support.mjs';

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const SERVICE = 'bench';
const namesOf = (instance) => [`${instance}.${SERVICE}.hypermesh`, `${SERVICE}.hypermesh`, SERVICE];

function loadStoq() {
  try {
    return {
      core: require('@stoq/core'),
      protos: require('@stoq/protos'),
      rpc: require('@stoq/rpc'),
      admin: require('@stoq/trustchain/dist/cli/admin-client.js'),
    };
  } catch (err) {
    process.stderr.write(`cannot load the built packages (${err.message}); run \`npm run build\` first\n`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { count: 600, concurrency: 32, warmup: null, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) usage(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--count') opts.count = num();
    else if (a === '--concurrency') opts.concurrency = num();
    else if (a === '--warmup') opts.warmup = num();
    else if (a === '--keep') opts.keep = true;
    else usage(`unknown argument ${a}`);
  }
  opts.warmup ??= opts.concurrency;
  return opts;
}

function usage(msg) {
  process.stderr.write(`${msg}\nusage: node apps/trustchain/bench/enroll-renew.mjs [--count K] [--concurrency C] [--warmup W] [--keep]\n`);
  process.exit(2);
}

const status = (msg) => process.stderr.write(`[enroll-renew] ${msg}\n`);

/** Client key material for n clients of `kind`, in worker threads. */
async function keyMaterial(kind, n) {
  const workers = Math.max(1, Math.min(availableParallelism(), 4));
  const per = Math.ceil(n / workers);
  const parts = [];
  for (let w = 0; w < workers && w * per < n; w++) {
    parts.push(
      new Promise((resolve, reject) => {
        const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { kind, from: w * per, to: Math.min(n, (w + 1) * per) } });
        worker.once('message', (m) => {
          resolve(m);
          void worker.terminate();
        });
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`key worker exited (${code}) without its keys`)));
      }),
    );
  }
  return (await Promise.all(parts)).flat();
}

/**
 * Runs fn(item) for every item with `concurrency` in flight. fn returns its latency in ms. Any
 * failure stops the run (the remaining requests are not started) and rethrows.
 */
async function pool(items, concurrency, fn) {
  const latencies = new Array(items.length);
  let next = 0;
  let failed = null;
  const started = performance.now();
  const worker = async () => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        latencies[i] = await fn(items[i], i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const elapsedMs = performance.now() - started;
  if (failed !== null) throw failed;
  return { elapsedMs, latencies, rate: items.length / (elapsedMs / 1000) };
}

/** CPU seconds (user + system) of a process by pid, from /proc (Linux); null elsewhere. */
function cpuOfPid(pid, tid = null) {
  try {
    const stat = readFileSync(tid === null ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return null;
  }
}
const cpuOfSelf = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Runs `fn` and reports the CPU the client (this process) and the server used meanwhile. */
async function timed(label, serverPid, fn, { nodeServer = false } = {}) {
  const c0 = cpuOfSelf();
  const s0 = cpuOfPid(serverPid);
  const m0 = nodeServer ? cpuOfPid(serverPid, serverPid) : null;
  const elu0 = performance.eventLoopUtilization();
  const r = summary(await fn());
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const client = cpuOfSelf() - c0;
  const s1 = cpuOfPid(serverPid);
  const server = s0 === null || s1 === null ? NaN : s1 - s0;
  // A Node server's main thread is the one whose tid is the pid: its share of the wall time says
  // whether the server's event loop was the limit.
  const m1 = nodeServer ? cpuOfPid(serverPid, serverPid) : null;
  const main = m0 === null || m1 === null ? '' : `, its main thread ${(((m1 - m0) / r.elapsedS) * 100).toFixed(0)}% of the wall time`;
  status(
    `${label}: ${r.rate.toFixed(1)} certs/s (${r.elapsedS.toFixed(2)} s), p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms; ` +
      `CPU client ${client.toFixed(1)} s (event loop ${(elu * 100).toFixed(0)}% busy), server ${server.toFixed(1)} s (${((server * 1000) / r.count).toFixed(2)} ms/cert${main})`,
  );
  return r;
}

function summary(r) {
  return { rate: r.rate, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), elapsedS: r.elapsedMs / 1000, count: r.latencies.length };
}

// ---------------------------------------------------------------------------------------------
// Child processes: tracked so that every exit path (error, signal) stops them.
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  });
}

async function stopChild(child, what) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => {
    status(`${what} did not stop within 10 s; SIGKILL`);
    child.kill('SIGKILL');
  }, 10_000);
  await exited;
  clearTimeout(t);
}

const sha256Hex = (der) => createHash('sha256').update(der).digest('hex');

/** Checks (untimed, after the run) that every issued leaf is for the client's key and verifies under its issuer. */
function verifyIssued(label, clients, chainOf) {
  for (const c of clients) {
    const chain = chainOf(c);
    const leaf = new X509Certificate(chain[0]);
    const issuer = new X509Certificate(chain[1]);
    const want = createPublicKey(c.keyPem).export({ type: 'spki', format: 'der' });
    if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(want)) throw new Error(`${label}: ${c.instance}'s certificate is not for its key`);
    if (!leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) throw new Error(`${label}: ${c.instance}'s certificate does not verify under its issuer`);
    if (!leaf.subject.includes(`CN=${c.instance}`)) throw new Error(`${label}: ${c.instance}'s certificate names ${leaf.subject}`);
  }
}

// ---------------------------------------------------------------------------------------------
// TrustChain

async function startTrustChainChild(dir) {
  const bin = join(HERE, '..', 'bin', 'trustchain.js');
  const logPath = join(dir, 'serve.log');
  const fd = openSync(logPath, 'a');
  const child = track(
    spawn(process.execPath, [...(process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean), bin, 'serve', '--data-dir', join(dir, 'data'), '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], { stdio: ['ignore', fd, fd] }),
  );
  closeSync(fd);
  const servePath = join(dir, 'data', 'serve.json');
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`trustchain serve exited (${child.exitCode ?? child.signalCode}); see ${logPath}`);
    if (existsSync(servePath)) {
      try {
        const info = JSON.parse(readFileSync(servePath, 'utf8'));
        if (info.pid === child.pid) return { child, info, dataDir: join(dir, 'data'), logPath };
      } catch {
        // written atomically, but be patient anyway
      }
    }
    if (Date.now() > deadline) throw new Error(`trustchain serve wrote no serve.json within 60 s; see ${logPath}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function benchTrustChain(stoq, opts, clients, warm) {
  const { StoqTransport, derToPem } = stoq.core;
  const { RpcClient, StaticResolver } = stoq.rpc;
  const M = stoq.protos.trustchain.TrustChainMethods;
  const dir = mkdtempSync(join(tmpdir(), 'bench-trustchain-'));
  status(`TrustChain: starting \`trustchain serve\` in ${dir}`);
  const server = await startTrustChainChild(dir);
  try {
    const addr = server.info.stoq;
    const pin = server.info.rootFingerprint.replace(/:/g, '').toLowerCase();
    const all = [...warm, ...clients];
    status(`TrustChain: serving ${addr} (pid ${server.child.pid}); minting ${all.length} join tokens over the admin RPC`);
    await stoq.admin.withAdmin(server.dataDir, async (rpc) => {
      await pool(all, 16, async (c) => {
        const r = await rpc.call(M.createToken, { service: SERVICE, ttlSeconds: 3600 });
        c.token = r.token;
        return 0;
      });
    });

    // One request on a connection of its own, as TrustChainSource does it.
    const closing = [];
    const drain = async () => {
      const t = performance.now();
      const n = closing.length;
      await Promise.all(closing.splice(0));
      status(`TrustChain: ${n} client endpoints drained in ${(performance.now() - t).toFixed(0)} ms after the window (untimed)`);
    };
    const call = async (identity, method, req) => {
      const t0 = performance.now();
      const transport = StoqTransport.create({ identity, bind: '[::1]:0', zeroRtt: false, requirePqKex: true, mtuDiscovery: false });
      let conn;
      try {
        conn = await transport.connect(addr, { serverName: 'trustchain.hypermesh', expectedService: 'trustchain' });
        const c = conn;
        const rpc = new RpcClient({ connector: async () => c, resolver: new StaticResolver({ trustchain: [addr] }), retry: { maxAttempts: 1 } });
        let issued;
        try {
          issued = await rpc.call(method, req, { timeoutMs: 30_000 });
        } finally {
          rpc.close();
        }
        const chain = issued.chain ?? [];
        if (chain.length < 2 || sha256Hex(chain[chain.length - 1]) !== pin) throw new Error(`${method.path}: reply chain of ${chain.length} does not end in the pinned root`);
        return { issued, latency: performance.now() - t0 };
      } finally {
        // The connection is closed here; the endpoint's QUIC draining period (waitIdle: 3 PTO)
        // is the client's to wait out, not the CA's work: it runs on after the slot is free
        // (as a TCP socket's close does for step-ca) and is awaited after the timed window.
        conn?.close(0, 'done');
        closing.push(transport.close());
      }
    };
    const enroll = async (c) => {
      const { issued, latency } = await call({ enrolling: true, trustRootSha256: pin }, M.enroll, { token: c.token, csr: c.enrollCsr.der, falconSignature: c.enrollCsr.falconSignature });
      c.enrolled = issued;
      return latency;
    };
    const identityOf = (c) => {
      const chain = c.enrolled.chain;
      c.identity = {
        service: SERVICE,
        instance: c.instance,
        certChainPem: chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''),
        keyPem: c.keyPem,
        trustRootsPem: derToPem(chain[chain.length - 1], 'CERTIFICATE'),
        falconPublicKey: c.falconPublicKey,
        falconSecretKey: c.falconSecretKey,
      };
    };
    const renew = async (c) => {
      const { issued, latency } = await call(c.identity, M.renewCertificate, { csr: c.renewCsr.der, falconSignature: c.renewCsr.falconSignature });
      if (issued.serial === c.enrolled.serial) throw new Error(`renewal of ${c.instance} returned the same serial`);
      c.renewed = issued;
      return latency;
    };

    status(`TrustChain: warm-up (${warm.length} enroll + renew, untimed)`);
    await pool(warm, opts.concurrency, enroll);
    warm.forEach(identityOf);
    await pool(warm, opts.concurrency, renew);
    await drain();

    status(`TrustChain: timed enroll of ${clients.length}, ${opts.concurrency} in flight`);
    const e = await timed('TrustChain: enroll', server.child.pid, () => pool(clients, opts.concurrency, enroll), { nodeServer: true });
    await drain();
    clients.forEach(identityOf);
    status(`TrustChain: timed renew of ${clients.length}, ${opts.concurrency} in flight`);
    const r = await timed('TrustChain: renew', server.child.pid, () => pool(clients, opts.concurrency, renew), { nodeServer: true });
    await drain();

    verifyIssued('TrustChain enroll', clients, (c) => c.enrolled.chain);
    verifyIssued('TrustChain renew', clients, (c) => c.renewed.chain);
    return { enroll: e, renew: r };
  } finally {
    await stopChild(server.child, 'trustchain serve');
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else status(`TrustChain: kept ${dir}`);
  }
}

// ---------------------------------------------------------------------------------------------
// step-ca

async function benchStepCa(opts, clients, warm) {
  const ca = await import(join(HERE, 'step-ca', 'ca.mjs'));
  const client = await import(join(HERE, 'step-ca', 'client.mjs'));
  const bin = ca.ensureStepCa();
  const dir = mkdtempSync(join(tmpdir(), 'bench-step-ca-'));
  const port = await ca.freePort();
  const cfg = ca.writeStepCaConfig(dir, port);
  status(`step-ca: starting ${bin} on ${cfg.address} in ${dir}`);
  const server = await ca.startStepCa(bin, cfg.configPath, join(dir, 'step-ca.log'), cfg.origin, cfg.rootPem);
  track(server.child);
  try {
    const audience = `${cfg.origin}/1.0/sign`;
    for (const c of [...warm, ...clients]) {
      c.ott = client.jwkSignToken({ provisioner: cfg.provisioner, audience, subject: c.instance, sans: namesOf(c.instance), lifetimeS: 900 });
    }
    const sign = async (c) => {
      const t0 = performance.now();
      c.signed = await client.stepSign(cfg.origin, cfg.rootPem, c.csrPem, c.ott);
      return performance.now() - t0;
    };
    const renew = async (c) => {
      const t0 = performance.now();
      c.renewed = await client.stepRenew(cfg.origin, cfg.rootPem, c.signed.join(''), c.keyPem);
      if (new X509Certificate(c.renewed[0]).serialNumber === new X509Certificate(c.signed[0]).serialNumber) throw new Error(`renewal of ${c.instance} returned the same serial`);
      return performance.now() - t0;
    };
    status(`step-ca: warm-up (${warm.length} sign + renew, untimed)`);
    await pool(warm, opts.concurrency, sign);
    await pool(warm, opts.concurrency, renew);

    status(`step-ca: timed /1.0/sign of ${clients.length}, ${opts.concurrency} in flight`);
    const e = await timed('step-ca: sign', server.pid, () => pool(clients, opts.concurrency, sign));
    status(`step-ca: timed /1.0/renew (mTLS) of ${clients.length}, ${opts.concurrency} in flight`);
    const r = await timed('step-ca: renew', server.pid, () => pool(clients, opts.concurrency, renew));

    verifyIssued('step-ca sign', clients, (c) => c.signed);
    verifyIssued('step-ca renew', clients, (c) => c.renewed);
    return { enroll: e, renew: r, version: ca.STEP_CA_VERSION };
  } finally {
    await server.stop();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    else status(`step-ca: kept ${dir}`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const stoq = loadStoq();
  const total = opts.count + opts.warmup;
  const startedAt = performance.now();

  // Build step-ca first (cached): a build must not land between the two measurements.
  (await import(join(HERE, 'step-ca', 'ca.mjs'))).ensureStepCa();

  status(`generating client keys (untimed): ${total} × (P-256 + FALCON-1024 + 2 CSRs + 2 FALCON proofs) for TrustChain, ${total} × (P-256 + CSR) for step-ca`);
  const t0 = performance.now();
  const tcAll = await keyMaterial('tc', total);
  const scAll = await keyMaterial('sc', total);
  status(`keys ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const tc = await benchTrustChain(stoq, opts, tcAll.slice(opts.warmup), tcAll.slice(0, opts.warmup));
  const sc = await benchStepCa(opts, scAll.slice(opts.warmup), scAll.slice(0, opts.warmup));

  const round = (x) => Math.round(x * 1000) / 1000;
  const ms = (x) => Math.round(x * 100) / 100;
  const line = (bench, stoqR, peerR, peerName) =>
    console.log(
      JSON.stringify({
        bench,
        unit: 'certs/s',
        stoq: round(stoqR.rate),
        peer: round(peerR.rate),
        peerName,
        ratio: peerR.rate > 0 ? round(stoqR.rate / peerR.rate) : null,
        p50Ms: ms(stoqR.p50),
        p99Ms: ms(stoqR.p99),
        peerP50Ms: ms(peerR.p50),
        peerP99Ms: ms(peerR.p99),
        concurrency: opts.concurrency,
        count: opts.count,
      }),
    );
  line('trustchain.enroll', tc.enroll, sc.enroll, `step-ca ${sc.version} /1.0/sign (JWK)`);
  line('trustchain.renew', tc.renew, sc.renew, `step-ca ${sc.version} /1.0/renew (mTLS)`);
  status(`done in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------
// Worker thread: client key material (untimed).
async function keyWorker() {
  const { core } = loadStoq();
  const { from, to, kind } = workerData;
  const out = [];
  for (let i = from; i < to; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const instance = `${kind === 'tc' ? 'tc' : 'sc'}-${i}`;
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    if (kind === 'tc') {
      const falcon = core.nativeFalcon.keypair();
      const csr = (ipAddresses) => {
        const der = core.createCsr({ service: SERVICE, instance, tlsKey: privateKey, falconPublicKey: falcon.publicKey, ipAddresses });
        return { der, falconSignature: core.nativeFalcon.sign(falcon.secretKey, core.falconCsrMessage(der)) };
      };
      out.push({ instance, keyPem, falconPublicKey: falcon.publicKey, falconSecretKey: falcon.secretKey, enrollCsr: csr([]), renewCsr: csr([]) });
    } else {
      const { plainCsr, csrPem } = await import(join(HERE, 'step-ca', 'client.mjs'));
      const der = plainCsr({ key: privateKey, publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: instance, dnsNames: namesOf(instance) });
      out.push({ instance, keyPem, csrPem: csrPem(der) });
    }
  }
  parentPort.postMessage(out);
}


// ---------------------------------------------------------------------------------------------

if (!isMainThread) {
  await keyWorker();
} else {
  try {
    await main();
  } catch (err) {
    process.stderr.write(`enroll-renew: FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  }
  // Exit explicitly: the QUIC engine's threads must not keep a finished run alive.
  process.exit(0);
}

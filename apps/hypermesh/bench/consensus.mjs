#!/usr/bin/env node
// consensus_commit_latency and consensus_throughput: HyperMesh (4 validator processes on [::1],
// enrolled with TrustChain, peers through TrustChain DNS, FALCON-1024 votes, SQLite block log with
// fsync) against CometBFT v0.38 with its built-in kvstore app (4 validator processes on 127.0.0.1,
// goleveldb), in the same run, the same operation size and the same offered load, both measured at
// the client from submission to the committed answer:
//   HyperMesh  hypermesh/consensus/submit (answers when the operation is committed, with its QC)
//   CometBFT   /broadcast_tx_commit over HTTP JSON-RPC (answers when the tx is in a committed block)
// CometBFT runs twice: as `cometbft testnet` configures it (timeout_commit 1 s) and tuned for
// latency (timeout_commit 10 ms, skip_timeout_commit, gossip sleep and p2p flush throttle 10 ms). Each client request goes to
// one of the four validators in turn, for both systems.
//
//   node apps/hypermesh/bench/consensus.mjs [--rate R] [--seconds S] [--in-flight C] [--op-bytes B]
//                                          [--systems hypermesh,cometbft,cometbft-tuned]
//
// Three loads per system: open loop at R operations/s for S seconds (latency at the same offered
// load; an operation counts from its scheduled send time, so a system that falls behind is charged
// for it), closed loop with C operations in flight for S seconds (throughput; worker w always calls
// validator w mod 4), and then, with the fourth validator killed (SIGKILL), the open loop again at
// R/4 operations/s against the three others (commit latency while one validator is down: the
// views or rounds it would lead must be got past). CometBFT is built with
// `go install` into ~/.cache/stoq/bin if it is not there. One JSON line per figure on stdout
// ({"bench","unit","stoq","peer","peerName","ratio"}; ratio = stoq / peer, lower is better for
// latencies), progress on stderr. A refused or failed operation fails the run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { homedir, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { start, startHyperMeshCluster, stop } from '../../../scripts/bench-cluster.mjs';

const require = createRequire(import.meta.url);
const COMETBFT_VERSION = 'v0.38.17';
const COMETBFT = join(homedir(), '.cache', 'stoq', 'bin', 'cometbft');

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const round = (x) => Math.round(x * 100) / 100;
function emit(bench, unit, stoq, peer, peerName, extra) {
  process.stdout.write(`${JSON.stringify({ bench, unit, stoq: round(stoq), peer: round(peer), peerName, ratio: round(stoq / peer), ...extra })}\n`);
}
function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function usage() {
  process.stderr.write('usage: consensus.mjs [--rate R] [--seconds S] [--in-flight C] [--op-bytes B] [--systems hypermesh,cometbft,cometbft-tuned]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { rate: 200, seconds: 10, inFlight: 256, opBytes: 100, systems: ['hypermesh', 'cometbft', 'cometbft-tuned'] };
  const names = { '--rate': 'rate', '--seconds': 'seconds', '--in-flight': 'inFlight', '--op-bytes': 'opBytes' };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--systems') {
      opts.systems = String(argv[i + 1]).split(',');
      if (opts.systems.some((s) => !['hypermesh', 'cometbft', 'cometbft-tuned'].includes(s))) usage();
      continue;
    }
    const v = Number(argv[i + 1]);
    if (!names[argv[i]] || !Number.isInteger(v) || v <= 0) usage();
    opts[names[argv[i]]] = v;
  }
  if (opts.inFlight > 4 * 100) throw new Error('--in-flight is at most 400 (100 calls per connection, one connection per validator)');
  if (opts.opBytes < 24) throw new Error('--op-bytes must be at least 24 (the operation carries its unique key)');
  return opts;
}

// ------------------------------------------------------------------------------ processes

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------------------ load

/** A unique operation of `bytes` bytes: `bench-<run>-<seq>=` then filler (CometBFT kvstore: key=value). */
function operation(run, seq, bytes) {
  const head = `b${run}-${seq}=`;
  return Buffer.from(head + 'x'.repeat(bytes - head.length));
}

/**
 * Open loop: operation k is due at t0 + k/rate and counts from then (not from when it was sent),
 * so queueing inside a system that falls behind is in its latency. Closed loop: `inFlight`
 * workers each send the next operation when the previous one is answered.
 */
async function openLoop(submit, { rate, seconds }) {
  const total = rate * seconds;
  const latencies = [];
  const pending = [];
  const t0 = performance.now();
  for (let k = 0; k < total; k++) {
    const due = t0 + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(submit(k).then(() => latencies.push(performance.now() - due)));
  }
  await Promise.all(pending);
  const elapsedS = (performance.now() - t0) / 1000;
  return { ops: total, rate: total / elapsedS, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function closedLoop(submit, { inFlight, seconds }) {
  const latencies = [];
  let next = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      while (performance.now() < end) {
        const s = performance.now();
        await submit(next++, w);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  return { ops: latencies.length, rate: latencies.length / elapsedS, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const describe = (name, r) => `${name}: ${r.ops} ops, ${r.rate.toFixed(1)} ops/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`;

// ------------------------------------------------------------------------------ HyperMesh

/** STOQ_BENCH_PROFILE=DIR: each validator writes a V8 CPU profile there when it stops. */
const profileFlags = () => (process.env.STOQ_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.STOQ_BENCH_PROFILE] : []);

async function hypermeshCluster(dir) {
  const rpcLib = require('@stoq/rpc');
  const protos = require('@stoq/protos');
  const cluster = await startHyperMeshCluster(dir, { chainId: 'consensus-bench', nodeFlags: profileFlags() });
  // One STOQ connection per validator, as TrustChain's admin.
  const targets = cluster.validators.map((v) => v.ready.stoq);
  const rpc = new rpcLib.RpcClient({
    connector: (ep, o) => cluster.admin.transport.connect(ep, { ...o, serverName: 'hypermesh.hypermesh' }),
    resolver: new rpcLib.StaticResolver({ hypermesh: targets }),
    retry: { maxAttempts: 1 },
  });
  const H = protos.hypermesh.ConsensusMethods;
  let runs = 0;
  return {
    name: 'hypermesh',
    newRun(live = 4) {
      const run = `h${runs++}`;
      return (seq, bytes, worker = seq) => rpc.call(H.submit, { operationId: `${run}-${seq}`, payload: operation(run, seq, bytes) }, { timeoutMs: 60_000, target: targets[worker % live] });
    },
    async killLast() {
      const child = cluster.validators[3].child;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      rpc.close();
      await cluster.close();
    },
  };
}

// ------------------------------------------------------------------------------ CometBFT

function ensureCometBft() {
  const have = existsSync(COMETBFT) && spawnSync(COMETBFT, ['version'], { encoding: 'utf8' }).stdout.trim() === COMETBFT_VERSION.slice(1);
  if (have) return;
  log(`building CometBFT ${COMETBFT_VERSION} with go install (about a minute)`);
  const r = spawnSync('go', ['install', `github.com/cometbft/cometbft/cmd/cometbft@${COMETBFT_VERSION}`], {
    env: { ...process.env, GOBIN: dirname(COMETBFT), GOFLAGS: '-mod=mod' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`go install cometbft failed (is Go installed? GOSUMDB=off helps if the checksum lookup fails): ${r.stderr}`);
}

/** Sets `key = value` in the TOML section that already holds it (CometBFT's config has unique keys per section). */
function setToml(text, section, key, value) {
  const start = text.indexOf(`[${section}]`);
  if (start < 0) throw new Error(`config.toml has no [${section}]`);
  const re = new RegExp(`^${key} = .*$`, 'm');
  const rest = text.slice(start);
  if (!re.test(rest)) throw new Error(`config.toml [${section}] has no ${key}`);
  return text.slice(0, start) + rest.replace(re, `${key} = ${value}`);
}

async function cometCluster(dir, tuned) {
  ensureCometBft();
  const out = join(dir, tuned ? 'cometbft-tuned' : 'cometbft');
  const gen = spawnSync(COMETBFT, ['testnet', '--v', '4', '--o', out, ...Array(4).fill(['--hostname', '127.0.0.1']).flat()], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`cometbft testnet: ${gen.stderr}`);
  const p2p = [];
  const rpcPorts = [];
  for (let i = 0; i < 4; i++) p2p.push(await freeTcpPort()), rpcPorts.push(await freeTcpPort());
  const ids = [0, 1, 2, 3].map((i) => spawnSync(COMETBFT, ['show-node-id', '--home', join(out, `node${i}`)], { encoding: 'utf8' }).stdout.trim());
  const procs = [];
  for (let i = 0; i < 4; i++) {
    const file = join(out, `node${i}`, 'config', 'config.toml');
    let t = readFileSync(file, 'utf8');
    t = t.replace(/^proxy_app = .*$/m, 'proxy_app = "kvstore"');
    t = setToml(t, 'rpc', 'laddr', `"tcp://127.0.0.1:${rpcPorts[i]}"`);
    t = setToml(t, 'p2p', 'laddr', `"tcp://127.0.0.1:${p2p[i]}"`);
    t = setToml(t, 'p2p', 'persistent_peers', `"${ids.map((id, j) => (j === i ? null : `${id}@127.0.0.1:${p2p[j]}`)).filter(Boolean).join(',')}"`);
    // Enough broadcast_tx_commit waiters for the closed loop (each holds a subscription).
    t = setToml(t, 'rpc', 'max_subscription_clients', '2000');
    t = setToml(t, 'rpc', 'max_open_connections', '4000');
    t = setToml(t, 'rpc', 'timeout_broadcast_tx_commit', '"60s"');
    if (tuned) {
      t = setToml(t, 'consensus', 'timeout_commit', '"10ms"');
      t = setToml(t, 'consensus', 'skip_timeout_commit', 'true');
      t = setToml(t, 'consensus', 'peer_gossip_sleep_duration', '"10ms"');
      // Every consensus step is a p2p message round; the default flush throttle (100 ms) would
      // hold each one back.
      t = setToml(t, 'p2p', 'flush_throttle_timeout', '"10ms"');
    }
    writeFileSync(file, t);
  }
  for (let i = 0; i < 4; i++) {
    const p = await start(COMETBFT, ['start', '--home', join(out, `node${i}`)], {
      cwd: out,
      logPath: join(dir, `${tuned ? 'cometbft-tuned' : 'cometbft'}-${i}.log`),
      ready: (t) => /Started node|Starting RPC HTTP server/.test(t),
    });
    procs.push(p.child);
  }
  const urls = rpcPorts.map((p) => `http://127.0.0.1:${p}`);
  for (const deadline = Date.now() + 60_000; ; ) {
    const s = await fetch(`${urls[0]}/status`).then((r) => r.json()).catch(() => null);
    if (s && Number(s.result.sync_info.latest_block_height) >= 2) break;
    if (Date.now() > deadline) throw new Error('CometBFT did not start committing within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  let runs = 0;
  return {
    name: tuned ? 'cometbft-tuned' : 'cometbft',
    newRun(live = 4) {
      const run = `c${runs++}`;
      return async (seq, bytes, worker = seq) => {
        const tx = operation(run, seq, bytes).toString('hex');
        const res = await fetch(`${urls[worker % live]}/broadcast_tx_commit?tx=0x${tx}`);
        const body = await res.json();
        const r = body.result;
        if (!r || r.check_tx.code !== 0 || r.tx_result.code !== 0) throw new Error(`CometBFT refused an operation: ${JSON.stringify(body).slice(0, 300)}`);
      };
    },
    async killLast() {
      const child = procs[3];
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      for (const c of procs.reverse()) await stop(c);
    },
  };
}

// ------------------------------------------------------------------------------ main

async function measure(system, opts) {
  const open = system.newRun();
  const o = await openLoop((k) => open(k, opts.opBytes), opts);
  log(describe(`${system.name} open loop ${opts.rate}/s`, o));
  const closed = system.newRun();
  const c = await closedLoop((k, w) => closed(k, opts.opBytes, w), opts);
  log(describe(`${system.name} closed loop ${opts.inFlight} in flight`, c));
  await system.killLast();
  const down = system.newRun(3);
  const downOpts = { ...opts, rate: Math.max(1, Math.floor(opts.rate / 4)) };
  const d = await openLoop((k) => down(k, opts.opBytes), downOpts);
  log(describe(`${system.name} open loop ${downOpts.rate}/s, one validator of four killed`, d));
  return { open: o, closed: c, oneDown: d };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'stoq-consensus-bench-'));
  const results = {};
  try {
    const makers = { hypermesh: () => hypermeshCluster(dir), cometbft: () => cometCluster(dir, false), 'cometbft-tuned': () => cometCluster(dir, true) };
    for (const name of opts.systems) {
      const system = await makers[name]();
      try {
        results[system.name] = await measure(system, opts);
      } finally {
        await system.close();
      }
    }
  } catch (err) {
    log(`logs kept in ${dir}`);
    throw err;
  }
  if (process.env.STOQ_BENCH_KEEP) log(`logs kept in ${dir} (STOQ_BENCH_KEEP)`);
  else rmSync(dir, { recursive: true, force: true });
  const h = results.hypermesh;
  if (!h) return;
  const extra = { validators: 4, opBytes: opts.opBytes, loadavg1: round(loadavg()[0]) };
  for (const [peer, label] of [
    ['cometbft', `CometBFT ${COMETBFT_VERSION} kvstore (cometbft testnet defaults)`],
    ['cometbft-tuned', `CometBFT ${COMETBFT_VERSION} kvstore (timeout_commit 10ms)`],
  ]) {
    const c = results[peer];
    if (!c) continue;
    emit('consensus_commit_latency_p50', 'ms', h.open.p50, c.open.p50, label, { ...extra, offeredOpsPerSecond: opts.rate });
    emit('consensus_commit_latency_p99', 'ms', h.open.p99, c.open.p99, label, { ...extra, offeredOpsPerSecond: opts.rate });
    emit('consensus_throughput', 'ops/s', h.closed.rate, c.closed.rate, label, { ...extra, inFlight: opts.inFlight });
    const down = { ...extra, offeredOpsPerSecond: Math.max(1, Math.floor(opts.rate / 4)), validatorsUp: 3 };
    emit('consensus_commit_latency_one_down_p50', 'ms', h.oneDown.p50, c.oneDown.p50, label, down);
    emit('consensus_commit_latency_one_down_p99', 'ms', h.oneDown.p99, c.oneDown.p99, label, down);
  }
}

main().catch((err) => {
  process.stderr.write(`consensus bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});

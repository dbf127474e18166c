#!/usr/bin/env node
// handshake_under_load: how long a fresh connection plus one echo takes while another client
// saturates the server with fast server-streaming calls, for STOQ and for grpc-js (+TLS) under
// the same load. Three processes per system, so the probe and the load never share a JS thread:
//   server  – the RPC server (echo + a streaming method),
//   load    – LOAD_CALLS concurrent streaming calls of STREAM_COUNT messages, read as fast as
//             possible, restarted as they end,
//   probe   – this process: PROBES sequential fresh connections, each with one echo call.
// Also reports the server's RSS per idle connection and per stalled streaming call (the
// client reads a few messages, then stops reading).
// Usage: node bench/under-load.js [--quick]. Prints one JSON line per figure.
'use strict';
const { fork } = require('node:child_process');
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { once } = require('node:events');

const QUICK = process.argv.includes('--quick');
const PROBES = QUICK ? 30 : 200;
const LOAD_CALLS = 50;
const STREAM_COUNT = 100_000;
const IDLE_CONNECTIONS = QUICK ? 100 : 500;
const STALLED_CALLS = 100;
const PROBE_TIMEOUT_MS = 15_000;

const protobuf = require('protobufjs');
const root = protobuf.Root.fromJSON({
  nested: {
    bench: {
      nested: {
        Blob: { fields: { data: { type: 'bytes', id: 1 } } },
        StreamRequest: { fields: { count: { type: 'uint32', id: 1 } } },
        Tick: { fields: { seq: { type: 'uint32', id: 1 }, text: { type: 'string', id: 2 } } },
      },
    },
  },
});
const Blob = root.lookupType('bench.Blob');
const StreamRequest = root.lookupType('bench.StreamRequest');
const Tick = root.lookupType('bench.Tick');
const TICK_TEXT = 'x'.repeat(64);

// ---------------------------------------------------------------- STOQ
function stoqDefs() {
  const rpc = require('@stoq/rpc');
  return {
    rpc,
    echo: rpc.defineMethod({ path: 'bench/echo', kind: 'unary', requestType: Blob, responseType: Blob }),
    ticks: rpc.defineMethod({ path: 'bench/ticks', kind: 'server_streaming', requestType: StreamRequest, responseType: Tick }),
  };
}

async function stoqIdentity(dir, service, instance) {
  const core = require('@stoq/core');
  const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
  return core.NodeIdentity.loadOrCreate({ dataDir: join(dir, instance), service, instance, ca });
}

async function stoqServer(dir) {
  const core = require('@stoq/core');
  const { rpc, echo, ticks } = stoqDefs();
  const server = new rpc.RpcServer({ service: 'bench', limits: { maxConcurrentStreams: 1024 } });
  server.addMethod(echo, (req) => ({ data: req.data }), { authorize: 'any-authenticated' });
  server.addMethod(ticks, async function* (req, ctx) {
    for (let i = 0; i < req.count && !ctx.signal.aborted; i++) yield { seq: i, text: TICK_TEXT };
  }, { authorize: 'any-authenticated' });
  const identity = await stoqIdentity(dir, 'bench', 'bench-server');
  const transport = core.StoqTransport.listen({ identity, bind: '[::1]:0', maxConcurrentStreams: 1024, maxConnections: 100_000 });
  void (async () => {
    for (;;) {
      const conn = await transport.accept();
      if (!conn) return;
      void server.serveConnection(conn);
    }
  })();
  return transport.localAddress;
}

async function stoqClient(dir, instance) {
  const core = require('@stoq/core');
  const identity = await stoqIdentity(dir, 'bench-client', instance);
  return core.StoqTransport.create({ identity, bind: '[::1]:0' });
}

async function stoqLoad(dir, target) {
  const { rpc, ticks } = stoqDefs();
  const dialer = await stoqClient(dir, 'bench-load');
  const client = new rpc.RpcClient({ connector: (ep, o) => dialer.connect(ep, o), resolver: new rpc.StaticResolver({ bench: [target] }) });
  let messages = 0;
  setInterval(() => process.send({ messages }), 500);
  await Promise.all(Array.from({ length: LOAD_CALLS }, async () => {
    for (;;) for await (const _ of client.serverStream(ticks, { count: STREAM_COUNT })) messages++;
  }));
}

async function stoqProbe(dir, target) {
  const { rpc, echo } = stoqDefs();
  const dialer = await stoqClient(dir, 'bench-probe');
  // One connection outside the samples: identity loading, JIT and the chain cache are not
  // what this figure is about.
  const probeOnce = async () => {
    const t0 = process.hrtime.bigint();
    const client = new rpc.RpcClient({ connector: (ep, o) => dialer.connect(ep, o), resolver: new rpc.StaticResolver({ bench: [target] }) });
    try {
      await client.call(echo, { data: Buffer.alloc(100, 1) }, { timeoutMs: PROBE_TIMEOUT_MS });
    } finally {
      client.close();
    }
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  await probeOnce();
  return probeOnce;
}

async function stoqStalled(dir, target, n) {
  const { rpc, ticks } = stoqDefs();
  const dialer = await stoqClient(dir, 'bench-stall');
  const client = new rpc.RpcClient({ connector: (ep, o) => dialer.connect(ep, o), resolver: new rpc.StaticResolver({ bench: [target] }) });
  const iters = [];
  for (let i = 0; i < n; i++) {
    const it = client.serverStream(ticks, { count: STREAM_COUNT })[Symbol.asyncIterator]();
    for (let k = 0; k < 10; k++) await it.next();
    iters.push(it); // never read again
  }
  return iters;
}

async function stoqIdle(dir, target, n) {
  const dialer = await stoqClient(dir, 'bench-idle');
  const conns = [];
  for (let i = 0; i < n; i++) conns.push(await dialer.connect(target));
  return conns;
}

// ---------------------------------------------------------------- grpc-js
function grpcService() {
  const ser = (T) => (obj) => Buffer.from(T.encode(obj).finish());
  const de = (T) => (buf) => T.decode(buf);
  return {
    echo: { path: '/bench.Bench/Echo', requestStream: false, responseStream: false, requestSerialize: ser(Blob), requestDeserialize: de(Blob), responseSerialize: ser(Blob), responseDeserialize: de(Blob) },
    ticks: { path: '/bench.Bench/Ticks', requestStream: false, responseStream: true, requestSerialize: ser(StreamRequest), requestDeserialize: de(StreamRequest), responseSerialize: ser(Tick), responseDeserialize: de(Tick) },
  };
}

function grpcCert(dir) {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:::1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
}

async function grpcServer(dir) {
  const grpc = require('@grpc/grpc-js');
  const server = new grpc.Server();
  server.addService(grpcService(), {
    echo: (call, cb) => cb(null, { data: call.request.data }),
    ticks: async (call) => {
      for (let i = 0; i < call.request.count && !call.cancelled; i++) {
        if (!call.write({ seq: i, text: TICK_TEXT })) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    },
  });
  const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(join(dir, 'key.pem')), cert_chain: readFileSync(join(dir, 'cert.pem')) }], false);
  const port = await new Promise((resolve, reject) => server.bindAsync('[::1]:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  return `[::1]:${port}`;
}

function grpcClient(dir, target, fresh) {
  const grpc = require('@grpc/grpc-js');
  const Client = grpc.makeGenericClientConstructor(grpcService(), 'Bench');
  const opts = { 'grpc.ssl_target_name_override': 'localhost' };
  // A distinct channel option keeps grpc-js from sharing one subchannel (connection) between clients.
  if (fresh) opts['grpc.bench_probe'] = fresh;
  return new Client(target, grpc.credentials.createSsl(readFileSync(join(dir, 'cert.pem'))), opts);
}

async function grpcLoad(dir, target) {
  const client = grpcClient(dir, target);
  let messages = 0;
  setInterval(() => process.send({ messages }), 500);
  const one = () => new Promise((resolve) => {
    const call = client.ticks({ count: STREAM_COUNT });
    call.on('data', () => messages++);
    call.on('end', resolve);
    call.on('error', resolve);
  });
  await Promise.all(Array.from({ length: LOAD_CALLS }, async () => { for (;;) await one(); }));
}

async function grpcProbe(dir, target) {
  let n = 0;
  const probeOnce = async () => {
    const t0 = process.hrtime.bigint();
    const client = grpcClient(dir, target, ++n);
    try {
      await new Promise((resolve, reject) =>
        client.echo({ data: Buffer.alloc(100, 1) }, { deadline: Date.now() + PROBE_TIMEOUT_MS }, (e, r) => (e ? reject(e) : resolve(r))));
    } finally {
      client.close();
    }
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  await probeOnce();
  return probeOnce;
}

async function grpcStalled(dir, target, n) {
  const client = grpcClient(dir, target);
  const calls = [];
  for (let i = 0; i < n; i++) {
    const call = client.ticks({ count: STREAM_COUNT });
    let got = 0;
    await new Promise((resolve) => call.on('data', () => { if (++got === 10) { call.pause(); resolve(); } }));
    calls.push(call);
  }
  return calls;
}

async function grpcIdle(dir, target, n) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = grpcClient(dir, target, `idle-${i}`);
    await new Promise((resolve, reject) => c.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
    clients.push(c);
  }
  return clients;
}

const SYSTEMS = {
  stoq: { server: stoqServer, load: stoqLoad, probe: stoqProbe, stalled: stoqStalled, idle: stoqIdle },
  grpc: { server: grpcServer, load: grpcLoad, probe: grpcProbe, stalled: grpcStalled, idle: grpcIdle },
};

// ---------------------------------------------------------------- child roles
async function child(role, system, dir, target) {
  const sys = SYSTEMS[system];
  if (role === 'server') {
    const addr = await sys.server(dir);
    process.on('message', (m) => {
      if (m === 'rss') {
        global.gc?.();
        process.send({ rss: process.memoryUsage().rss });
      }
    });
    process.send({ addr });
  } else if (role === 'load') {
    await sys.load(dir, target);
  } else if (role === 'hold') {
    const [kind, count] = target.split('|').slice(1);
    const addr = target.split('|')[0];
    const held = kind === 'idle' ? await sys.idle(dir, addr, Number(count)) : await sys.stalled(dir, addr, Number(count));
    process.send({ held: held.length });
  }
}

// ---------------------------------------------------------------- coordinator
function spawnRole(role, system, dir, target = '') {
  return fork(__filename, ['--role', role, system, dir, target], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function nextMessage(proc, key) {
  for (;;) {
    const [m] = await Promise.race([once(proc, 'message'), once(proc, 'exit').then(([code]) => { throw new Error(`child exited with ${code} before sending ${key}`); })]);
    if (m && m[key] !== undefined) return m;
  }
}

function progress(system, what) {
  if (process.env.BENCH_VERBOSE) process.stderr.write(`under-load ${system}: ${what}\n`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function probeRun(probe) {
  const samples = [];
  let failures = 0;
  for (let i = 0; i < PROBES; i++) {
    try {
      samples.push(await probe());
    } catch {
      failures++;
    }
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), failures };
}

async function rssOf(server) {
  server.send('rss');
  return (await nextMessage(server, 'rss')).rss;
}

async function measureMemory(system, dir) {
  const sys = SYSTEMS[system];
  const server = spawnRole('server', system, dir);
  const { addr } = await nextMessage(server, 'addr');
  progress(system, `server on ${addr}`);

  // Memory first, on a fresh server: idle connections, then stalled calls on top of them.
  const rss0 = await rssOf(server);
  const idleHolder = spawnRole('hold', system, dir, `${addr}|idle|${IDLE_CONNECTIONS}`);
  await nextMessage(idleHolder, 'held');
  const rss1 = await rssOf(server);
  const stallHolder = spawnRole('hold', system, dir, `${addr}|stalled|${STALLED_CALLS}`);
  await nextMessage(stallHolder, 'held');
  const rss2 = await rssOf(server);
  progress(system, `server RSS ${mib(rss0)} fresh, ${mib(rss1)} with ${IDLE_CONNECTIONS} idle connections, ${mib(rss2)} with ${STALLED_CALLS} stalled calls more`);
  idleHolder.kill('SIGKILL');
  stallHolder.kill('SIGKILL');
  server.kill('SIGKILL');
  return { rssPerIdleConnKiB: (rss1 - rss0) / IDLE_CONNECTIONS / 1024, rssPerStalledStreamKiB: (rss2 - rss1) / STALLED_CALLS / 1024 };
}

/** Fresh connections + one echo, without load and under load, on a server of its own. */
async function measureProbes(system, dir) {
  const sys = SYSTEMS[system];
  const server = spawnRole('server', system, dir);
  const { addr } = await nextMessage(server, 'addr');
  const probe = await sys.probe(dir, addr);
  const idle = await probeRun(probe);
  progress(system, `unloaded probes done (p99 ${idle.p99.toFixed(2)} ms)`);
  const load = spawnRole('load', system, dir, addr);
  // The load is on once messages flow; measure only then.
  for (;;) if ((await nextMessage(load, 'messages')).messages > 10_000) break;
  const before = (await nextMessage(load, 'messages')).messages;
  const t0 = Date.now();
  progress(system, 'load running');
  const loaded = await probeRun(probe);
  const loadRate = ((await nextMessage(load, 'messages')).messages - before) / ((Date.now() - t0) / 1000);
  progress(system, `loaded probes done (p99 ${loaded.p99.toFixed(2)} ms, ${loaded.failures} failed, load ${Math.round(loadRate)} msgs/s)`);
  load.kill('SIGKILL');
  server.kill('SIGKILL');
  return { idle, loaded, loadRate };
}

async function measure(system, dir) {
  return { ...(await measureProbes(system, dir)), ...(await measureMemory(system, dir)) };
}

function mib(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function line(bench, unit, stoq, peer, extra = {}) {
  const r = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({ bench, unit, stoq: r(stoq), peer: r(peer), peerName: 'grpc-js+tls', ratio: peer > 0 ? r(stoq / peer) : null, ...extra }));
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'stoq-under-load-'));
  try {
    await stoqIdentity(dir, 'bench', 'bench-server'); // creates the shared dev CA once
    grpcCert(dir);
    const stoq = await measure('stoq', dir);
    const grpc = await measure('grpc', dir);
    const ctx = (s) => ({ unloadedP50: s.idle.p50, unloadedP99: s.idle.p99, failures: s.loaded.failures, loadMsgsPerSec: Math.round(s.loadRate) });
    line('handshake_under_load_p50', 'ms', stoq.loaded.p50, grpc.loaded.p50, { stoqDetail: ctx(stoq), peerDetail: ctx(grpc) });
    line('handshake_under_load_p99', 'ms', stoq.loaded.p99, grpc.loaded.p99, { goal: '<= 50 ms' });
    line('handshake_unloaded_p99', 'ms', stoq.idle.p99, grpc.idle.p99);
    line('rss_per_idle_connection', 'KiB', stoq.rssPerIdleConnKiB, grpc.rssPerIdleConnKiB);
    line('rss_per_stalled_stream', 'KiB', stoq.rssPerStalledStreamKiB, grpc.rssPerStalledStreamKiB);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

const roleAt = process.argv.indexOf('--role');
if (roleAt >= 0) {
  const [role, system, dir, target] = process.argv.slice(roleAt + 1);
  child(role, system, dir, target).catch((err) => {
    console.error(`${role} (${system}) failed:`, err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

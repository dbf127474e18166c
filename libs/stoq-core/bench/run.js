// Transport benchmarks: STOQ (QUIC + TLS 1.3 + FALCON exchange) against Node's TLS 1.3 over TCP,
// both on [::1], in the same process run. One JSON line per figure:
//   {"bench","unit","stoq","peer","peerName","ratio"}   ratio = stoq / peer
// For throughput units higher is better; for latency units (ms) lower is better.
// Sizes: BENCH_BULK_BYTES (default 1 GiB), BENCH_HANDSHAKES (200), BENCH_ROUNDTRIPS (2000).
// Both stacks run with their default settings; for STOQ that includes the MTU-discovery ceiling
// (maxUdpPayload 4096), while TCP on loopback segments at the interface MTU (65536) by itself.
'use strict';
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const tls = require('node:tls');
const { performance } = require('node:perf_hooks');
const { DevCa, NodeIdentity, StoqTransport, serveEcho } = require('../dist');

const BULK = Number(process.env.BENCH_BULK_BYTES ?? 1 << 30);
const HANDSHAKES = Number(process.env.BENCH_HANDSHAKES ?? 200);
const ROUNDTRIPS = Number(process.env.BENCH_ROUNDTRIPS ?? 2000);
const CHUNK = 1 << 20;

function emit(bench, unit, stoq, peer) {
  const r = (x) => Math.round(x * 1000) / 1000;
  process.stdout.write(JSON.stringify({ bench, unit, stoq: r(stoq), peer: r(peer), peerName: 'node-tls-tcp', ratio: r(stoq / peer) }) + '\n');
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function identities(dir) {
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const server = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'server'), service: 'bench', instance: 'bench-server', ca });
  const client = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'client'), service: 'bench', instance: 'bench-client', ca });
  return { server, client };
}

// ---- STOQ side ----
function stoqEchoServer(identity, extra = {}) {
  const t = StoqTransport.listen({ identity, bind: '[::1]:0', ...extra });
  (async () => {
    for (;;) {
      const c = await t.accept();
      if (!c) return;
      serveEcho(c);
    }
  })();
  return t;
}

function stoqSinkServer(identity) {
  const t = StoqTransport.listen({ identity, bind: '[::1]:0' });
  (async () => {
    for (;;) {
      const c = await t.accept();
      if (!c) return;
      (async () => {
        for (;;) {
          const s = await c.acceptStream();
          if (!s) return;
          let n = 0;
          for (;;) {
            const chunk = await s.read(1 << 20);
            if (chunk === null) break;
            n += chunk.length;
          }
          await s.sendMessage(Buffer.from(String(n)));
          s.finish();
        }
      })();
    }
  })();
  return t;
}

async function stoqBulk(ids) {
  const server = stoqSinkServer(ids.server);
  const client = StoqTransport.create({ identity: ids.client, bind: '[::1]:0' });
  const conn = await client.connect(server.localAddress);
  const s = await conn.openStream();
  const chunk = Buffer.alloc(CHUNK, 7);
  const t0 = performance.now();
  for (let sent = 0; sent < BULK; sent += CHUNK) await s.write(chunk);
  s.finish();
  const n = Number(Buffer.from(await s.receiveMessage()).toString());
  const secs = (performance.now() - t0) / 1000;
  if (n !== BULK) throw new Error(`stoq bulk: server got ${n} bytes of ${BULK}`);
  await client.close();
  await server.close();
  return BULK / secs / 1e6;
}

async function stoqHandshakes(ids) {
  const server = stoqEchoServer(ids.server, { zeroRtt: true });
  const client = StoqTransport.create({ identity: ids.client, bind: '[::1]:0', zeroRtt: true });
  const full = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const t0 = performance.now();
    const c = await client.connect(server.localAddress);
    full.push(performance.now() - t0);
    c.close();
  }
  // 0-RTT: time from connect() to the echo of an early-data request (vs the same after a full handshake).
  const warm = await client.connect(server.localAddress, { zeroRtt: true });
  await echo(warm, false);
  warm.close();
  const early = [];
  const fullEcho = [];
  let accepted = 0;
  for (let i = 0; i < HANDSHAKES; i++) {
    let t0 = performance.now();
    const c0 = await client.connect(server.localAddress, { zeroRtt: true });
    await echo(c0, true);
    early.push(performance.now() - t0);
    await c0.ready;
    if (c0.zeroRtt) accepted++;
    c0.close();
    t0 = performance.now();
    const c1 = await client.connect(server.localAddress);
    await echo(c1, false);
    fullEcho.push(performance.now() - t0);
    c1.close();
  }
  await client.close();
  await server.close();
  return { full, early, fullEcho, accepted };
}

async function echo(conn, early) {
  const s = await conn.openStream({ early });
  await s.sendMessage(Buffer.from('ping'));
  s.finish();
  await s.receiveMessage();
}

async function stoqRoundTrips(ids) {
  const server = stoqEchoServer(ids.server);
  const client = StoqTransport.create({ identity: ids.client, bind: '[::1]:0' });
  const conn = await client.connect(server.localAddress);
  const s = await conn.openStream();
  const msg = Buffer.alloc(100, 1);
  const lat = [];
  for (let i = 0; i < ROUNDTRIPS; i++) {
    const t0 = performance.now();
    await s.sendMessage(msg);
    await s.receiveMessage();
    lat.push(performance.now() - t0);
  }
  s.finish();
  await client.close();
  await server.close();
  return lat;
}

// ---- Node TLS over TCP ----
function tlsOptions(id) {
  return { key: id.keyPem, cert: id.certChainPem, ca: id.trustRootsPem, minVersion: 'TLSv1.3' };
}

function tlsServer(ids, onSocket) {
  return new Promise((resolve) => {
    const srv = tls.createServer({ ...tlsOptions(ids.server), requestCert: true, rejectUnauthorized: true }, onSocket);
    srv.listen(0, '::1', () => resolve(srv));
  });
}

function tlsConnect(ids, port, session) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ ...tlsOptions(ids.client), host: '::1', port, servername: undefined, checkServerIdentity: () => undefined, session });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

async function tlsBulk(ids) {
  let done;
  const finished = new Promise((r) => (done = r));
  const srv = await tlsServer(ids, (sock) => {
    let n = 0;
    sock.on('data', (d) => (n += d.length));
    sock.on('end', () => {
      sock.end(String(n));
      done(n);
    });
  });
  const c = await tlsConnect(ids, srv.address().port);
  const chunk = Buffer.alloc(CHUNK, 7);
  const t0 = performance.now();
  for (let sent = 0; sent < BULK; sent += CHUNK) {
    if (!c.write(chunk)) await new Promise((r) => c.once('drain', r));
  }
  c.end();
  const n = await finished;
  const secs = (performance.now() - t0) / 1000;
  c.destroy();
  srv.close();
  if (n !== BULK) throw new Error(`tls bulk: server got ${n}`);
  return BULK / secs / 1e6;
}

async function tlsHandshakes(ids) {
  const srv = await tlsServer(ids, (sock) => sock.on('data', (d) => sock.write(d)).on('error', () => undefined));
  const port = srv.address().port;
  const lat = [];
  let session;
  for (let i = 0; i < HANDSHAKES; i++) {
    const t0 = performance.now();
    const c = await tlsConnect(ids, port);
    lat.push(performance.now() - t0);
    c.once('session', (s) => (session = s));
    c.destroy();
  }
  srv.close();
  return lat;
}

async function tlsRoundTrips(ids) {
  const srv = await tlsServer(ids, (sock) => sock.on('data', (d) => sock.write(d)));
  const c = await tlsConnect(ids, srv.address().port);
  c.setNoDelay(true);
  const msg = Buffer.alloc(100, 1);
  const lat = [];
  for (let i = 0; i < ROUNDTRIPS; i++) {
    const t0 = performance.now();
    const got = new Promise((resolve) => {
      let n = 0;
      const on = (d) => {
        n += d.length;
        if (n >= msg.length) {
          c.off('data', on);
          resolve();
        }
      };
      c.on('data', on);
    });
    c.write(msg);
    await got;
    lat.push(performance.now() - t0);
  }
  c.destroy();
  srv.close();
  return lat;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'stoq-bench-'));
  try {
    const ids = await identities(dir);
    const tlsMBs = await tlsBulk(ids);
    const stoqMBs = await stoqBulk(ids);
    emit(`bulk_${Math.round(BULK / (1 << 20))}MiB_one_connection`, 'MB/s', stoqMBs, tlsMBs);

    const th = await tlsHandshakes(ids);
    const sh = await stoqHandshakes(ids);
    emit('full_handshake_p50', 'ms', pct(sh.full, 50), pct(th, 50));
    emit('full_handshake_p99', 'ms', pct(sh.full, 99), pct(th, 99));
    // Peer here is STOQ's own full handshake + first echo: what 0-RTT saves.
    process.stdout.write(
      JSON.stringify({ bench: 'zero_rtt_connect_to_first_echo_p50', unit: 'ms', stoq: pct(sh.early, 50), peer: pct(sh.fullEcho, 50), peerName: 'stoq-full-handshake', ratio: pct(sh.early, 50) / pct(sh.fullEcho, 50), zeroRttAccepted: `${sh.accepted}/${HANDSHAKES}` }) + '\n',
    );

    const tr = await tlsRoundTrips(ids);
    const sr = await stoqRoundTrips(ids);
    emit('roundtrip_100B_p50', 'ms', pct(sr, 50), pct(tr, 50));
    emit('roundtrip_100B_p99', 'ms', pct(sr, 99), pct(tr, 99));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

'use strict';
// End-to-end smoke test of the native QUIC engine over real IPv6 loopback sockets.
// Certificates are issued by the openssl CLI into a temp dir (Node cannot issue X.509).
// Run: node --test native/test/

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const native = require('..');
const { QuicEndpoint } = native;
const { KIND, muxOf, echoStreams } = require('./mux-helper');

const { makeCa, makeLeaf, makeDatedLeaf } = require('./pki-helper');

function tlsFor(leaf, ca, extra = {}) {
  return { certChainPem: leaf.certChainPem, keyPem: leaf.keyPem, trustRootsPem: ca.pem, ...extra };
}

function bindEndpoint(leaf, ca, opts = {}) {
  const { tls = {}, ...rest } = opts;
  return QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false, tls: tlsFor(leaf, ca, tls), ...rest });
}

/** Serves every accepted connection: echoes streams and datagrams; hands connections to tests. */
function serve(endpoint) {
  const waiting = [];
  const ready = [];
  (async () => {
    for (;;) {
      const conn = await endpoint.accept();
      if (conn === null) break;
      echoStreams(conn);
      (async () => {
        for (;;) {
          const d = await conn.readDatagram();
          if (d === null) break;
          try { conn.sendDatagram(d); } catch { /* connection closing */ }
        }
      })();
      if (waiting.length) waiting.shift()(conn); else ready.push(conn);
    }
    while (waiting.length) waiting.shift()(null);
  })();
  return () => (ready.length ? Promise.resolve(ready.shift()) : new Promise((r) => waiting.push(r)));
}

/** Opens a stream carrying `payload` and FIN in one streamOpen; resolves with what comes back. */
function echoRoundTrip(conn, payload) {
  return muxOf(conn).open(payload, true).readAll();
}

/**
 * A client connected to a fresh server that does not echo, so the test drives both ends of
 * every stream. Returns both connections and their muxes.
 */
async function quietPair(serverOpts = {}, clientOpts = {}) {
  const quiet = bindEndpoint(serverLeaf, ca, { acceptIncoming: true, ...serverOpts });
  const c = bindEndpoint(clientLeaf, ca, clientOpts);
  extraEndpoints.push(quiet, c);
  const [conn, sconn] = await Promise.all([c.connect(quiet.localAddr, '::1'), quiet.accept()]);
  return { conn, sconn, cm: muxOf(conn), sm: muxOf(sconn) };
}

/**
 * A full request/response on a new stream of the pair. Events of one mux are delivered in the
 * order the mux produced them, so once the server has seen this stream, everything its mux
 * reported before handling the request has reached JS too.
 */
async function barrier({ cm, sm }) {
  const ping = cm.open(Buffer.from('ping'), true);
  const r = await sm.accept();
  assert.equal((await r.readAll()).toString(), 'ping');
  r.write(Buffer.from('pong'), true);
  assert.equal((await ping.readAll()).toString(), 'pong');
}

const MiB = 1024 * 1024;

// ---------- fixture ----------

let dir, ca, rogueCa, serverLeaf, clientLeaf, rogueLeaf;
let server, client, nextServerConn, serverAddr;
const extraEndpoints = [];

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stoq-native-'));
  ca = makeCa(dir, 'ca');
  rogueCa = makeCa(dir, 'rogue-ca');
  serverLeaf = makeLeaf(dir, ca, 'server', 'IP:::1,DNS:server.stoq.test');
  clientLeaf = makeLeaf(dir, ca, 'client', 'DNS:client.stoq.test');
  rogueLeaf = makeLeaf(dir, rogueCa, 'rogue', 'DNS:rogue.stoq.test');
  server = bindEndpoint(serverLeaf, ca, { acceptIncoming: true, enableZeroRtt: true });
  serverAddr = server.localAddr;
  nextServerConn = serve(server);
  client = bindEndpoint(clientLeaf, ca, { enableZeroRtt: true });
});

after(async () => {
  for (const ep of [client, server, ...extraEndpoints]) ep?.close(0, 'test done');
  await Promise.all([client, server, ...extraEndpoints].filter(Boolean).map((ep) => ep.waitIdle()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---------- tests ----------

test('endpoint binds IPv6 loopback and reports its address', () => {
  assert.match(serverAddr, /^\[::1\]:\d+$/);
  assert.notEqual(serverAddr, '[::1]:0');
});

test('mutual-TLS handshake negotiates X25519MLKEM768 and stoq/1', async () => {
  const [conn, sconn] = await Promise.all([client.connect(serverAddr, '::1'), nextServerConn()]);
  assert.equal(conn.kexGroup, 'X25519MLKEM768');
  assert.equal(sconn.kexGroup, 'X25519MLKEM768');
  assert.equal(conn.alpn, 'stoq/1');
  assert.equal(sconn.alpn, 'stoq/1');
  assert.equal(conn.isZeroRtt, false);
  assert.equal(await conn.zeroRttAccepted(), false);
  await conn.handshakeComplete();
  assert.equal(conn.remoteAddr, serverAddr);

  // Each side sees the other's leaf certificate (DER), leaf first.
  const serverDer = new crypto.X509Certificate(serverLeaf.certChainPem).raw;
  const clientDer = new crypto.X509Certificate(clientLeaf.certChainPem).raw;
  assert.deepEqual(conn.peerCertificates()[0], serverDer);
  assert.deepEqual(sconn.peerCertificates()[0], clientDer);

  // TLS exporter: equal on both ends, bound to label and context.
  const ctx = Buffer.from('ctx');
  const a = conn.exportKeyingMaterial('EXPORTER-STOQ-FALCON', ctx, 32);
  const b = sconn.exportKeyingMaterial('EXPORTER-STOQ-FALCON', ctx, 32);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.notDeepEqual(conn.exportKeyingMaterial('EXPORTER-OTHER', ctx, 32), a);
  assert.notDeepEqual(conn.exportKeyingMaterial('EXPORTER-STOQ-FALCON', Buffer.from('x'), 32), a);

  const stats = conn.stats();
  assert.ok(stats.bytesSent > 0 && stats.bytesReceived > 0 && stats.packetsSent > 0);
  assert.ok(stats.rttMs >= 0 && stats.cwnd > 0);
  conn.close(0, 'done');
});

test('bidi stream echoes 1 MiB intact', async () => {
  const conn = await client.connect(serverAddr, '::1');
  await nextServerConn();
  const payload = crypto.randomBytes(1024 * 1024);
  const echoed = await echoRoundTrip(conn, payload);
  assert.equal(echoed.length, payload.length);
  assert.ok(echoed.equals(payload));
  assert.ok(conn.stats().bytesReceived >= payload.length);
  conn.close(0, 'done');
});

test('datagram round trip', async () => {
  const conn = await client.connect(serverAddr, 'server.stoq.test');
  await nextServerConn();
  assert.ok(conn.maxDatagramSize > 1000);
  const msg = Buffer.from('ping-' + crypto.randomBytes(8).toString('hex'));
  conn.sendDatagram(msg);
  // Datagrams are unreliable in general, but loopback with an idle connection does not drop.
  const back = await conn.readDatagram();
  assert.deepEqual(back, msg);
  assert.throws(() => conn.sendDatagram(Buffer.alloc(70000)), { code: 'DATAGRAM' });
  conn.close(0, 'done');
});

test('mtuDiscovery: false keeps datagrams at their first size; the default grows them by probing', async () => {
  const quiet = bindEndpoint(clientLeaf, ca, { mtuDiscovery: false });
  try {
    // The quiet connection starts first, so it has had at least as long as the probing one.
    const still = await quiet.connect(serverAddr, 'server.stoq.test');
    await nextServerConn();
    const probing = await client.connect(serverAddr, 'server.stoq.test');
    await nextServerConn();
    // Both start from 1200-byte datagrams; on loopback with the 4096 ceiling probing reaches 4096.
    const deadline = Date.now() + 10_000;
    while (probing.maxDatagramSize < 2000) {
      assert.ok(Date.now() < deadline, `MTU discovery left the default connection at ${probing.maxDatagramSize}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(still.maxDatagramSize < 1200, `the quiet connection's datagrams grew to ${still.maxDatagramSize}`);
    still.close(0, 'done');
    probing.close(0, 'done');
  } finally {
    quiet.close(0, 'done');
  }
});

test('IPv4 and IPv4-mapped addresses are refused everywhere', async () => {
  const bad = (bind) => () => QuicEndpoint.bind({ bind, acceptIncoming: false, tls: tlsFor(clientLeaf, ca) });
  assert.throws(bad('127.0.0.1:0'), { code: 'IPV4_REFUSED', message: '127.0.0.1:0 is an IPv4 address; STOQ is IPv6-only' });
  assert.throws(bad('[::ffff:127.0.0.1]:0'), { code: 'IPV4_REFUSED', message: /^\[::ffff:127\.0\.0\.1\]:0 is IPv4-mapped/ });
  assert.throws(bad('localhost:1'), { code: 'INVALID_ADDRESS' });
  await assert.rejects(client.connect('127.0.0.1:4433', 'x'), { code: 'IPV4_REFUSED', message: /^127\.0\.0\.1:4433/ });
  await assert.rejects(client.connect('[::ffff:127.0.0.1]:4433', 'x'), { code: 'IPV4_REFUSED' });
  assert.throws(() => client.rebind('127.0.0.1:0'), { code: 'IPV4_REFUSED' });
});

test('maxUdpPayload outside 1200..65527 is refused, a valid ceiling works', async () => {
  for (const bad of [1199, 65528]) {
    assert.throws(() => bindEndpoint(serverLeaf, ca, { acceptIncoming: true, maxUdpPayload: bad }), /INVALID_ARGUMENT|maxUdpPayload/);
  }
  const big = bindEndpoint(serverLeaf, ca, { acceptIncoming: true, maxUdpPayload: 9000 });
  const c = bindEndpoint(clientLeaf, ca, { maxUdpPayload: 9000 });
  extraEndpoints.push(big, c);
  serve(big);
  const conn = await c.connect(big.localAddr, '::1');
  assert.ok((await echoRoundTrip(conn, Buffer.alloc(256 * 1024, 3))).equals(Buffer.alloc(256 * 1024, 3)));
  conn.close(0, 'done');
});

test('bad TLS material is a TLS_CONFIG error', () => {
  const bind = (tls) => () => QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: true, tls });
  assert.throws(bind(tlsFor({ ...clientLeaf, keyPem: 'garbage' }, ca)), { code: 'TLS_CONFIG', message: /^keyPem/ });
  assert.throws(bind(tlsFor({ ...clientLeaf, keyPem: serverLeaf.keyPem }, ca)), { code: 'TLS_CONFIG', message: /^keyPem does not belong/ });
  assert.throws(bind(tlsFor(clientLeaf, { pem: '' })), { code: 'TLS_CONFIG', message: /^trustRootsPem/ });
  assert.throws(bind(tlsFor(clientLeaf, ca, { alpn: [] })), { code: 'TLS_CONFIG', message: /^alpn/ });
});

test('client with a certificate from an unknown CA is refused; server keeps accepting', async () => {
  // The rogue client trusts our CA (so it accepts the server) but its own cert is from rogue-ca.
  const rogue = QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false,
    tls: { ...rogueLeaf, trustRootsPem: ca.pem } });
  extraEndpoints.push(rogue);
  const before = server.stats().handshakeFailures;
  await assert.rejects(rogue.connect(serverAddr, '::1'), (e) => {
    assert.equal(e.code, 'HANDSHAKE_FAILED');
    return true;
  });
  // Server-side verdict: the accept loop goes on and serves the next (good) client.
  const [conn, sconn] = await Promise.all([client.connect(serverAddr, '::1'), nextServerConn()]);
  assert.ok(sconn !== null);
  const stats = server.stats();
  assert.ok(stats.handshakeFailures >= before + 1, `handshakeFailures ${stats.handshakeFailures}`);
  conn.close(0, 'done');

  // Server cert checked against serverName: a name not in its SAN fails.
  await assert.rejects(client.connect(serverAddr, 'other.stoq.test'),
    { code: 'HANDSHAKE_FAILED', message: /NotValidForName|not valid for name/i });
  // Client whose roots do not include the server's CA refuses the server.
  const lost = QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false,
    tls: { ...clientLeaf, trustRootsPem: rogueCa.pem } });
  extraEndpoints.push(lost);
  await assert.rejects(lost.connect(serverAddr, '::1'), { code: 'HANDSHAKE_FAILED', message: /^.*UnknownIssuer/ });

  // An expired server certificate is refused by the client.
  const expiredLeaf = makeDatedLeaf(dir, ca, 'expired', 'IP:::1', '20200101000000Z', '20200102000000Z');
  const expiredServer = bindEndpoint(expiredLeaf, ca, { acceptIncoming: true });
  extraEndpoints.push(expiredServer);
  await assert.rejects(client.connect(expiredServer.localAddr, '::1'), { code: 'HANDSHAKE_FAILED', message: /^.*invalid peer certificate: certificate expired/ });
});

test('strict post-quantum mode on both sides still negotiates X25519MLKEM768', async () => {
  // Refusal of a peer without X25519MLKEM768 needs a classical-only peer; the TS layer tests it.
  const strictServer = bindEndpoint(serverLeaf, ca, { acceptIncoming: true, tls: { requirePqKex: true } });
  const strictClient = bindEndpoint(clientLeaf, ca, { tls: { requirePqKex: true } });
  extraEndpoints.push(strictServer, strictClient);
  const [conn, sconn] = await Promise.all([
    strictClient.connect(strictServer.localAddr, '::1'), strictServer.accept(),
  ]);
  assert.equal(conn.kexGroup, 'X25519MLKEM768');
  assert.equal(sconn.kexGroup, 'X25519MLKEM768');
  // Strict client against the default server also gets the hybrid group.
  const mixed = await strictClient.connect(serverAddr, '::1');
  await nextServerConn();
  assert.equal(mixed.kexGroup, 'X25519MLKEM768');
  conn.close(0, 'done');
  mixed.close(0, 'done');
});

test('0-RTT resumption: early-data stream round-trips and is accepted', async () => {
  // A fresh client endpoint so the ticket comes from this test's first connection.
  const zc = bindEndpoint(clientLeaf, ca, { enableZeroRtt: true });
  extraEndpoints.push(zc);
  const first = await zc.connect(serverAddr, '::1', true);
  await nextServerConn();
  assert.equal(first.isZeroRtt, false, 'no ticket yet: full handshake');
  // A full round trip guarantees the server's session tickets have arrived.
  assert.deepEqual(await echoRoundTrip(first, Buffer.from('warm-up')), Buffer.from('warm-up'));
  first.close(0, 'done');

  const second = await zc.connect(serverAddr, '::1', true);
  assert.equal(second.isZeroRtt, true);
  // (kexGroup is null and exportKeyingMaterial throws HANDSHAKE_INCOMPLETE until the handshake
  // completes, but on loopback that takes well under a millisecond, so it is not asserted here.)
  const early = Buffer.from('early-data ' + crypto.randomBytes(16).toString('hex'));
  const [echoed, sconn] = await Promise.all([echoRoundTrip(second, early), nextServerConn()]);
  assert.deepEqual(echoed, early);
  assert.equal(await second.zeroRttAccepted(), true);
  await second.handshakeComplete();
  assert.equal(second.kexGroup, 'X25519MLKEM768');
  assert.equal(sconn.kexGroup, 'X25519MLKEM768');
  assert.deepEqual(second.exportKeyingMaterial('L', Buffer.alloc(0), 32), sconn.exportKeyingMaterial('L', Buffer.alloc(0), 32));
  second.close(0, 'done');
});

test('rebind migrates the client to a new port and the connection keeps working', async () => {
  const mc = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(mc);
  const [conn, sconn] = await Promise.all([mc.connect(serverAddr, '::1'), nextServerConn()]);
  assert.deepEqual(await echoRoundTrip(conn, Buffer.from('before')), Buffer.from('before'));
  const oldAddr = mc.localAddr;
  assert.equal(sconn.remoteAddr, oldAddr);
  mc.rebind('[::1]:0');
  const newAddr = mc.localAddr;
  assert.notEqual(newAddr, oldAddr);
  const payload = crypto.randomBytes(200 * 1024);
  assert.ok((await echoRoundTrip(conn, payload)).equals(payload));
  assert.equal(sconn.remoteAddr, newAddr, 'server followed the migration');
  conn.close(0, 'done');
});

test('close codes reach the peer; streams opened after close fail; endpoint stats count connections and bytes', async () => {
  const cc = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(cc);
  const [conn, sconn] = await Promise.all([cc.connect(serverAddr, '::1'), nextServerConn()]);
  const cm = muxOf(conn);
  const sm = muxOf(sconn);
  assert.deepEqual(await echoRoundTrip(conn, Buffer.alloc(1000, 7)), Buffer.alloc(1000, 7));
  let st = cc.stats();
  assert.equal(st.openConnections, 1);
  assert.equal(st.dialedConnections, 1);
  assert.ok(st.bytesSent > 1000);
  conn.close(42, 'bye now');
  // A stream opened after close fails with CONNECTION_LOST: as an ERROR event while the mux
  // still runs, else through the mux's final CLOSED, which covers every stream (documented
  // contract; the stream-credit test covers the ERROR path deterministically).
  const late = cm.open(Buffer.from('too late'), true);
  assert.equal(await cm.closed, 'CONNECTION_LOST: closed');
  const lateEvents = late.events.map((e) => [e.kind, e.value]);
  assert.ok(lateEvents.length === 0 || (lateEvents.length === 1 && lateEvents[0][0] === KIND.ERROR
    && /^CONNECTION_LOST: /.test(lateEvents[0][1])), `late stream events ${JSON.stringify(lateEvents)}`);
  assert.deepEqual(await sconn.closed(), { kind: 'peer', code: 42, reason: 'bye now' });
  assert.deepEqual(await conn.closed(), { kind: 'local', code: 42, reason: 'bye now' });
  // The server's mux ends with CLOSED saying why; its accept() then yields null.
  assert.equal(await sm.closed, 'CONNECTION_LOST: closed by peer with application code 42: bye now');
  assert.equal(await sm.accept(), null);
  await cc.waitIdle();
  st = cc.stats();
  assert.equal(st.openConnections, 0);
  assert.ok(st.bytesSent > 1000, 'closed connections still count');
  // CLOSED was each mux's last event, and the late stream's ERROR came before it.
  const events = (m) => m.log.filter((e) => e.kind !== undefined);
  assert.equal(events(cm).at(-1).kind, 'CLOSED');
  assert.equal(events(sm).at(-1).kind, 'CLOSED');
  assert.deepEqual(cm.strays, []);
});

test('streamOps applies a batch in order; a malformed batch is refused whole', async () => {
  const conn = await client.connect(serverAddr, '::1');
  await nextServerConn();
  const cm = muxOf(conn);
  const a = cm.open();
  const b = cm.open();
  // [kind, key, arg, length]: send 3 then 2 bytes + FIN on a, 4 bytes + FIN on b.
  conn.streamOps(Float64Array.from([1, a.key, 0, 3, 1, a.key, 1, 2, 1, b.key, 1, 4]), Buffer.from('abcdeWXYZ'));
  assert.equal((await a.readAll()).toString(), 'abcde');
  assert.equal((await b.readAll()).toString(), 'WXYZ');

  const c = cm.open();
  const refused = [
    [[1, c.key, 1, 1, 9, c.key, 0, 0], 'x', /unknown kind 9/],
    [[1, c.key, 1], '', /whole number of 4-number operations/],
    [[0, 7, 0, 0], '', /must be even/],
    [[1, c.key, 1, 5], 'x', /wants 5 bytes, only 1 left/],
    [[1, c.key, 1, 1], 'xy', /1 bytes of data were not claimed/],
    [[2, c.key, -1, 0], '', /reset code -1/],
  ];
  for (const [ops, data, message] of refused) {
    assert.throws(() => conn.streamOps(Float64Array.from(ops), Buffer.from(data)), (e) => e.code === 'INVALID_ARGUMENT' && message.test(e.message));
  }
  // None of the refused batches touched stream c: it still takes data and a FIN.
  conn.streamOps(Float64Array.from([1, c.key, 1, 1]), Buffer.from('Q'));
  assert.equal((await c.readAll()).toString(), 'Q');
  conn.close(0, 'done');
});

test('reset reaches the peer as a RESET event with its code', { timeout: 10000 }, async () => {
  const pair = await quietPair();
  const { conn, cm, sm } = pair;
  const s = cm.open(Buffer.from('x'));
  const r = await sm.accept();
  assert.equal((await r.read()).toString(), 'x');
  s.reset(9);
  assert.equal(await r.event(KIND.RESET), 9);
  await assert.rejects(r.read(), { message: /peer reset it with code 9/ });
  assert.equal(r.ended, false, 'a reset stream never reports FIN');
  conn.close(0, 'done');
});

test('STOP_SENDING with a 64 MiB write queued yields STOPPED with the peer\'s code; no data follows', { timeout: 15000 }, async () => {
  // Default 8 MiB stream window: the 64 MiB write cannot leave before the stop arrives.
  const pair = await quietPair();
  const { conn, cm, sm } = pair;
  const s = cm.open(Buffer.from('x'));
  const r = await sm.accept();
  assert.equal((await r.read()).toString(), 'x');
  const big = Buffer.alloc(64 * MiB, 0xab);
  s.write(big);
  await s.event(KIND.SENT); // the write is under way (and flow control holds the rest)
  // Stop reading first, so everything r will ever report has reached JS by the barriers.
  r.pause(true);
  await barrier(pair);
  await barrier(pair);
  const receivedBeforeStop = r.received;
  assert.ok(receivedBeforeStop < 1 + big.length, `got ${receivedBeforeStop} bytes: the write was not held`);
  r.stopSending(5);
  assert.equal(await s.event(KIND.STOPPED), 5);
  assert.ok(s.sent < big.length, `SENT ${s.sent}: the write was still queued when stopped`);
  // Sending on a stopped stream is ignored; the peer gets neither data nor FIN.
  s.write(Buffer.from('more'), true);
  r.pause(false);
  await barrier(pair);
  await barrier(pair);
  assert.equal(r.received, receivedBeforeStop, 'no data delivered after STOP_SENDING');
  assert.equal(r.ended, false);
  const got = Buffer.concat(r.events.filter((e) => Buffer.isBuffer(e.value)).map((e) => e.value));
  assert.ok(got.subarray(1).every((b) => b === 0xab), 'what did arrive is an intact prefix');
  assert.deepEqual(s.events.filter((e) => e.kind !== KIND.SENT).map((e) => e.kind), [KIND.STOPPED]);
  conn.close(0, 'done');
});

test('reset while a big write is held by flow control reaches the peer as RESET 3', { timeout: 15000 }, async () => {
  const pair = await quietPair();
  const { conn, cm, sm } = pair;
  const s = cm.open(Buffer.from('x'));
  const r = await sm.accept();
  assert.equal((await r.read()).toString(), 'x');
  const big = Buffer.alloc(64 * MiB, 0xcd);
  s.write(big);
  await s.event(KIND.SENT); // quinn took the first part; the rest waits for flow control
  assert.ok(s.sent < big.length);
  s.reset(3);
  assert.equal(await r.event(KIND.RESET), 3);
  assert.ok(r.received < 1 + big.length, `peer got ${r.received} bytes: the reset came after the write finished`);
  assert.equal(r.ended, false);
  await assert.rejects(r.readAll(), { message: /code 3/ });
  conn.close(0, 'done');
});

test('two sends then FIN arrive in order: the peer reads "abcd" then FIN', async () => {
  const { conn, cm, sm } = await quietPair();
  const s = cm.open(); // opened empty: the peer learns of it with the first data
  s.write(Buffer.from('ab'));
  s.write(Buffer.from('cd'));
  s.finish();
  const r = await sm.accept();
  assert.equal((await r.readAll()).toString(), 'abcd');
  assert.equal(await r.read(), null, 'read after FIN stays null');
  const last = r.events.at(-1).kind;
  assert.ok(last === KIND.FIN || last === KIND.DATA_FIN, `last event ${last}`);
  assert.equal(r.events.filter((e) => e.kind === KIND.FIN || e.kind === KIND.DATA_FIN).length, 1);
  conn.close(0, 'done');
});

test('a stream opened without stream credit waits for MAX_STREAMS; without it, close fails it', { timeout: 10000 }, async () => {
  const pair = await quietPair({ maxConcurrentBidiStreams: 1 });
  const { conn, cm, sm } = pair;
  const a = cm.open(Buffer.from('1'));
  cm.open(Buffer.from('2'), true); // no credit yet: must wait for stream a to be freed
  const ra = await sm.accept();
  assert.equal((await ra.read()).toString(), '1');
  ra.write(Buffer.from('ok'));
  assert.equal((await a.read()).toString(), 'ok');
  // Several packet round trips later the second stream has still not reached the server.
  assert.equal(sm.find((e) => e.kind === 'INCOMING').length, 1, 'second stream must wait for MAX_STREAMS');
  a.finish();
  ra.finish();
  assert.equal(await ra.read(), null);
  assert.equal(await a.read(), null);
  const rb = await sm.accept();
  assert.equal((await rb.readAll()).toString(), '2');
  // In the server's own order: stream b arrived only after the client's FIN on stream a was
  // reported and after the server had finished its side.
  const incomingB = sm.find((e) => e.kind === 'INCOMING' && e.key === rb.key)[0];
  const finA = sm.find((e) => e.key === ra.key && (e.kind === 'FIN' || e.kind === 'DATA_FIN'))[0];
  const serverFinishA = sm.find((e) => e.op === 'send' && e.key === ra.key && e.value.fin)[0];
  assert.ok(finA.seq < incomingB.seq && serverFinishA.seq < incomingB.seq);
  // Stream b is still open on the server (no FIN back), so stream c has no credit; closing the
  // connection fails it with CONNECTION_LOST instead of leaving it waiting.
  const c = cm.open(Buffer.from('3'), true);
  conn.close(0, 'done');
  assert.match(await c.event(KIND.ERROR), /^CONNECTION_LOST: /);
  assert.equal(sm.find((e) => e.kind === 'INCOMING').length, 2, 'stream c never reached the server');
});

test('a stream the peer stopped is reset on finish, so its credit comes back without GC', { timeout: 15000 }, async () => {
  // One stream of credit: each new stream needs the previous one freed by the server, which
  // requires our final size (FIN or RESET_STREAM) even though the server stopped reading.
  const { conn, cm, sm } = await quietPair({ maxConcurrentBidiStreams: 1 });
  for (let i = 0; i < 20; i++) {
    const s = cm.open(Buffer.from('request'));
    const r = await sm.accept();
    assert.equal((await r.read()).toString(), 'request');
    r.stopSending(7); // the server needs no more request bytes
    r.write(Buffer.from('response'), true);
    assert.equal((await s.readAll()).toString(), 'response');
    // Our send side was stopped by the peer (STOP_SENDING travelled before the response):
    // finish must answer with RESET_STREAM, or the server can never free the stream.
    s.finish();
  }
  assert.equal(sm.find((e) => e.kind === 'INCOMING').length, 20);
  conn.close(0, 'done');
});

test('pause holds a stream\'s data back (the sender stalls once windows fill); resume delivers it intact', { timeout: 15000 }, async () => {
  const WINDOW = 512 * 1024;
  const pair = await quietPair({ streamReceiveWindow: WINDOW, receiveWindow: 4 * WINDOW });
  const { conn, cm, sm } = pair;
  const s = cm.open(Buffer.from('h'));
  const r = await sm.accept();
  r.pause(true);
  await barrier(pair); // the pause is in effect past these
  await barrier(pair);
  const before = r.received;
  assert.ok(before <= 1);
  const payload = crypto.randomBytes(4 * MiB);
  s.write(payload, true);
  await s.event(KIND.SENT); // quinn took what the window allows...
  await barrier(pair);
  const sentWhilePaused = s.sent;
  await barrier(pair);
  await barrier(pair);
  // ...and nothing more: the paused receiver neither reported data nor granted more credit.
  assert.equal(r.received, before, 'no DATA events while paused');
  assert.equal(s.sent, sentWhilePaused, 'SENT progress stalls while the receiver is paused');
  assert.ok(sentWhilePaused > 0 && sentWhilePaused <= WINDOW, `sent ${sentWhilePaused} with a ${WINDOW} window`);
  r.pause(false);
  const got = await r.readAll();
  assert.ok(got.equals(Buffer.concat([Buffer.from('h'), payload])), 'resumed stream delivers everything intact');
  // The finished stream's last report rides on the next delivery: the CLOSED event here.
  conn.close(0, 'done');
  await cm.closed;
  assert.equal(s.sent, 1 + payload.length);
});

test('SENT events add up to exactly the bytes written on a large write', { timeout: 15000 }, async () => {
  const { conn, cm, sm } = await quietPair();
  const pieces = [crypto.randomBytes(20 * MiB), Buffer.from('seven b'), crypto.randomBytes(12 * MiB)];
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const s = cm.open(pieces[0]);
  s.write(pieces[1]);
  s.write(pieces[2], true);
  const r = await sm.accept();
  const got = await r.readAll();
  assert.ok(got.equals(Buffer.concat(pieces)), 'receiver got every byte in order');
  // The last report of a finished stream rides on the connection's next delivery instead of
  // waking JS on its own; here that is the CLOSED event, which comes after it.
  conn.close(0, 'done');
  await cm.closed;
  assert.equal(s.sent, total);
  const sents = s.events.filter((e) => e.kind === KIND.SENT).map((e) => e.value);
  assert.ok(sents.length > 1, 'progress is reported along the way, not only at the end');
  assert.ok(sents.every((n) => Number.isInteger(n) && n > 0));
});

test('endpoint close makes accept() yield null and closes connections as endpoint-closed', async () => {
  const ep = bindEndpoint(serverLeaf, ca, { acceptIncoming: true });
  const c = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(c);
  const [conn, sconn] = await Promise.all([c.connect(ep.localAddr, '::1'), ep.accept()]);
  const pending = ep.accept();
  ep.close(3, 'shutting down');
  assert.equal(await pending, null);
  assert.equal(await ep.accept(), null);
  assert.deepEqual(await sconn.closed(), { kind: 'endpoint-closed', code: 3, reason: 'shutting down' });
  assert.deepEqual(await conn.closed(), { kind: 'peer', code: 3, reason: 'shutting down' });
  await assert.rejects(ep.connect(c.localAddr, '::1'), { code: 'ENDPOINT_CLOSED' });
  await ep.waitIdle();
});

test('FALCON-1024 interoperates with @noble/post-quantum', async () => {
  const { falcon1024 } = require('@noble/post-quantum/falcon.js');
  const msg = Buffer.from('STOQ session binding ' + crypto.randomBytes(8).toString('hex'));

  const nk = native.falconKeypair();
  assert.equal(nk.publicKey.length, 1793);
  assert.equal(nk.secretKey.length, 2305);
  const sig = native.falconSign(nk.secretKey, msg);
  assert.ok(sig.length <= 1462);
  assert.equal(native.falconVerify(nk.publicKey, msg, sig), true);
  assert.equal(falcon1024.verify(sig, msg, nk.publicKey), true, 'noble verifies a native signature');

  const bk = falcon1024.keygen();
  assert.equal(bk.publicKey.length, 1793);
  assert.equal(bk.secretKey.length, 2305);
  const nobleSig = falcon1024.sign(msg, bk.secretKey);
  assert.equal(native.falconVerify(Buffer.from(bk.publicKey), msg, Buffer.from(nobleSig)), true, 'native verifies a noble signature');
  // Same key, other signer: native signs with noble's secret key, noble verifies.
  const crossSig = native.falconSign(Buffer.from(bk.secretKey), msg);
  assert.equal(falcon1024.verify(crossSig, msg, bk.publicKey), true);

  const tampered = Buffer.from(msg);
  tampered[0] ^= 1;
  assert.equal(native.falconVerify(nk.publicKey, tampered, sig), false);
  assert.throws(() => native.falconVerify(Buffer.alloc(10), msg, sig), { code: 'FALCON_REJECTED', message: /^public key is 10 bytes/ });
  assert.throws(() => native.falconSign(Buffer.alloc(10), msg), { code: 'FALCON_REJECTED' });
});

test('sha256 / sha256Batch / sha256BatchAsync match node:crypto', async () => {
  const h = (b) => crypto.createHash('sha256').update(b).digest();
  assert.deepEqual(native.sha256(Buffer.from('abc')), h(Buffer.from('abc')));
  const items = Array.from({ length: 100 }, (_, i) => crypto.randomBytes(i * 13));
  const expected = Buffer.concat(items.map((it) => h(Buffer.concat([Buffer.from([0]), it]))));
  assert.deepEqual(native.sha256Batch(items, 0), expected);
  assert.deepEqual(await native.sha256BatchAsync(items, 0), expected);
  assert.deepEqual(native.sha256Batch(items), Buffer.concat(items.map(h)));
  assert.equal(native.sha256Batch([]).length, 0);
  assert.throws(() => native.sha256Batch(items, 256), { code: 'INVALID_ARGUMENT' });
});

test('native errors carry their code as a property, thrown and rejected alike', async () => {
  for (const code of native.errorCodes()) {
    assert.throws(() => native.errorProbe(code, 'said in words'), (e) => e instanceof Error && e.code === code && e.message === 'said in words');
    await assert.rejects(native.errorProbeAsync(code, 'said in words'), (e) => e instanceof Error && e.code === code && e.message === 'said in words');
  }
  assert.throws(() => native.errorProbe('NO_SUCH_CODE', 'x'), { code: 'INVALID_ARGUMENT', message: /"NO_SUCH_CODE" is not a native error code/ });
});

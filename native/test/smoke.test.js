'use strict';
// End-to-end smoke test of the native QUIC engine over real IPv6 loopback sockets.
// Certificates are issued by the openssl CLI into a temp dir (Node cannot issue X.509).
// Run: node --test native/test/

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const native = require('..');
const { QuicEndpoint } = native;

// ---------- certificates ----------

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir, name) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { name, pem: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8') };
}

function makeLeaf(dir, ca, name, san) {
  fs.writeFileSync(path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca.name}.pem`, '-CAkey', `${ca.name}.key`,
    '-set_serial', '0x' + crypto.randomBytes(8).toString('hex'), '-days', '1', '-sha256',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return {
    certChainPem: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  };
}

/** A leaf with an explicit validity window (`openssl ca` can backdate; `x509 -req` cannot). */
function makeDatedLeaf(dir, ca, name, san, startdate, enddate) {
  fs.writeFileSync(path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`);
  fs.writeFileSync(path.join(dir, `${name}.db`), '');
  fs.writeFileSync(path.join(dir, `${name}.serial`), crypto.randomBytes(8).toString('hex') + '\n');
  fs.writeFileSync(path.join(dir, `${name}.cnf`), [
    '[ca]', 'default_ca = dated', '[dated]', `database = ${name}.db`, 'new_certs_dir = .',
    `certificate = ${ca.name}.pem`, `private_key = ${ca.name}.key`, `serial = ${name}.serial`,
    'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(['ca', '-config', `${name}.cnf`, '-batch', '-notext', '-startdate', startdate, '-enddate', enddate,
    '-in', `${name}.csr`, '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return {
    certChainPem: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  };
}

// ---------- helpers ----------

function tlsFor(leaf, ca, extra = {}) {
  return { certChainPem: leaf.certChainPem, keyPem: leaf.keyPem, trustRootsPem: ca.pem, ...extra };
}

function bindEndpoint(leaf, ca, opts = {}) {
  const { tls = {}, ...rest } = opts;
  return QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false, tls: tlsFor(leaf, ca, tls), ...rest });
}

async function readAll(stream) {
  const parts = [];
  for (;;) {
    const chunk = await stream.read(256 * 1024);
    if (chunk === null) return Buffer.concat(parts);
    parts.push(chunk);
  }
}

async function echoStream(stream) {
  for (;;) {
    const chunk = await stream.read(256 * 1024);
    if (chunk === null) break;
    await stream.write(chunk);
  }
  stream.finish();
}

/** Serves every accepted connection: echoes streams and datagrams; hands connections to tests. */
function serve(endpoint) {
  const waiting = [];
  const ready = [];
  (async () => {
    for (;;) {
      const conn = await endpoint.accept();
      if (conn === null) break;
      (async () => {
        for (;;) {
          const s = await conn.acceptBi();
          if (s === null) break;
          echoStream(s).catch(() => {});
        }
      })();
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

async function echoRoundTrip(conn, payload) {
  const s = await conn.openBi();
  const [, echoed] = await Promise.all([
    (async () => { await s.write(payload); s.finish(); })(),
    readAll(s),
  ]);
  return echoed;
}

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
  assert.throws(() => conn.sendDatagram(Buffer.alloc(70000)), /^Error: DATAGRAM: /);
  conn.close(0, 'done');
});

test('IPv4 and IPv4-mapped addresses are refused everywhere', async () => {
  const bad = (bind) => () => QuicEndpoint.bind({ bind, acceptIncoming: false, tls: tlsFor(clientLeaf, ca) });
  assert.throws(bad('127.0.0.1:0'), { message: 'IPV4_REFUSED: 127.0.0.1:0 is an IPv4 address; STOQ is IPv6-only' });
  assert.throws(bad('[::ffff:127.0.0.1]:0'), /^Error: IPV4_REFUSED: \[::ffff:127\.0\.0\.1\]:0 is IPv4-mapped/);
  assert.throws(bad('localhost:1'), /^Error: INVALID_ADDRESS: /);
  await assert.rejects(client.connect('127.0.0.1:4433', 'x'), /^Error: IPV4_REFUSED: 127\.0\.0\.1:4433/);
  await assert.rejects(client.connect('[::ffff:127.0.0.1]:4433', 'x'), /^Error: IPV4_REFUSED: /);
  assert.throws(() => client.rebind('127.0.0.1:0'), /^Error: IPV4_REFUSED: /);
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
  assert.throws(bind(tlsFor({ ...clientLeaf, keyPem: 'garbage' }, ca)), /^Error: TLS_CONFIG: keyPem/);
  assert.throws(bind(tlsFor({ ...clientLeaf, keyPem: serverLeaf.keyPem }, ca)), /^Error: TLS_CONFIG: keyPem does not belong/);
  assert.throws(bind(tlsFor(clientLeaf, { pem: '' })), /^Error: TLS_CONFIG: trustRootsPem/);
  assert.throws(bind(tlsFor(clientLeaf, ca, { alpn: [] })), /^Error: TLS_CONFIG: alpn/);
});

test('client with a certificate from an unknown CA is refused; server keeps accepting', async () => {
  // The rogue client trusts our CA (so it accepts the server) but its own cert is from rogue-ca.
  const rogue = QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false,
    tls: { ...rogueLeaf, trustRootsPem: ca.pem } });
  extraEndpoints.push(rogue);
  const before = server.stats().handshakeFailures;
  await assert.rejects(rogue.connect(serverAddr, '::1'), (e) => {
    assert.match(e.message, /^HANDSHAKE_FAILED: /);
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
    /^Error: HANDSHAKE_FAILED: .*(NotValidForName|not valid for name)/i);
  // Client whose roots do not include the server's CA refuses the server.
  const lost = QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false,
    tls: { ...clientLeaf, trustRootsPem: rogueCa.pem } });
  extraEndpoints.push(lost);
  await assert.rejects(lost.connect(serverAddr, '::1'), /^Error: HANDSHAKE_FAILED: .*UnknownIssuer/);

  // An expired server certificate is refused by the client.
  const expiredLeaf = makeDatedLeaf(dir, ca, 'expired', 'IP:::1', '20200101000000Z', '20200102000000Z');
  const expiredServer = bindEndpoint(expiredLeaf, ca, { acceptIncoming: true });
  extraEndpoints.push(expiredServer);
  await assert.rejects(client.connect(expiredServer.localAddr, '::1'), /^Error: HANDSHAKE_FAILED: .*invalid peer certificate: certificate expired/);
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

test('close codes reach the peer; endpoint stats count connections and bytes', async () => {
  const cc = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(cc);
  const [conn, sconn] = await Promise.all([cc.connect(serverAddr, '::1'), nextServerConn()]);
  await echoRoundTrip(conn, Buffer.alloc(1000, 7));
  let st = cc.stats();
  assert.equal(st.openConnections, 1);
  assert.equal(st.dialedConnections, 1);
  assert.ok(st.bytesSent > 1000);
  conn.close(42, 'bye now');
  assert.deepEqual(await sconn.closed(), { kind: 'peer', code: 42, reason: 'bye now' });
  assert.deepEqual(await conn.closed(), { kind: 'local', code: 42, reason: 'bye now' });
  assert.equal(await sconn.acceptBi(), null);
  await assert.rejects(conn.openBi(), /^Error: CONNECTION_LOST: /);
  await cc.waitIdle();
  st = cc.stats();
  assert.equal(st.openConnections, 0);
  assert.ok(st.bytesSent > 1000, 'closed connections still count');
});

test('reset and stopSending reach the peer; reset interrupts a blocked write', async () => {
  // A server that does not echo, so stream states are under the test's control.
  const quiet = bindEndpoint(serverLeaf, ca, { acceptIncoming: true });
  const c = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(quiet, c);
  const [conn, sconn] = await Promise.all([c.connect(quiet.localAddr, '::1'), quiet.accept()]);

  // Peer reset: the reader's read rejects with STREAM_RESET and the code.
  const s1 = await conn.openBi();
  await s1.write(Buffer.from('x'));
  const r1 = await sconn.acceptBi();
  s1.reset(9);
  await assert.rejects(readAll(r1), { message: 'STREAM_RESET: code 9' });
  await assert.rejects(s1.write(Buffer.from('y')), /^Error: STREAM_RESET: /);

  // STOP_SENDING: a write blocked on flow control (64 MiB > 8 MiB stream window) fails.
  const s2 = await conn.openBi();
  await s2.write(Buffer.from('x'));
  const r2 = await sconn.acceptBi();
  const blocked = s2.write(Buffer.alloc(64 * 1024 * 1024));
  r2.stopSending(5);
  await assert.rejects(blocked, { message: 'STREAM_STOPPED: peer stopped the stream with code 5' });
  await assert.rejects(r2.read(10), /^Error: STREAM_STOPPED: /);

  // Local reset interrupts a write that is waiting for flow-control credit.
  const s3 = await conn.openBi();
  await s3.write(Buffer.from('x'));
  const r3 = await sconn.acceptBi();
  const stuck = s3.write(Buffer.alloc(64 * 1024 * 1024));
  s3.reset(3);
  await assert.rejects(stuck, { message: 'STREAM_RESET: stream was reset locally with code 3' });
  await assert.rejects(readAll(r3), { message: 'STREAM_RESET: code 3' });

  // Ordered FIN: write, write, finish without awaiting in between.
  const s4 = await conn.openBi();
  const w = [s4.write(Buffer.from('ab')), s4.write(Buffer.from('cd'))];
  s4.finish();
  await Promise.all(w);
  const r4 = await sconn.acceptBi();
  assert.equal((await readAll(r4)).toString(), 'abcd');
  assert.equal(await r4.read(10), null, 'read after FIN stays null');
  assert.ok(s1.id !== s2.id && typeof s4.id === 'number');
  conn.close(0, 'done');
});

test('openBi waits for stream credit when the peer limit is reached', async () => {
  const tight = bindEndpoint(serverLeaf, ca, { acceptIncoming: true, maxConcurrentBidiStreams: 1 });
  const c = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(tight, c);
  const [conn, sconn] = await Promise.all([c.connect(tight.localAddr, '::1'), tight.accept()]);
  const a = await conn.openBi();
  let secondOpened = false;
  const second = conn.openBi().then((s) => { secondOpened = true; return s; });
  // A full request/response on stream a (several event-loop turns and packet round trips)
  // would have delivered the second openBi() if it were not waiting for credit.
  await a.write(Buffer.from('1'));
  const ra = await sconn.acceptBi();
  assert.equal((await ra.read(10)).toString(), '1');
  await ra.write(Buffer.from('ok'));
  assert.equal((await a.read(10)).toString(), 'ok');
  assert.equal(secondOpened, false, 'second stream must wait for MAX_STREAMS');
  a.finish();
  ra.finish();
  assert.equal(await ra.read(10), null);
  assert.equal(await a.read(10), null);
  const b = await second;
  await b.write(Buffer.from('2'));
  b.finish();
  assert.equal((await readAll(await sconn.acceptBi())).toString(), '2');
  conn.close(0, 'done');
});

test('a stream the peer stopped is reset on finish, so its credit comes back without GC', async () => {
  // One stream of credit: each new stream needs the previous one freed by the server, which
  // requires our final size (FIN or RESET_STREAM) even though the server stopped reading.
  const tight = bindEndpoint(serverLeaf, ca, { acceptIncoming: true, maxConcurrentBidiStreams: 1 });
  const c = bindEndpoint(clientLeaf, ca);
  extraEndpoints.push(tight, c);
  const [conn, sconn] = await Promise.all([c.connect(tight.localAddr, '::1'), tight.accept()]);
  const kept = []; // hold every handle: release must not depend on garbage collection
  for (let i = 0; i < 20; i++) {
    const s = await conn.openBi();
    kept.push(s);
    await s.write(Buffer.from('request'));
    const r = await sconn.acceptBi();
    kept.push(r);
    assert.equal((await r.read(64)).toString(), 'request');
    r.stopSending(7); // the server needs no more request bytes
    await r.write(Buffer.from('response'));
    r.finish();
    assert.equal((await readAll(s)).toString(), 'response');
    // Our send side was stopped by the peer (STOP_SENDING travelled before the response):
    // finish() must answer with RESET_STREAM, or the server can never free the stream.
    s.finish();
  }
  assert.equal(kept.length, 40);
  conn.close(0, 'done');
}, { timeout: 20000 });

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
  await assert.rejects(ep.connect(c.localAddr, '::1'), /^Error: ENDPOINT_CLOSED: /);
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
  assert.throws(() => native.falconVerify(Buffer.alloc(10), msg, sig), /^Error: FALCON: public key is 10 bytes/);
  assert.throws(() => native.falconSign(Buffer.alloc(10), msg), /^Error: FALCON: /);
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
  assert.throws(() => native.sha256Batch(items, 256), /^Error: INVALID_ARGUMENT: /);
});

'use strict';
// The endpoint's identity while it runs: replacing the certificate keeps open connections and
// changes what new handshakes present; and the two bootstrap exceptions for enrollment (a
// client with no certificate, a client that knows only the root's SHA-256).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { QuicEndpoint } = require('..');
const { muxOf, echoStreams } = require('./mux-helper');
const { makeCa, makeLeaf } = require('./pki-helper');

let dir, ca, otherCa, serverA, serverB, clientLeaf;
const endpoints = [];

function bind(opts) {
  const ep = QuicEndpoint.bind({ bind: '[::1]:0', acceptIncoming: false, ...opts });
  endpoints.push(ep);
  return ep;
}

function listen(leaf, tls = {}) {
  const ep = bind({ acceptIncoming: true, tls: { ...leaf, trustRootsPem: ca.pem, ...tls } });
  const conns = [];
  const waiting = [];
  (async () => {
    for (;;) {
      const c = await ep.accept();
      if (c === null) break;
      echoStreams(c);
      if (waiting.length) waiting.shift()(c); else conns.push(c);
    }
  })();
  return { ep, next: () => (conns.length ? Promise.resolve(conns.shift()) : new Promise((r) => waiting.push(r))) };
}

const leafDer = (conn) => Buffer.from(conn.peerCertificates()[0]).toString('hex');
const derOf = (pem) => Buffer.from(new crypto.X509Certificate(pem).raw).toString('hex');
const echo = async (conn, text) => (await muxOf(conn).open(Buffer.from(text), true).readAll()).toString();

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stoq-native-identity-'));
  ca = makeCa(dir, 'ca');
  otherCa = makeCa(dir, 'other-ca');
  serverA = makeLeaf(dir, ca, 'server-a', 'IP:::1');
  serverB = makeLeaf(dir, ca, 'server-b', 'IP:::1');
  clientLeaf = makeLeaf(dir, ca, 'client', 'DNS:client.stoq.test');
});

after(async () => {
  for (const ep of endpoints) ep.close(0, 'test done');
  await Promise.all(endpoints.map((ep) => ep.waitIdle()));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('replaceIdentity: open connections keep working, new handshakes present the new certificate', async () => {
  const server = listen(serverA);
  const client = bind({ tls: { ...clientLeaf, trustRootsPem: ca.pem } });
  const [before, sBefore] = await Promise.all([client.connect(server.ep.localAddr, '::1'), server.next()]);
  assert.equal(leafDer(before), derOf(serverA.certChainPem));
  assert.equal(await echo(before, 'one'), 'one');

  server.ep.replaceIdentity(serverB.certChainPem, serverB.keyPem);
  // The connection from before the swap still carries streams both ways.
  assert.equal(await echo(before, 'two'), 'two');
  const [after, sAfter] = await Promise.all([client.connect(server.ep.localAddr, '::1'), server.next()]);
  assert.equal(leafDer(after), derOf(serverB.certChainPem));
  assert.equal(await echo(after, 'three'), 'three');
  assert.equal(await echo(before, 'four'), 'four');
  assert.equal(leafDer(sBefore), leafDer(sAfter), 'the client kept its own certificate');

  // The client side swaps too: the server sees the new client certificate on the next handshake.
  const clientB = makeLeaf(dir, ca, 'client-b', 'DNS:client.stoq.test');
  client.replaceIdentity(clientB.certChainPem, clientB.keyPem);
  const [, sThird] = await Promise.all([client.connect(server.ep.localAddr, '::1'), server.next()]);
  assert.equal(leafDer(sThird), derOf(clientB.certChainPem));
});

test('replaceIdentity refuses a key that does not match, and keeps the old identity', async () => {
  const server = listen(serverA);
  assert.throws(() => server.ep.replaceIdentity(serverB.certChainPem, serverA.keyPem), { code: 'TLS_CONFIG', message: /keyPem does not belong/ });
  assert.throws(() => server.ep.replaceIdentity('not pem', serverA.keyPem), { code: 'TLS_CONFIG' });
  const client = bind({ tls: { ...clientLeaf, trustRootsPem: ca.pem } });
  const [conn] = await Promise.all([client.connect(server.ep.localAddr, '::1'), server.next()]);
  assert.equal(leafDer(conn), derOf(serverA.certChainPem));
});

test('a client with no certificate is refused, unless the server accepts anonymous clients', async () => {
  const strict = listen(serverA);
  const anon = bind({ tls: { trustRootsPem: ca.pem } });
  await assert.rejects(anon.connect(strict.ep.localAddr, '::1'), { code: 'HANDSHAKE_FAILED' });

  const open = listen(serverA, { acceptAnonymousClients: true });
  const [conn, sconn] = await Promise.all([anon.connect(open.ep.localAddr, '::1'), open.next()]);
  assert.deepEqual(sconn.peerCertificates(), []);
  assert.equal(await echo(conn, 'hello'), 'hello');
  // Clients with certificates are still verified against the roots on that server.
  const rogue = bind({ tls: { ...makeLeaf(dir, otherCa, 'rogue', 'DNS:rogue.stoq.test'), trustRootsPem: ca.pem } });
  await assert.rejects(rogue.connect(open.ep.localAddr, '::1'), { code: 'HANDSHAKE_FAILED' });
  const [, named] = await Promise.all([bind({ tls: { ...clientLeaf, trustRootsPem: ca.pem } }).connect(open.ep.localAddr, '::1'), open.next()]);
  assert.equal(leafDer(named), derOf(clientLeaf.certChainPem));
});

test('trustRootSha256: the client trusts the server chain whose root has the pinned fingerprint', async () => {
  // The server sends its root in its chain, as TrustChain does.
  const server = listen({ certChainPem: serverA.certChainPem + ca.pem, keyPem: serverA.keyPem }, { acceptAnonymousClients: true });
  const pinned = bind({ tls: { trustRootSha256: ca.sha256 } });
  const [conn] = await Promise.all([pinned.connect(server.ep.localAddr, '::1'), server.next()]);
  assert.equal(await echo(conn, 'pinned'), 'pinned');
  assert.equal(Buffer.from(conn.peerCertificates().at(-1)).toString('hex'), derOf(ca.pem));

  const wrongPin = bind({ tls: { trustRootSha256: otherCa.sha256 } });
  await assert.rejects(wrongPin.connect(server.ep.localAddr, '::1'),
    { code: 'HANDSHAKE_FAILED', message: new RegExp(`pinned SHA-256 fingerprint ${otherCa.sha256}`) });
  // A server that does not send its root cannot be verified from a pin alone.
  const bare = listen(serverA, { acceptAnonymousClients: true });
  await assert.rejects(bind({ tls: { trustRootSha256: ca.sha256 } }).connect(bare.ep.localAddr, '::1'), { code: 'HANDSHAKE_FAILED' });
  // The pin does not excuse the name check.
  await assert.rejects(pinned.connect(server.ep.localAddr, 'elsewhere.stoq.test'), { code: 'HANDSHAKE_FAILED' });
});

test('bootstrap options are checked at bind', () => {
  assert.throws(() => bind({ tls: { trustRootSha256: 'abc' } }), { code: 'TLS_CONFIG', message: /64 hex digits/ });
  assert.throws(() => bind({ tls: { trustRootsPem: ca.pem, trustRootSha256: ca.sha256 } }), { code: 'TLS_CONFIG', message: /not both/ });
  assert.throws(() => bind({ tls: {} }), { code: 'TLS_CONFIG', message: /trustRootsPem is missing/ });
  assert.throws(() => bind({ acceptIncoming: true, tls: { trustRootsPem: ca.pem } }), { code: 'TLS_CONFIG', message: /listening endpoint needs certChainPem/ });
  assert.throws(() => bind({ acceptIncoming: true, tls: { ...serverA, trustRootSha256: ca.sha256 } }), { code: 'TLS_CONFIG', message: /needs trustRootsPem/ });
  assert.throws(() => bind({ tls: { certChainPem: serverA.certChainPem, trustRootsPem: ca.pem } }), { code: 'TLS_CONFIG', message: /go together/ });
});

// The transport over real QUIC sockets on ::1: handshake, trust checks, FALCON exchange,
// streams, datagrams, 0-RTT and migration.
import { once } from 'node:events';
import { StoqError } from '../src/errors';
import { encodeFrame } from '../src/frame';
import type { StoqTransport, TransportIdentity } from '../src/transport';
import { loadNative } from '../src/native-binding';
import { bytes, captureLogs, Fixture } from './support/net';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.close();
});

async function expectStoqError(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<StoqError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${code}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoqError);
  expect((err as StoqError).code).toBe(code);
  if (pattern) expect((err as StoqError).message).toMatch(pattern);
  return err as StoqError;
}

function nextAuthError(t: StoqTransport): Promise<StoqError> {
  return once(t, 'auth-error').then(([e]) => e as StoqError);
}

async function echoOnce(t: StoqTransport, server: StoqTransport, payload = bytes(1000)): Promise<void> {
  const conn = await t.connect(server.localAddress);
  const s = await conn.openStream();
  await s.sendMessage(payload);
  s.finish();
  expect(Buffer.from((await s.receiveMessage())!)).toEqual(Buffer.from(payload));
  conn.close();
}

describe('IPv6 only', () => {
  test('binding an IPv4 or IPv4-mapped address is refused', async () => {
    const ca = await fx.ca();
    const id = await fx.identity(ca, 'alpha');
    for (const bind of ['127.0.0.1:0', '[::ffff:127.0.0.1]:0']) {
      let err: unknown;
      try {
        fx.client(id, { bind });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StoqError);
      expect((err as StoqError).code).toBe('IPV4_REFUSED');
      expect((err as StoqError).message).toMatch(/IPv4/);
    }
  });

  test('dialing an IPv4 or IPv4-mapped address is refused', async () => {
    const ca = await fx.ca();
    const client = fx.client(await fx.identity(ca, 'alpha'));
    await expectStoqError(client.connect('127.0.0.1:4433'), 'IPV4_REFUSED', /IPv4/);
    await expectStoqError(client.connect('[::ffff:127.0.0.1]:4433', { serverName: 'localhost' }), 'IPV4_REFUSED', /IPv4-mapped/);
  });
});

describe('handshake and trust', () => {
  test('mutual TLS with the hybrid group, then the FALCON exchange, yields authenticated peers', async () => {
    const ca = await fx.ca();
    const server = fx.server(await fx.identity(ca, 'caesar', 'caesar-1'));
    const client = fx.client(await fx.identity(ca, 'hypermesh', 'hypermesh-7'));
    const [conn, accepted] = await Promise.all([client.connect(server.localAddress), server.accept()]);
    expect(conn.keyExchangeGroup).toBe('X25519MLKEM768');
    expect(conn.peer.service).toBe('caesar');
    expect(conn.peer.instance).toBe('caesar-1');
    expect(accepted!.peer!.service).toBe('hypermesh');
    expect(accepted!.peer!.instance).toBe('hypermesh-7');
    expect(accepted!.keyExchangeGroup).toBe('X25519MLKEM768');
    expect(Buffer.from(conn.peer.falconPublicKey)).toEqual(Buffer.from((server.identity as TransportIdentity).falconPublicKey));
    expect(server.stats().authenticatedConnections).toBe(1);
  });

  test('strict post-quantum mode on both sides still connects with X25519MLKEM768', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { requirePqKex: true });
    const client = fx.client(await fx.identity(ca, 'beta'), { requirePqKex: true });
    const conn = await client.connect(server.localAddress);
    expect(conn.keyExchangeGroup).toBe('X25519MLKEM768');
  });

  test('a client certificate from another CA is refused, and the server keeps serving', async () => {
    const ca = await fx.ca();
    const rogueCa = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const rogue = fx.client(await fx.identity(rogueCa, 'mallory'));
    await expectStoqError(rogue.connect(server.localAddress), 'HANDSHAKE_FAILED');
    // The endpoint is unaffected: an honest client still gets through.
    await echoOnce(fx.client(await fx.identity(ca, 'beta')), server);
    expect(server.stats().handshakeFailures).toBeGreaterThanOrEqual(1);
  });

  test('a client that closes right after connect() resolved is not counted as an authentication failure', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const errors: StoqError[] = [];
    server.on('auth-error', (e) => errors.push(e));
    const client = fx.client(await fx.identity(ca, 'beta'));
    for (let i = 0; i < 20; i++) {
      const conn = await client.connect(server.localAddress);
      conn.close(0, 'done'); // a one-shot tool: nothing more to say
    }
    await echoOnce(client, server); // and the server still serves
    expect(errors).toEqual([]);
    expect(server.stats().authFailures).toBe(0);
  });

  test('the refusing server reports a TLS-level refusal too: event and a warning naming the peer and the reason', async () => {
    const ca = await fx.ca();
    const rogueCa = await fx.ca();
    const logs = captureLogs();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { logger: logs.logger });
    const refused = once(server, 'handshake-refused') as Promise<[string, string]>;
    const rogue = fx.client(await fx.identity(rogueCa, 'mallory'));
    await expectStoqError(rogue.connect(server.localAddress), 'HANDSHAKE_FAILED');
    const [reason, remote] = await refused;
    expect(remote).toBe(rogue.localAddress);
    expect(reason).toMatch(/certificate/i);
    const line = logs.lines().find((l) => l.msg === 'incoming handshake refused');
    expect(line).toMatchObject({ level: 40, remote: rogue.localAddress, reason });
  });

  test('a server certificate from another CA is refused by the client', async () => {
    const ca = await fx.ca();
    const rogueCa = await fx.ca();
    const server = fx.echoServer(await fx.identity(rogueCa, 'alpha'));
    const client = fx.client(await fx.identity(ca, 'beta'));
    await expectStoqError(client.connect(server.localAddress), 'HANDSHAKE_FAILED', /certificate|issuer/i);
  });

  test('an expired server certificate is refused', async () => {
    const ca = await fx.ca();
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const server = fx.echoServer(await fx.identity(ca, 'alpha', 'alpha-1', { notBefore: twoDaysAgo, lifetimeMs: 86_400_000 }));
    const client = fx.client(await fx.identity(ca, 'beta'));
    await expectStoqError(client.connect(server.localAddress), 'HANDSHAKE_FAILED', /expired/i);
  });

  test('an expired client certificate is refused', async () => {
    const ca = await fx.ca();
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const client = fx.client(await fx.identity(ca, 'beta', 'beta-1', { notBefore: twoDaysAgo, lifetimeMs: 86_400_000 }));
    await expectStoqError(client.connect(server.localAddress), 'HANDSHAKE_FAILED');
  });

  test('a server name that is not in the certificate is refused', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const client = fx.client(await fx.identity(ca, 'beta'));
    await expectStoqError(client.connect(server.localAddress, { serverName: 'evil.example' }), 'HANDSHAKE_FAILED', /name|certificate/i);
  });

  test('a client whose FALCON key does not match its certificate is refused, with a clear error on both sides', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const honest = await fx.identity(ca, 'beta');
    const wrongKey: TransportIdentity = { ...honest, falconSecretKey: loadNative().falconKeypair().secretKey };
    const serverSide = nextAuthError(server);
    const clientErr = await expectStoqError(fx.client(wrongKey).connect(server.localAddress), 'FALCON_REJECTED');
    expect(clientErr.message).toMatch(/server rejected our FALCON proof/);
    const serverErr = await serverSide;
    expect(serverErr.code).toBe('FALCON_REJECTED');
    expect(serverErr.message).toMatch(/client FALCON signature does not verify/);
    expect(server.stats().authFailures).toBe(1);
  });

  test('a server whose FALCON key does not match its certificate is refused, with a clear error on both sides', async () => {
    const ca = await fx.ca();
    const honest = await fx.identity(ca, 'alpha');
    const server = fx.echoServer({ ...honest, falconSecretKey: loadNative().falconKeypair().secretKey });
    const serverSide = nextAuthError(server);
    await expectStoqError(fx.client(await fx.identity(ca, 'beta')).connect(server.localAddress), 'FALCON_REJECTED', /server FALCON signature does not verify/);
    const serverErr = await serverSide;
    expect(serverErr.code).toBe('FALCON_REJECTED');
    expect(serverErr.message).toMatch(/client rejected our FALCON proof/);
  });

  test('expectedService refuses a server whose certificate names another service', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'caesar'));
    const client = fx.client(await fx.identity(ca, 'beta'));
    await expectStoqError(client.connect(server.localAddress, { expectedService: 'trustchain' }), 'PEER_REJECTED', /expected service "trustchain".*"caesar"/);
    const ok = await client.connect(server.localAddress, { expectedService: 'caesar' });
    expect(ok.peer.service).toBe('caesar');
  });

  test('the verifyPeer hook can refuse a peer after inspecting its chain', async () => {
    const ca = await fx.ca();
    const seen: string[] = [];
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), {
      verifyPeer: (peer, chain) => {
        seen.push(`${peer.service}:${chain.length}`);
        if (peer.service === 'banned') throw new Error('service banned is revoked');
      },
    });
    const serverSide = nextAuthError(server);
    await expectStoqError(fx.client(await fx.identity(ca, 'banned')).connect(server.localAddress), 'PEER_REJECTED', /revoked/);
    expect((await serverSide).code).toBe('PEER_REJECTED');
    await echoOnce(fx.client(await fx.identity(ca, 'beta')), server);
    expect(seen).toEqual(['banned:2', 'beta:2']);
  });

  test('closePeer closes the connections with one certificate, accepted and dialed alike, and no other', async () => {
    const ca = await fx.ca();
    const server = fx.server(await fx.identity(ca, 'caesar', 'caesar-1'));
    const client = fx.client(await fx.identity(ca, 'catalog', 'catalog-1'));
    const other = fx.client(await fx.identity(ca, 'ngauge', 'ngauge-1'));
    const [dialed, accepted] = await Promise.all([client.connect(server.localAddress), server.accept()]);
    const [kept] = await Promise.all([other.connect(server.localAddress), server.accept()]);
    // The server refuses the client: its accepted connection closes, the other stays.
    expect(server.closePeer(accepted!.peer!.fingerprint, 0, 'certificate revoked')).toBe(1);
    await dialed.closed;
    expect(server.closePeer('0'.repeat(64))).toBe(0);
    // A client refuses the server: its dialed connection closes.
    expect(other.closePeer(kept.peer.fingerprint)).toBe(1);
    await kept.closed;
  });
});

describe('limits', () => {
  test('connections beyond maxConnections are refused with a clear reason, and admitted again once one closes', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { maxConnections: 1 });
    const client = fx.client(await fx.identity(ca, 'beta'));
    const first = await client.connect(server.localAddress);
    await expectStoqError(client.connect(server.localAddress), 'CONNECTION_LOST', /refused the connection: connection limit of 1 reached/);
    first.close(0, 'done');
    await first.closed;
    // The server learns of the close asynchronously: retry until its slot is free (bounded).
    let admitted: Awaited<ReturnType<typeof client.connect>> | null = null;
    for (let attempt = 0; attempt < 50 && !admitted; attempt++) {
      admitted = await client.connect(server.localAddress).catch(() => null);
    }
    expect(admitted?.peer.service).toBe('alpha');
  });

  test('a full node refuses cheaply: every refusal counted, one warning per interval however many', async () => {
    const ca = await fx.ca();
    const logs = captureLogs();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { maxConnections: 1, logger: logs.logger });
    const client = fx.client(await fx.identity(ca, 'beta'));
    const first = await client.connect(server.localAddress);
    for (let i = 0; i < 20; i++) {
      await expectStoqError(client.connect(server.localAddress), 'CONNECTION_LOST', /connection limit of 1 reached/);
    }
    expect(server.stats().refusedConnections).toBe(20);
    const warnings = logs.lines().filter((l) => l.kind === 'connection-limit');
    expect(warnings).toHaveLength(1); // the interval is 10 s; the 20 refusals took far less
    expect(warnings[0]).toMatchObject({ level: 40, limit: 1, msg: 'connections refused: connection limit reached' });
    first.close();
  });
});

describe('streams and datagrams', () => {
  test('1,000 concurrent streams on one connection each echo their own message', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const conn = await fx.client(await fx.identity(ca, 'beta')).connect(server.localAddress);
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const s = await conn.openStream();
        const payload = bytes(64 + (i % 200), i + 1);
        await s.sendMessage(payload);
        s.finish();
        const back = await s.receiveMessage();
        expect(await s.receiveMessage()).toBeNull();
        return Buffer.from(back!).equals(Buffer.from(payload));
      }),
    );
    expect(results.every(Boolean)).toBe(true);
  });

  test('a 16 MiB message crosses one stream intact with backpressure', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { maxMessageBytes: 32 << 20 });
    const conn = await fx.client(await fx.identity(ca, 'beta'), { maxMessageBytes: 32 << 20 }).connect(server.localAddress);
    const s = await conn.openStream();
    const payload = bytes(16 << 20, 7);
    const [, back] = await Promise.all([s.sendMessage(payload).then(() => s.finish()), s.receiveMessage()]);
    expect(Buffer.from(back!).equals(Buffer.from(payload))).toBe(true);
  });

  test('datagrams round-trip', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const conn = await fx.client(await fx.identity(ca, 'beta')).connect(server.localAddress);
    conn.sendDatagram(Buffer.from('ping-datagram'));
    expect(Buffer.from((await conn.receiveDatagram())!).toString()).toBe('ping-datagram');
  });

  test('malformed frames never crash the endpoint: an oversized length prefix is refused and other calls continue', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const conn = await fx.client(await fx.identity(ca, 'beta')).connect(server.localAddress);
    const bad = await conn.openStream();
    // Varint 2^62-1: a frame far over any limit.
    await bad.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3));
    await expect(bad.read()).rejects.toMatchObject({ code: 'STREAM_RESET' });
    const garbage = await conn.openStream();
    await garbage.write(encodeFrame(bytes(10)).subarray(0, 5)); // truncated frame then FIN
    garbage.finish();
    await expect(garbage.read()).rejects.toMatchObject({ code: 'STREAM_RESET' });
    const good = await conn.openStream();
    await good.sendMessage(Buffer.from('still alive'));
    good.finish();
    expect(Buffer.from((await good.receiveMessage())!).toString()).toBe('still alive');
  });

  test('garbage instead of the FALCON exchange is refused and the server keeps serving', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const clientId = await fx.identity(ca, 'beta');
    // Speak raw QUIC with valid TLS but send junk on the auth stream.
    const native = loadNative();
    const raw = native.QuicEndpoint.bind({
      bind: '[::1]:0',
      acceptIncoming: false,
      tls: { certChainPem: clientId.certChainPem, keyPem: clientId.keyPem, trustRootsPem: clientId.trustRootsPem },
    });
    const serverSide = nextAuthError(server);
    const qc = await raw.connect(server.localAddress, '::1');
    qc.startStreams(() => undefined);
    qc.streamOps(Float64Array.of(0 /* open */, 0, 0, 4), Buffer.from([0x03, 0x09, 0x09, 0x09]));
    const closed = await qc.closed();
    expect(closed.code).toBe(0x5103);
    expect((await serverSide).message).toMatch(/unknown FALCON handshake message tag/);
    raw.close(0, 'done');
    await echoOnce(fx.client(clientId), server);
  });
});

describe('0-RTT and migration', () => {
  test('a resumed connection sends 0-RTT early data that the server accepts', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { zeroRtt: true });
    const client = fx.client(await fx.identity(ca, 'beta'), { zeroRtt: true });
    const first = await client.connect(server.localAddress, { zeroRtt: true });
    expect(first.zeroRtt).toBe(false); // no ticket yet: full handshake
    // Let the session ticket arrive before closing: it comes with the first server data.
    const s1 = await first.openStream();
    await s1.sendMessage(Buffer.from('warm-up'));
    s1.finish();
    await s1.receiveMessage();
    first.close();

    const second = await client.connect(server.localAddress, { zeroRtt: true });
    const early = await second.openStream({ early: true });
    await early.sendMessage(Buffer.from('idempotent early data'));
    early.finish();
    await second.ready;
    expect(second.zeroRtt).toBe(true);
    expect(Buffer.from((await early.receiveMessage())!).toString()).toBe('idempotent early data');
    expect(second.peer.service).toBe('alpha');
  });

  test('a connection survives the client moving to a new local socket', async () => {
    const ca = await fx.ca();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'));
    const client = fx.client(await fx.identity(ca, 'beta'));
    const conn = await client.connect(server.localAddress);
    const before = client.localAddress;
    const s = await conn.openStream();
    await s.sendMessage(Buffer.from('before'));
    expect(Buffer.from((await s.receiveMessage())!).toString()).toBe('before');
    client.rebind('[::1]:0');
    expect(client.localAddress).not.toBe(before);
    await s.sendMessage(Buffer.from('after'));
    expect(Buffer.from((await s.receiveMessage())!).toString()).toBe('after');
    s.finish();
    const s2 = await conn.openStream();
    await s2.sendMessage(Buffer.from('new stream after migration'));
    s2.finish();
    expect(Buffer.from((await s2.receiveMessage())!).toString()).toBe('new stream after migration');
  });
});

describe('close', () => {
  test('tells the peers at once; a normal close drains within the bound (no warning)', async () => {
    const ca = await fx.ca();
    const logs = captureLogs();
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { logger: logs.logger });
    const client = fx.client(await fx.identity(ca, 'beta'));
    const conn = await client.connect(server.localAddress);
    await server.close(0, 'maintenance');
    expect(await conn.closed).toMatchObject({ reason: 'peer', code: 0, message: 'maintenance' });
    expect(logs.lines().filter((l) => /without waiting longer/.test(String(l.msg)))).toEqual([]);
  });

  test('stops waiting after closeDrainMs, and says so (a connection can stay until its idle timeout)', async () => {
    const ca = await fx.ca();
    const logs = captureLogs();
    // 0: the wait ends at once, while the just-closed connection is in its closing period (3 PTOs).
    const server = fx.echoServer(await fx.identity(ca, 'alpha'), { logger: logs.logger, closeDrainMs: 0 });
    const client = fx.client(await fx.identity(ca, 'beta'));
    const conn = await client.connect(server.localAddress);
    await server.close();
    expect(logs.lines().find((l) => /without waiting longer/.test(String(l.msg)))).toMatchObject({ level: 40, drainMs: 0 });
    // The peer was told all the same.
    expect(await conn.closed).toMatchObject({ reason: 'peer', code: 0 });
  });

  test('a closeDrainMs that is not a whole number of milliseconds is CONFIG_INVALID', async () => {
    const id = await fx.identity(await fx.ca(), 'alpha');
    for (const closeDrainMs of [-1, 1.5, Number.NaN]) expect(() => fx.server(id, { closeDrainMs })).toThrow(/closeDrainMs .* must be an integer/);
  });
});

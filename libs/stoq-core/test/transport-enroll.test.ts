// The transport's bootstrap and renewal paths: an enrolling client (no certificate) reaching a
// server that accepts anonymous clients, trusting it through the root's pinned SHA-256; and an
// identity replaced while connections stay up.
import { createHash } from 'node:crypto';
import { pemToDer, pemToDerList } from '../src/identity/pem';
import { StoqTransport, type TransportIdentity } from '../src/transport';
import type { DevCa } from '../src/identity/dev-ca';
import { Fixture } from './support/net';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(() => fx.close());

const fp = (id: TransportIdentity) => createHash('sha256').update(pemToDerList(id.certChainPem, 'CERTIFICATE', 'chain')[0]!).digest('hex');
const pinOf = (ca: DevCa) => createHash('sha256').update(pemToDer(ca.rootPem, 'CERTIFICATE', 'root')).digest('hex');

function enrolling(opts: { trustRootSha256?: string; trustRootsPem?: string }): StoqTransport {
  const t = StoqTransport.create({ identity: { enrolling: true, ...opts }, bind: '[::1]:0' });
  fxTransports.push(t);
  return t;
}
const fxTransports: StoqTransport[] = [];
afterEach(async () => {
  await Promise.all(fxTransports.splice(0).map((t) => t.close()));
});

async function echoOnce(conn: { openStream(): Promise<{ sendMessage(b: Uint8Array): Promise<void>; receiveMessage(): Promise<Uint8Array | null>; finish(): void }> }, text: string): Promise<string> {
  const s = await conn.openStream();
  await s.sendMessage(Buffer.from(text));
  const back = await s.receiveMessage();
  s.finish();
  return Buffer.from(back ?? []).toString();
}

test('an enrolling client with the pinned root fingerprint reaches a server that accepts anonymous clients; its peer is null there', async () => {
  const ca = await fx.ca();
  const server = fx.echoServer(await fx.identity(ca, 'trustchain'), { acceptAnonymousClients: true });
  const accepted: Array<unknown> = [];
  server.on('auth-error', (e) => accepted.push(e));
  const client = enrolling({ trustRootSha256: pinOf(ca) });
  const conn = await client.connect(server.localAddress);
  expect(conn.peer.service).toBe('trustchain');
  expect(await echoOnce(conn, 'hello')).toBe('hello');
  expect(accepted).toEqual([]);
  expect(server.stats().authenticatedConnections).toBe(1);
});

test('the server sees peer === null for the anonymous client and a real peer for everyone else', async () => {
  const ca = await fx.ca();
  const server = fx.server(await fx.identity(ca, 'trustchain'), { acceptAnonymousClients: true });
  const anon = enrolling({ trustRootsPem: ca.rootPem });
  const [, anonConn] = await Promise.all([anon.connect(server.localAddress), server.accept()]);
  expect(anonConn!.peer).toBeNull();
  const named = fx.client(await fx.identity(ca, 'caesar'));
  const [, namedConn] = await Promise.all([named.connect(server.localAddress), server.accept()]);
  expect(namedConn!.peer!.service).toBe('caesar');
});

test('a server without acceptAnonymousClients refuses the enrolling client at TLS', async () => {
  const ca = await fx.ca();
  const server = fx.server(await fx.identity(ca, 'caesar'));
  await expect(enrolling({ trustRootSha256: pinOf(ca) }).connect(server.localAddress)).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED' });
});

test('a wrong pin refuses the server, naming the fingerprint it looked for', async () => {
  const ca = await fx.ca();
  const other = await fx.ca();
  const server = fx.server(await fx.identity(ca, 'trustchain'), { acceptAnonymousClients: true });
  const err = await enrolling({ trustRootSha256: pinOf(other) }).connect(server.localAddress).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'HANDSHAKE_FAILED' });
  expect((err as Error).message).toContain(pinOf(other));
});

test('enrolling identities are checked: dial only, exactly one way to trust the server', async () => {
  expect(() => StoqTransport.listen({ identity: { enrolling: true, trustRootSha256: 'ab'.repeat(32) }, bind: '[::1]:0' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  expect(() => StoqTransport.create({ identity: { enrolling: true }, bind: '[::1]:0' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  expect(() => StoqTransport.create({ identity: { enrolling: true, trustRootSha256: 'xyz' }, bind: '[::1]:0' })).toThrow(expect.objectContaining({ code: 'TLS_CONFIG' }));
});

test('replaceIdentity: open connections keep working; new connections see the new certificate', async () => {
  const ca = await fx.ca();
  const first = await fx.identity(ca, 'caesar', 'caesar-1');
  const server = fx.echoServer(first);
  const client = fx.client(await fx.identity(ca, 'hypermesh'));
  const before = await client.connect(server.localAddress);
  expect(before.peer.fingerprint).toBe(fp(first));

  const renewed = await fx.identity(ca, 'caesar', 'caesar-1');
  expect(fp(renewed)).not.toBe(fp(first));
  server.replaceIdentity(renewed);
  expect(await echoOnce(before, 'still here')).toBe('still here');
  const after = await client.connect(server.localAddress);
  expect(after.peer.fingerprint).toBe(fp(renewed));
  // The FALCON proof on the new connection is made with the renewed FALCON key.
  expect(Buffer.from(after.peer.falconPublicKey)).toEqual(Buffer.from(renewed.falconPublicKey));
  expect(await echoOnce(after, 'new')).toBe('new');
  expect(await echoOnce(before, 'old')).toBe('old');
});

test('replaceIdentity refuses another service or instance and keeps the current identity', async () => {
  const ca = await fx.ca();
  const first = await fx.identity(ca, 'caesar', 'caesar-1');
  const server = fx.echoServer(first);
  expect(() => server.replaceIdentity({ ...first, instance: 'caesar-2' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  const other = await fx.identity(ca, 'caesar', 'caesar-1');
  expect(() => server.replaceIdentity({ ...other, keyPem: first.keyPem })).toThrow(expect.objectContaining({ code: 'TLS_CONFIG' }));
  const conn = await fx.client(await fx.identity(ca, 'hypermesh')).connect(server.localAddress);
  expect(conn.peer.fingerprint).toBe(fp(first));
});

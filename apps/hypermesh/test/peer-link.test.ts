// The outbound link to a validator over the real STOQ transport: a peer that goes silent (killed
// with SIGKILL: no close reaches us, the connection would look open until the idle timeout) is
// detected by the silence watchdog, the link redials, and messages flow again once the peer is
// back at the same address. The peer sits behind a UDP relay that the test cuts and restores.
import { createSocket, type RemoteInfo } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport, systemClock } from '@stoq/core';
import { hypermesh as proto } from '@stoq/protos';
import { RpcServer } from '@stoq/rpc';
import pino from 'pino';
import { PeerLink } from '../src/network/peer-link';

jest.setTimeout(60_000);

/** A UDP relay on [::1] to `server`; `cut()` drops everything (a killed peer), `restore()` forwards again. */
function udpRelay(server: string): Promise<{ address: string; cut(): void; restore(): void; close(): void }> {
  const port = Number(server.slice(server.lastIndexOf(':') + 1));
  const front = createSocket('udp6');
  const back = createSocket('udp6');
  let client: RemoteInfo | null = null;
  let open = true;
  front.on('message', (msg, from) => {
    client = from;
    if (open) back.send(msg, port, '::1');
  });
  back.on('message', (msg) => {
    if (open && client) front.send(msg, client.port, client.address);
  });
  return new Promise((resolve) => {
    back.bind(0, '::1', () =>
      front.bind(0, '::1', () =>
        resolve({
          address: `[::1]:${front.address().port}`,
          cut: () => (open = false),
          restore: () => (open = true),
          close: () => (front.close(), back.close()),
        }),
      ),
    );
  });
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a silent peer is detected, the link redials, and messages flow again when the peer is back at the same address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-peer-link-'));
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const peerId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'v2'), service: 'hypermesh', instance: 'hypermesh-2', ca });
  const selfId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'v1'), service: 'hypermesh', instance: 'hypermesh-1', ca });
  const listener = StoqTransport.listen({ identity: peerId, bind: '[::1]:0' });
  const dialer = StoqTransport.create({ identity: selfId, bind: '[::1]:0' });
  const received: string[] = [];
  const server = new RpcServer({ service: 'hypermesh' });
  server.addMethod(
    proto.ConsensusMethods.stream,
    async function* (envelopes) {
      for await (const e of envelopes) received.push(Buffer.from(e.message ?? []).toString());
      yield { accepted: received.length, rejected: 0 };
    },
    { authorize: 'any-authenticated' },
  );
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
  })();
  const relay = await udpRelay(listener.localAddress);
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line).msg as string) });
  const link = new PeerLink({
    peer: { id: 1, instance: 'hypermesh-2', falconPublicKey: peerId.falconPublicKey, weight: 1, address: relay.address },
    transport: dialer,
    clock: systemClock,
    logger,
    locate: async () => relay.address,
  });
  let n = 0;
  const sender = setInterval(() => link.enqueue({ message: Buffer.from(`m${n++}`) }), 50);
  try {
    link.start();
    await until('messages through the link', () => received.length >= 5);
    expect(logs.filter((m) => m === 'validator link up')).toHaveLength(1);

    relay.cut();
    await until('the silence watchdog', () => logs.includes('validator silent: redialling'));
    const before = received.length;
    relay.restore();
    await until('a second link up', () => logs.filter((m) => m === 'validator link up').length === 2);
    await until('messages after the redial', () => received.length >= before + 5);
  } finally {
    clearInterval(sender);
    await link.close();
    relay.close();
    server.close();
    await Promise.allSettled([dialer.close(), listener.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a live peer is never judged silent while messages flow', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-peer-link-'));
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const peerId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'v2'), service: 'hypermesh', instance: 'hypermesh-2', ca });
  const selfId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'v1'), service: 'hypermesh', instance: 'hypermesh-1', ca });
  const listener = StoqTransport.listen({ identity: peerId, bind: '[::1]:0' });
  const dialer = StoqTransport.create({ identity: selfId, bind: '[::1]:0' });
  let count = 0;
  const server = new RpcServer({ service: 'hypermesh' });
  server.addMethod(
    proto.ConsensusMethods.stream,
    async function* (envelopes) {
      for await (const _ of envelopes) count++;
      yield { accepted: count, rejected: 0 };
    },
    { authorize: 'any-authenticated' },
  );
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
  })();
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line).msg as string) });
  const link = new PeerLink({
    peer: { id: 1, instance: 'hypermesh-2', falconPublicKey: peerId.falconPublicKey, weight: 1, address: listener.localAddress },
    transport: dialer,
    clock: systemClock,
    logger,
    locate: async () => listener.localAddress,
  });
  const sender = setInterval(() => link.enqueue({ message: Buffer.from('m') }), 20);
  try {
    link.start();
    // Four watchdog periods (1.5 s each) of steady traffic.
    await until('6 s of messages', () => count >= 300);
    expect(logs).not.toContain('validator silent: redialling');
    expect(logs.filter((m) => m === 'validator link up')).toHaveLength(1);
  } finally {
    clearInterval(sender);
    await link.close();
    server.close();
    await Promise.allSettled([dialer.close(), listener.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

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

// The same relay as libs/stoq-rpc/test/support/udp-relay.ts (test files cannot import across packages).
interface UdpRelay {
  /** `[::1]:port` to dial instead of the server. */
  address: string;
  cut(): void;
  restore(): void;
  close(): void;
}

function udpRelay(server: string): Promise<UdpRelay> {
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

/** A validator's stream endpoint (instance hypermesh-2) counting what it receives, and our link's transport. */
async function peerAndDialer(dir: string) {
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
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line).msg as string) });
  const linkTo = (address: string) =>
    new PeerLink({ peer: { id: 1, instance: 'hypermesh-2', falconPublicKey: peerId.falconPublicKey, weight: 1, address }, transport: dialer, clock: systemClock, logger, locate: async () => address });
  return {
    listener,
    received,
    logs,
    linkTo,
    close: async () => {
      server.close();
      await Promise.allSettled([dialer.close(), listener.close()]);
    },
  };
}

test('a silent peer is detected, the link redials, and messages flow again when the peer is back at the same address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-peer-link-'));
  const p = await peerAndDialer(dir);
  const relay = await udpRelay(p.listener.localAddress);
  const link = p.linkTo(relay.address);
  let n = 0;
  const sender = setInterval(() => link.enqueue({ message: Buffer.from(`m${n++}`) }), 50);
  try {
    link.start();
    await until('messages through the link', () => p.received.length >= 5);
    expect(p.logs.filter((m) => m === 'validator link up')).toHaveLength(1);

    relay.cut();
    await until('the silence watchdog', () => p.logs.includes('validator silent: redialling'));
    const before = p.received.length;
    relay.restore();
    await until('a second link up', () => p.logs.filter((m) => m === 'validator link up').length === 2);
    await until('messages after the redial', () => p.received.length >= before + 5);
  } finally {
    clearInterval(sender);
    await link.close();
    relay.close();
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a live peer is never judged silent while messages flow', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hypermesh-peer-link-'));
  const p = await peerAndDialer(dir);
  const link = p.linkTo(p.listener.localAddress);
  const sender = setInterval(() => link.enqueue({ message: Buffer.from('m') }), 20);
  try {
    link.start();
    // Four watchdog periods (1.5 s each) of steady traffic.
    await until('6 s of messages', () => p.received.length >= 300);
    expect(p.logs).not.toContain('validator silent: redialling');
    expect(p.logs.filter((m) => m === 'validator link up')).toHaveLength(1);
  } finally {
    clearInterval(sender);
    await link.close();
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// RPC over the real STOQ transport (QUIC on [::1], TLS + FALCON), not the in-memory pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport } from '@stoq/core';
import { RpcClient, RpcError, RpcServer, StaticResolver, Status } from '../src';
import { BankMethods } from './fixtures/bank';
import { udpRelay } from './support/udp-relay';

describe('RPC over StoqTransport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stoq-rpc-real-'));
  const transports: StoqTransport[] = [];
  afterAll(async () => {
    await Promise.allSettled(transports.map((t) => t.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves unary and streaming calls, checks identity and propagates errors', async () => {
    const ca = await DevCa.openOrCreate(join(dir, 'ca'));
    const serverId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'bank'), service: 'bank', instance: 'bank-1', ca });
    const clientId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'caesar'), service: 'caesar', instance: 'caesar-1', ca });
    const listener = StoqTransport.listen({ identity: serverId, bind: '[::1]:0' });
    const dialer = StoqTransport.create({ identity: clientId, bind: '[::1]:0' });
    transports.push(listener, dialer);
    const server = new RpcServer({ service: 'bank' });
    const callers: string[] = [];
    server.addMethod(BankMethods.transfer, (req, ctx) => {
      callers.push(`${ctx.peer?.service}/${ctx.peer?.instance}`);
      if (req.from === 'ghost') throw new RpcError(Status.NOT_FOUND, 'no account "ghost"');
      return { txId: `tx-${req.from}` };
    }, { authorize: ['caesar'] });
    server.addMethod(BankMethods.watch, async function* (req) {
      for (let i = 0; i < (req.count ?? 0); i++) yield { seq: i };
    }, { authorize: 'any-authenticated' });
    void (async () => {
      for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
    })();
    const client = new RpcClient({
      connector: (ep, o) => dialer.connect(ep, o),
      resolver: new StaticResolver({ bank: [listener.localAddress] }),
    });
    await expect(client.call(BankMethods.transfer, { from: 'alice' })).resolves.toMatchObject({ txId: 'tx-alice' });
    expect(callers).toEqual(['caesar/caesar-1']);
    await expect(client.call(BankMethods.transfer, { from: 'ghost' })).rejects.toMatchObject({ code: Status.NOT_FOUND, message: 'no account "ghost"' });
    let n = 0;
    for await (const e of client.serverStream(BankMethods.watch, { count: 2000 })) {
      expect(e.seq).toBe(n);
      n++;
    }
    expect(n).toBe(2000);
    // A resolver that expects another service behind this address is refused.
    const wrong = new RpcClient({
      connector: (ep, o) => dialer.connect(ep, o),
      resolver: new StaticResolver({ bank: [{ endpoint: listener.localAddress, expectedService: 'trustchain' }] }),
    });
    const refused = await wrong.call(BankMethods.transfer, { from: 'x' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: Status.UNAUTHENTICATED });
    wrong.close();
    client.close();
    server.close();
  });
  it('completes 10,000 unary calls from 64 concurrent callers on one connection (stream credit is returned)', async () => {
    // Stream credit (MAX_STREAMS) must come back as calls finish: a regression here stalls the
    // callers after about a thousand streams. Completion is the assertion; no timing is involved.
    const ca = await DevCa.openOrCreate(join(dir, 'ca'));
    const serverId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'bank2'), service: 'bank', instance: 'bank-2', ca });
    const clientId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'caesar2'), service: 'caesar', instance: 'caesar-2', ca });
    const listener = StoqTransport.listen({ identity: serverId, bind: '[::1]:0', maxConcurrentStreams: 256 });
    const dialer = StoqTransport.create({ identity: clientId, bind: '[::1]:0' });
    transports.push(listener, dialer);
    const server = new RpcServer({ service: 'bank' });
    server.addMethod(BankMethods.transfer, (req) => ({ txId: req.from }), { authorize: ['caesar'] });
    void (async () => {
      for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
    })();
    const client = new RpcClient({ connector: (ep, o) => dialer.connect(ep, o), resolver: new StaticResolver({ bank: [listener.localAddress] }) });
    let next = 0;
    const results = await Promise.all(
      Array.from({ length: 64 }, async () => {
        let ok = 0;
        while (next < 10_000) {
          const i = next++;
          const res = await client.call(BankMethods.transfer, { from: `a${i}` });
          if (res.txId === `a${i}`) ok++;
        }
        return ok;
      }),
    );
    expect(results.reduce((a, b) => a + b, 0)).toBe(10_000);
    client.close();
    server.close();
  });

  it('a peer that goes silent (killed) is ejected and its pooled connection dropped after one timed-out attempt; a slow live peer is not', async () => {
    const ca = await DevCa.openOrCreate(join(dir, 'ca'));
    const clientId = await NodeIdentity.loadOrCreate({ dataDir: join(dir, 'caesar3'), service: 'caesar', instance: 'caesar-3', ca });
    const dialer = StoqTransport.create({ identity: clientId, bind: '[::1]:0' });
    transports.push(dialer);
    const servers = await Promise.all(
      ['bank-3', 'bank-4'].map(async (instance) => {
        const id = await NodeIdentity.loadOrCreate({ dataDir: join(dir, instance), service: 'bank', instance, ca });
        const listener = StoqTransport.listen({ identity: id, bind: '[::1]:0' });
        transports.push(listener);
        const server = new RpcServer({ service: 'bank' });
        let release: (() => void) | null = null;
        server.addMethod(BankMethods.transfer, async (req) => {
          if (req.from === 'slow') await new Promise<void>((r) => (release = r));
          return { txId: instance };
        }, { authorize: ['caesar'] });
        void (async () => {
          for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
        })();
        return { listener, server, release: () => release?.() };
      }),
    );
    const relay = await udpRelay(servers[0]!.listener.localAddress);
    const dials: string[] = [];
    const client = new RpcClient({
      connector: (ep, o) => (dials.push(ep), dialer.connect(ep, o)),
      resolver: new StaticResolver({ bank: [relay.address, servers[1]!.listener.localAddress] }),
      retry: { maxAttempts: 1 },
    });
    const viaRelay = { target: relay.address };
    expect(await client.call(BankMethods.transfer, { from: 'a' }, viaRelay)).toEqual({ txId: 'bank-3' });

    // Slow but alive: the deadline passes, the peer ACKed the request; nothing is ejected or redialled.
    await expect(client.call(BankMethods.transfer, { from: 'slow' }, { ...viaRelay, timeoutMs: 400 })).rejects.toMatchObject({ code: Status.DEADLINE_EXCEEDED });
    servers[0]!.release();
    expect(client.isEjected('bank', relay.address)).toBe(false);
    expect(await client.call(BankMethods.transfer, { from: 'b' }, viaRelay)).toEqual({ txId: 'bank-3' });
    expect(dials.filter((d) => d === relay.address)).toHaveLength(1);

    // Silent: the connection still looks open (no close reached us), the attempt times out.
    relay.cut();
    await expect(client.call(BankMethods.transfer, { from: 'c' }, { ...viaRelay, timeoutMs: 400 })).rejects.toMatchObject({ code: Status.DEADLINE_EXCEEDED });
    expect(client.isEjected('bank', relay.address)).toBe(true);
    // Balanced calls go to the live target, and a call pinned to the dead one dials afresh (and fails) rather than reusing the dead connection.
    expect(await client.call(BankMethods.transfer, { from: 'd' })).toEqual({ txId: 'bank-4' });
    await expect(client.call(BankMethods.transfer, { from: 'e' }, { ...viaRelay, timeoutMs: 400 })).rejects.toMatchObject({ code: expect.any(Number) });
    expect(dials.filter((d) => d === relay.address)).toHaveLength(2);
    client.close();
    relay.close();
    for (const s of servers) s.server.close();
  });
});

// RPC over the real STOQ transport (QUIC on [::1], TLS + FALCON), not the in-memory pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport } from '@stoq/core';
import { RpcClient, RpcError, RpcServer, StaticResolver, Status } from '../src';
import { BankMethods } from './fixtures/bank';

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
});

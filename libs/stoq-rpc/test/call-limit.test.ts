// The per-connection call limit over the real transport: a caller that never has more than the
// limit in flight is never refused (the server counts a call until it answered, not until its
// stream finished closing), and one call over the limit is refused with RESOURCE_EXHAUSTED.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport } from '@stoq/core';
import { RpcClient, RpcServer, StaticResolver, Status, type RpcError } from '../src';
import { BankMethods } from './fixtures/bank';

const LIMIT = 8;

async function setup(handler: (from: string) => Promise<{ txId: string }>) {
  const dir = mkdtempSync(join(tmpdir(), 'stoq-rpc-limit-'));
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const id = (name: string) => NodeIdentity.loadOrCreate({ dataDir: join(dir, name), service: name, instance: `${name}-1`, ca });
  const listener = StoqTransport.listen({ identity: await id('bank'), bind: '[::1]:0' });
  const side = StoqTransport.create({ identity: await id('caller'), bind: '[::1]:0' });
  const server = new RpcServer({ service: 'bank', limits: { maxConcurrentStreams: LIMIT } });
  server.addMethod(BankMethods.transfer, (req) => handler(req.from ?? ''), { authorize: 'any-authenticated' });
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
  })();
  const client = new RpcClient({ connector: (ep, o) => side.connect(ep, o), resolver: new StaticResolver({ bank: [listener.localAddress] }), retry: { maxAttempts: 1 } });
  return {
    client,
    close: async () => {
      client.close();
      await side.close();
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a caller keeping exactly the limit in flight is never refused', async () => {
  const t = await setup(async (from) => {
    await new Promise<void>((r) => setImmediate(r));
    return { txId: from };
  });
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 3000) {
        const i = next++;
        await expect(t.client.call(BankMethods.transfer, { from: `c${i}` })).resolves.toEqual({ txId: `c${i}` });
      }
    };
    await Promise.all(Array.from({ length: LIMIT }, worker));
  } finally {
    await t.close();
  }
}, 60_000);

test('one call over the limit is refused with RESOURCE_EXHAUSTED naming the limit', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started = 0;
  let allStarted!: () => void;
  const full = new Promise<void>((r) => (allStarted = r));
  const t = await setup(async (from) => {
    if (++started === LIMIT) allStarted();
    await gate;
    return { txId: from };
  });
  try {
    const held = Array.from({ length: LIMIT }, (_, i) => t.client.call(BankMethods.transfer, { from: `h${i}` }));
    await full;
    const err = (await t.client.call(BankMethods.transfer, { from: 'over' }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(err.message).toMatch(`limit ${LIMIT}`);
    release();
    await expect(Promise.all(held)).resolves.toHaveLength(LIMIT);
  } finally {
    await t.close();
  }
}, 60_000);

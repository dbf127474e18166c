// Fairness over the real transport: a client saturating the server with fast server-streaming
// calls must not keep another client's new connection and call from completing within its
// deadline. (Before the send budgets, such a load kept the event loop in one chain of
// microtasks, and new FALCON exchanges timed out after 10 s.)
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport } from '@stoq/core';
import { RpcClient, RpcServer, StaticResolver } from '../src';
import { BankMethods } from './fixtures/bank';

const LOAD_CALLS = 30;
const PROBES = 5;
const PROBE_DEADLINE_MS = 10_000;

test('a saturating streaming client cannot keep another client from connecting and calling within its deadline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stoq-rpc-fair-'));
  const ca = await DevCa.openOrCreate(join(dir, 'ca'));
  const id = (name: string) => NodeIdentity.loadOrCreate({ dataDir: join(dir, name), service: name, instance: `${name}-1`, ca });
  const listener = StoqTransport.listen({ identity: await id('bank'), bind: '[::1]:0' });
  const loadSide = StoqTransport.create({ identity: await id('loader'), bind: '[::1]:0' });
  const probeSide = StoqTransport.create({ identity: await id('prober'), bind: '[::1]:0' });
  const server = new RpcServer({ service: 'bank', limits: { maxConcurrentStreams: 256 } });
  server.addMethod(BankMethods.transfer, (req) => ({ txId: `tx-${req.from}` }), { authorize: 'any-authenticated' });
  server.addMethod(BankMethods.watch, async function* (req, ctx) {
    for (let i = 0; i < (req.count ?? 0) && !ctx.signal.aborted; i++) yield { seq: i };
  }, { authorize: 'any-authenticated' });
  void (async () => {
    for (let conn = await listener.accept(); conn; conn = await listener.accept()) void server.serveConnection(conn);
  })();
  const resolver = new StaticResolver({ bank: [listener.localAddress] });
  const load = new RpcClient({ connector: (ep, o) => loadSide.connect(ep, o), resolver });
  const stop = new AbortController();
  setMaxListeners(LOAD_CALLS + 1, stop.signal); // one signal cancels every load call
  let received = 0;
  let firstMessages!: () => void;
  const loadRunning = new Promise<void>((r) => (firstMessages = r));
  const loadDone = Promise.all(
    Array.from({ length: LOAD_CALLS }, async () => {
      try {
        for await (const _ of load.serverStream(BankMethods.watch, { count: 4_000_000 }, { signal: stop.signal })) {
          if (++received === 50_000) firstMessages();
        }
      } catch {
        // cancelled at the end of the test
      }
    }),
  );
  try {
    await loadRunning;
    for (let i = 0; i < PROBES; i++) {
      const before = received;
      // A fresh client (and so a fresh connection) each time: handshake + FALCON exchange + call.
      const probe = new RpcClient({ connector: (ep, o) => probeSide.connect(ep, o), resolver });
      await expect(probe.call(BankMethods.transfer, { from: `p${i}` }, { timeoutMs: PROBE_DEADLINE_MS })).resolves.toEqual({ txId: `tx-p${i}` });
      probe.close();
      // The load was still flowing while the probe got through (fair, not paused for it).
      expect(received).toBeGreaterThan(before);
    }
  } finally {
    stop.abort();
    await loadDone;
    load.close();
    server.close();
    await Promise.allSettled([listener.close(), loadSide.close(), probeSide.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

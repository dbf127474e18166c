import { Writable } from 'node:stream';
import * as protobuf from 'protobufjs';
import pino from 'pino';
import {
  ClientCallSequencer,
  RpcClient,
  RpcError,
  RpcServer,
  StaticResolver,
  Status,
  createStub,
  defineMethod,
  encodeHeaderFrame,
  type CallContext,
  type ClientInboundEvent,
  type RpcClientOptions,
} from '../src';
import * as rpc from '../src/proto/rpc';
import { HealthResponse_ServingStatus } from '../src/proto/rpc';
import { BankMethods, TransferRequestType, TransferResponseType, type TransferResponse } from './fixtures/bank';
import { MemoryNetwork } from './support/harness';
import { ManualClock, flushMicrotasks } from './support/manual-clock';
import { memoryConnectionPair, testPeer } from './support/memory-connection';

const EP = '[::1]:4433';

/** A promise plus its resolver, to wait on events without sleeping. */
function signal<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function bankServer(opts: Partial<ConstructorParameters<typeof RpcServer>[0]> = {}): RpcServer {
  const server = new RpcServer({ service: 'bank', ...opts });
  server.addMethod(BankMethods.transfer, (req) => ({ txId: `tx-${req.from}-${req.to}`, balance: Number(req.amount) * 2 }), { authorize: ['client-svc'] });
  server.addMethod(BankMethods.balance, (req) => ({ txId: req.account ?? '', balance: 42 }), { authorize: 'any-authenticated' });
  server.addMethod(
    BankMethods.watch,
    async function* (req) {
      for (let i = 0; i < (req.count ?? 0); i++) yield { seq: i, account: req.account ?? '' };
    },
    { authorize: 'any-authenticated' },
  );
  server.addMethod(
    BankMethods.sum,
    async (reqs) => {
      let sum = 0;
      let count = 0;
      for await (const d of reqs) {
        sum += Number(d.amount);
        count += 1;
      }
      return { sum, count };
    },
    { authorize: ['client-svc'] },
  );
  server.addMethod(
    BankMethods.echo,
    async function* (reqs) {
      for await (const p of reqs) yield { n: (p.n ?? 0) * 10 };
    },
    { authorize: ['client-svc'] },
  );
  return server;
}

function clientFor(net: MemoryNetwork, extra: Partial<RpcClientOptions> = {}): RpcClient {
  return new RpcClient({ connector: net.connector, resolver: new StaticResolver({ bank: [EP] }), ...extra });
}

describe('RPC over an in-memory STOQ connection', () => {
  let net: MemoryNetwork;
  let server: RpcServer;
  let client: RpcClient;

  beforeEach(() => {
    server = bankServer();
    net = new MemoryNetwork().add(EP, server);
    client = clientFor(net, { methods: BankMethods });
  });
  afterEach(() => {
    client.close();
    server.close();
  });

  it('serves all four call kinds through typed stubs', async () => {
    const bank = createStub(client, BankMethods);
    const res: TransferResponse = await bank.transfer({ from: 'alice', to: 'bob', amount: 21 });
    expect(res).toMatchObject({ txId: 'tx-alice-bob' });
    expect(Number(res.balance)).toBe(42);

    const events = [];
    for await (const e of bank.watch({ account: 'alice', count: 5 })) events.push(e.seq);
    expect(events).toEqual([0, 1, 2, 3, 4]);

    async function* deposits() {
      for (let i = 1; i <= 4; i++) yield { amount: i };
    }
    const total = await bank.sum(deposits());
    expect(Number(total.sum)).toBe(10);
    expect(total.count).toBe(4);

    const pongs = [];
    for await (const p of bank.echo([{ n: 1 }, { n: 2 }, { n: 3 }])) pongs.push(p.n);
    expect(pongs).toEqual([10, 20, 30]);
  });

  it('calls by path string and multiplexes calls on one pooled connection', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.call<{ from: string; to: string; amount: number }, TransferResponse>('bank/transfer', { from: `a${i}`, to: 'b', amount: i })),
    );
    expect(results.map((r) => r.txId)).toEqual(Array.from({ length: 20 }, (_, i) => `tx-a${i}-b`));
    expect(net.dials).toHaveLength(1);
    expect(net.connections[0]!.opened).toBe(20);
  });

  it('delivers handler errors as typed RpcErrors and hides internal details', async () => {
    const s = new RpcServer({ service: 'bank' });
    s.addMethod(BankMethods.transfer, (req) => {
      if (req.from === 'ghost') throw new RpcError(Status.NOT_FOUND, 'no account "ghost"', { account: 'ghost' });
      throw new Error('db password hunter2 rejected');
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    await expect(c.call(BankMethods.transfer, { from: 'ghost' })).rejects.toMatchObject({
      code: Status.NOT_FOUND,
      message: 'no account "ghost"',
      metadata: { account: 'ghost' },
    });
    const err = await c.call(BankMethods.transfer, { from: 'x' }).catch((e: unknown) => e as RpcError);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: Status.INTERNAL, message: 'internal error' });
    expect(JSON.stringify(err)).not.toContain('hunter2');
    c.close();
    s.close();
  });

  it('answers UNIMPLEMENTED for an unknown method', async () => {
    const ghost = defineMethod<object, TransferResponse, 'unary'>({ path: 'bank/nope', kind: 'unary', requestType: TransferRequestType, responseType: TransferResponseType });
    await expect(client.call(ghost, {})).rejects.toMatchObject({ code: Status.UNIMPLEMENTED, message: 'unknown method "bank/nope" on service "bank"' });
  });

  it('rejects an invalid request locally with INVALID_ARGUMENT', async () => {
    await expect(client.call(BankMethods.transfer, { from: 5 as unknown as string })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
    await expect(client.call(BankMethods.transfer, {}, { metadata: { 'Bad Key': 'x' } })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
  });
});

describe('deadlines and cancellation', () => {
  it('propagates the deadline, aborts the handler and fails the caller with DEADLINE_EXCEEDED', async () => {
    const clock = new ManualClock();
    const s = new RpcServer({ service: 'bank', clock });
    const started = signal<CallContext>();
    const aborted = signal<unknown>();
    s.addMethod(BankMethods.transfer, (_req, ctx) => {
      started.resolve(ctx);
      return new Promise<TransferResponse>((_res, rej) => ctx.signal.addEventListener('abort', () => {
        aborted.resolve(ctx.signal.reason);
        rej(ctx.signal.reason);
      }));
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n, { clock });
    const call = c.call(BankMethods.transfer, { from: 'a' }, { timeoutMs: 250, metadata: { 'x-request-id': 'r1' } });
    call.catch(() => undefined);
    const ctx = await started.promise;
    expect(ctx.deadline).toBe(clock.now() + 250);
    expect(ctx.metadata).toEqual({ 'x-request-id': 'r1' });
    await clock.advance(250);
    await expect(call).rejects.toMatchObject({ code: Status.DEADLINE_EXCEEDED });
    expect(await aborted.promise).toMatchObject({ code: Status.DEADLINE_EXCEEDED });
    c.close();
    s.close();
  });

  it('fails at once with DEADLINE_EXCEEDED when the deadline has already passed', async () => {
    const clock = new ManualClock();
    const s = bankServer({ clock });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n, { clock });
    await expect(c.call(BankMethods.transfer, {}, { deadline: clock.now() - 1 })).rejects.toMatchObject({ code: Status.DEADLINE_EXCEEDED });
    expect(n.dials).toHaveLength(0);
    c.close();
  });

  it('client cancellation resets the stream and aborts the unary handler', async () => {
    const s = new RpcServer({ service: 'bank' });
    const started = signal();
    const aborted = signal<unknown>();
    s.addMethod(BankMethods.transfer, (_req, ctx) => {
      started.resolve();
      return new Promise<TransferResponse>((_r, rej) => ctx.signal.addEventListener('abort', () => {
        aborted.resolve(ctx.signal.reason);
        rej(new Error('stopped'));
      }));
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    const ac = new AbortController();
    const call = c.call(BankMethods.transfer, {}, { signal: ac.signal });
    await started.promise;
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: Status.CANCELLED });
    expect(await aborted.promise).toMatchObject({ code: Status.CANCELLED });
    c.close();
    s.close();
  });

  it('leaving a server stream early cancels the streaming handler', async () => {
    const s = new RpcServer({ service: 'bank' });
    const aborted = signal<unknown>();
    s.addMethod(BankMethods.watch, async function* (_req, ctx) {
      ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
      for (let i = 0; ; i++) yield { seq: i };
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    const seen: number[] = [];
    for await (const e of c.serverStream(BankMethods.watch, {})) {
      seen.push(e.seq ?? 0);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(await aborted.promise).toMatchObject({ code: Status.CANCELLED });
    c.close();
    s.close();
  });
});

describe('authorization', () => {
  it('denies by default, admits listed services and any-authenticated', async () => {
    const s = new RpcServer({ service: 'bank' });
    s.addMethod(BankMethods.transfer, () => ({ txId: 't' })); // no authorize: nobody
    s.addMethod(BankMethods.balance, () => ({ balance: 1 }), { authorize: ['hypermesh', 'trustchain'] });
    s.addMethod(BankMethods.watch, async function* () {
      yield { seq: 1 };
    }, { authorize: 'any-authenticated' });
    const asCaesar = new MemoryNetwork(testPeer('caesar')).add(EP, s);
    const asHypermesh = new MemoryNetwork(testPeer('hypermesh')).add(EP, s);
    const c1 = clientFor(asCaesar);
    const c2 = clientFor(asHypermesh);
    await expect(c1.call(BankMethods.transfer, {})).rejects.toMatchObject({ code: Status.PERMISSION_DENIED, message: 'service "caesar" may not call bank/transfer' });
    await expect(c2.call(BankMethods.transfer, {})).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    await expect(c1.call(BankMethods.balance, {})).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    expect(Number((await c2.call(BankMethods.balance, {})).balance)).toBe(1);
    const got = [];
    for await (const e of c1.serverStream(BankMethods.watch, {})) got.push(e.seq);
    expect(got).toEqual([1]);
    c1.close();
    c2.close();
    s.close();
  });

  it('accepts unauthenticated callers only where a method opts in', async () => {
    const s = new RpcServer({ service: 'bank' });
    const peers: Array<unknown> = [];
    s.addMethod(BankMethods.transfer, (_r, ctx) => {
      peers.push(ctx.peer);
      return { txId: 'enrolled' };
    }, { authorize: 'unauthenticated' });
    s.addMethod(BankMethods.balance, () => ({ balance: 1 }), { authorize: 'any-authenticated' });
    const pair = memoryConnectionPair({ clientPeer: null, serverPeer: testPeer('bank') });
    void s.serveConnection(pair.server);
    const c = new RpcClient({ connector: async () => pair.client, resolver: new StaticResolver({ bank: [EP] }) });
    await expect(c.call(BankMethods.transfer, {})).resolves.toMatchObject({ txId: 'enrolled' });
    expect(peers).toEqual([null]);
    await expect(c.call(BankMethods.balance, {})).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
    await expect(c.call(defineMethod({ ...BankMethods.balance, path: 'bank/health' }), {})).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
    c.close();
    s.close();
  });
});

describe('limits and hostile input', () => {
  it('rejects oversize messages and headers with RESOURCE_EXHAUSTED', async () => {
    const s = bankServer({ limits: { maxMessageBytes: 1024, maxHeaderBytes: 512 } });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    await expect(c.call(BankMethods.transfer, { memo: new Uint8Array(2000) })).rejects.toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      message: expect.stringMatching(/over the message limit of 1024 bytes/),
    });
    await expect(c.call(BankMethods.transfer, {}, { metadata: { big: 'x'.repeat(600) } })).rejects.toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      message: expect.stringMatching(/request header.* \d+ bytes, limit is 512/),
    });
    // The connection still serves normal calls.
    await expect(c.call(BankMethods.transfer, { from: 'a', to: 'b' })).resolves.toMatchObject({ txId: 'tx-a-b' });
    c.close();
    s.close();
  });

  it('limits concurrent calls per connection', async () => {
    const s = new RpcServer({ service: 'bank', limits: { maxConcurrentStreams: 2 } });
    const release = signal();
    let running = 0;
    const twoRunning = signal();
    s.addMethod(BankMethods.transfer, async () => {
      running += 1;
      if (running === 2) twoRunning.resolve();
      await release.promise;
      return { txId: 'done' };
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    const first = [c.call(BankMethods.transfer, {}), c.call(BankMethods.transfer, {})];
    await twoRunning.promise;
    await expect(c.call(BankMethods.transfer, {})).rejects.toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      message: 'too many concurrent calls on this connection (limit 2)',
    });
    release.resolve();
    await expect(Promise.all(first)).resolves.toHaveLength(2);
    await expect(c.call(BankMethods.transfer, {})).resolves.toMatchObject({ txId: 'done' });
    c.close();
    s.close();
  });

  it('answers garbage on one stream with INVALID_ARGUMENT without disturbing other calls', async () => {
    const s = bankServer();
    const pair = memoryConnectionPair({ clientPeer: testPeer('client-svc'), serverPeer: testPeer('bank') });
    void s.serveConnection(pair.server);
    const c = new RpcClient({ connector: async () => pair.client, resolver: new StaticResolver({ bank: [EP] }) });
    const raw = async (bytes: Uint8Array): Promise<ClientInboundEvent[]> => {
      const stream = await pair.client.openStream();
      await stream.write(bytes);
      stream.finish();
      const seq = new ClientCallSequencer('bidi_streaming');
      const events: ClientInboundEvent[] = [];
      for (let chunk = await stream.read(); chunk !== null; chunk = await stream.read()) events.push(...seq.push(chunk));
      return events;
    };
    const garbage = raw(Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    const good = c.call(BankMethods.transfer, { from: 'x', to: 'y' });
    const badHeaderThenGarbage = raw(Uint8Array.of(...encodeHeaderFrame({ path: 'bank/sum', timeoutMs: undefined, metadata: {}, idempotencyKey: '' }), 0x05, 0xff, 0xff));
    const [g, b] = await Promise.all([garbage, badHeaderThenGarbage]);
    expect(g).toEqual([{ type: 'trailer', trailer: expect.objectContaining({ code: Status.INVALID_ARGUMENT }) }]);
    expect(b).toEqual([{ type: 'trailer', trailer: expect.objectContaining({ code: Status.INVALID_ARGUMENT }) }]);
    await expect(good).resolves.toMatchObject({ txId: 'tx-x-y' });
    c.close();
    s.close();
  });
});

describe('built-in methods', () => {
  it('health, metrics and _methods', async () => {
    const s = bankServer();
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    const health = defineMethod<rpc.HealthRequest, rpc.HealthResponse, 'unary'>({ path: 'bank/health', kind: 'unary', requestType: rpc.HealthRequestType, responseType: rpc.HealthResponseType });
    await expect(c.call(health, {})).resolves.toMatchObject({ status: HealthResponse_ServingStatus.SERVING, service: 'bank' });
    s.setServing(false);
    await expect(c.call(health, {})).resolves.toMatchObject({ status: HealthResponse_ServingStatus.NOT_SERVING });

    await c.call(BankMethods.transfer, { from: 'a' });
    await c.call(BankMethods.transfer, { from: 'b' });
    await expect(c.call(BankMethods.balance, { account: 'x' })).resolves.toBeDefined();
    const metricsDef = defineMethod<rpc.MetricsRequest, rpc.MetricsResponse, 'unary'>({ path: 'bank/metrics', kind: 'unary', requestType: rpc.MetricsRequestType, responseType: rpc.MetricsResponseType });
    const metrics = await c.call(metricsDef, {});
    const transfer = metrics.methods!.find((m) => m.path === 'bank/transfer')!;
    expect(Number(transfer.started)).toBe(2);
    expect(Number(transfer.completed!['OK'])).toBe(2);
    expect(Number(transfer.latency!.count)).toBe(2);
    expect(transfer.latency!.counts).toHaveLength(transfer.latency!.boundsMs!.length + 1);

    const methodsDef = defineMethod<rpc.MethodsRequest, rpc.MethodsResponse, 'unary'>({ path: 'bank/_methods', kind: 'unary', requestType: rpc.MethodsRequestType, responseType: rpc.MethodsResponseType });
    const reflection = await c.call(methodsDef, {});
    const byPath = new Map(reflection.methods!.map((m) => [m.path, m]));
    expect(byPath.get('bank/watch')).toMatchObject({ kind: 'server_streaming', requestType: 'stoq.test.bank.WatchRequest', responseType: 'stoq.test.bank.Event', idempotent: true, authorize: 'any-authenticated' });
    expect(byPath.get('bank/transfer')).toMatchObject({ kind: 'unary', authorize: 'client-svc', idempotent: false });
    expect(byPath.has('bank/health') && byPath.has('bank/metrics') && byPath.has('bank/_methods')).toBe(true);
    // The types travel with the answer: a client without the .proto can encode and decode.
    const root = protobuf.Root.fromJSON(JSON.parse(byPath.get('bank/watch')!.typesJson!));
    const Event = root.lookupType('stoq.test.bank.Event');
    expect(Event.decode(Event.encode({ seq: 7 }).finish())).toMatchObject({ seq: 7 });
    c.close();
    s.close();
  });
});

describe('interceptors and logs', () => {
  it('writes one structured pino line per call and runs user interceptors', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    const seen: string[] = [];
    const s = bankServer({
      logger: pino({ level: 'info' }, sink),
      interceptors: [
        async (call, next) => {
          seen.push(`${call.ctx.path}<-${call.ctx.peer?.service}`);
          if (call.ctx.metadata['x-block'] === 'yes') throw new RpcError(Status.FAILED_PRECONDITION, 'blocked by interceptor');
          await next();
        },
      ],
    });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n);
    await c.call(BankMethods.transfer, {});
    await expect(c.call(BankMethods.transfer, {}, { metadata: { 'x-block': 'yes' } })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION });
    expect(seen).toEqual(['bank/transfer<-client-svc', 'bank/transfer<-client-svc']);
    const calls = lines.filter((l) => l['msg'] === 'rpc call');
    expect(calls.map((l) => [l['path'], l['code'], l['peer']])).toEqual([
      ['bank/transfer', 'OK', 'client-svc/client-svc-1'],
      ['bank/transfer', 'FAILED_PRECONDITION', 'client-svc/client-svc-1'],
    ]);
    expect(typeof calls[0]!['durationMs']).toBe('number');
    c.close();
    s.close();
  });
});

describe('client: retries, load balancing, ejection, identity, 0-RTT', () => {
  const A = '[2001:db8::a]:4433';
  const B = '[2001:db8::b]:4433';

  it('retries idempotent calls on UNAVAILABLE with jittered exponential backoff', async () => {
    const clock = new ManualClock();
    const s = new RpcServer({ service: 'bank', clock });
    let attempts = 0;
    const keys: Array<string | undefined> = [];
    s.addMethod(BankMethods.balance, (_r, ctx) => {
      attempts += 1;
      keys.push(ctx.idempotencyKey);
      if (attempts < 3) throw new RpcError(Status.UNAVAILABLE, 'warming up');
      return { balance: 7 };
    }, { authorize: 'any-authenticated' });
    s.addMethod(BankMethods.transfer, () => {
      attempts += 1;
      throw new RpcError(Status.UNAVAILABLE, 'busy');
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s);
    const c = clientFor(n, { clock, random: () => 0.5, retry: { initialBackoffMs: 100, multiplier: 2, maxBackoffMs: 1000, maxAttempts: 4 } });
    const call = c.call(BankMethods.balance, {});
    await flushMicrotasks();
    expect(attempts).toBe(1);
    await clock.advance(49); // first retry after 0.5 * 100 = 50 ms
    expect(attempts).toBe(1);
    await clock.advance(1);
    expect(attempts).toBe(2);
    await clock.advance(99); // second retry after 0.5 * 200 = 100 ms
    expect(attempts).toBe(2);
    await clock.advance(1);
    expect(Number((await call).balance)).toBe(7);
    expect(attempts).toBe(3);
    // One logical call: the same idempotency key on every attempt.
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);

    attempts = 0;
    await expect(c.call(BankMethods.transfer, {})).rejects.toMatchObject({ code: Status.UNAVAILABLE });
    expect(attempts).toBe(1); // not idempotent: never retried
    c.close();
    s.close();
  });

  it('balances across targets, ejects a failing target and retries it later', async () => {
    const clock = new ManualClock();
    const sa = bankServer({ clock });
    const sb = bankServer({ clock });
    const n = new MemoryNetwork().add(A, sa).add(B, sb);
    const c = new RpcClient({
      connector: n.connector,
      resolver: new StaticResolver({ bank: [A, B] }),
      clock,
      random: () => 0,
      ejection: { baseEjectionMs: 1000, maxEjectionMs: 10_000 },
    });
    const served = { a: 0, b: 0 };
    const count = (s: RpcServer, key: 'a' | 'b') => () => {
      served[key] = Number(s.metrics.snapshot().find((m) => m.path === 'bank/balance')!.started);
    };
    for (let i = 0; i < 10; i++) await c.call(BankMethods.balance, {});
    count(sa, 'a')();
    count(sb, 'b')();
    expect(served).toEqual({ a: 5, b: 5 });

    // A goes down: its connection drops and new dials fail.
    n.setDown(A, true);
    for (const conn of n.connections.filter((x) => x.remoteAddress === A)) conn.close(0, 'crash');
    await flushMicrotasks();
    for (let i = 0; i < 6; i++) await c.call(BankMethods.balance, {}); // idempotent: a failed attempt on A is retried on B
    expect(c.isEjected('bank', A)).toBe(true);
    const dialsToA = n.dials.filter((d) => d.endpoint === A).length;
    for (let i = 0; i < 4; i++) await c.call(BankMethods.balance, {});
    expect(n.dials.filter((d) => d.endpoint === A).length).toBe(dialsToA); // ejected: not tried

    // A recovers; after the ejection period it is tried again and serves.
    n.setDown(A, false);
    await clock.advance(1000);
    for (let i = 0; i < 4; i++) await c.call(BankMethods.balance, {});
    expect(c.isEjected('bank', A)).toBe(false);
    expect(n.dials.filter((d) => d.endpoint === A).length).toBeGreaterThan(dialsToA);
    c.close();
    sa.close();
    sb.close();
  });

  it('ejects targets that fail active health checks and readmits them when healthy', async () => {
    const clock = new ManualClock();
    const sa = bankServer({ clock });
    const sb = bankServer({ clock });
    const n = new MemoryNetwork().add(A, sa).add(B, sb);
    const c = new RpcClient({ connector: n.connector, resolver: new StaticResolver({ bank: [A, B] }), clock, healthCheckIntervalMs: 5000 });
    await c.call(BankMethods.balance, {}); // resolves the service
    sa.setServing(false);
    await clock.advance(5000);
    expect(c.isEjected('bank', A)).toBe(true);
    expect(c.isEjected('bank', B)).toBe(false);
    sa.setServing(true);
    await clock.advance(5000);
    expect(c.isEjected('bank', A)).toBe(false);
    c.close();
    sa.close();
    sb.close();
  });

  it('refuses a target whose certificate names another service', async () => {
    const s = new RpcServer({ service: 'bank' });
    let called = false;
    s.addMethod(BankMethods.transfer, () => {
      called = true;
      return {};
    }, { authorize: 'any-authenticated' });
    const n = new MemoryNetwork().add(EP, s, testPeer('trustchain'));
    const c = clientFor(n);
    await expect(c.call(BankMethods.transfer, {})).rejects.toMatchObject({
      code: Status.UNAUTHENTICATED,
      message: `target ${EP} presented a certificate for service "trustchain", expected "bank"`,
    });
    expect(called).toBe(false);
    expect(n.dials[0]!.options.expectedService).toBe('bank');
    expect(n.connections[0]!.isClosed).toBe(true);
    c.close();
  });

  it('uses 0-RTT only for idempotent methods', async () => {
    const s1 = bankServer();
    const n1 = new MemoryNetwork().add(EP, s1);
    const c1 = clientFor(n1);
    await c1.call(BankMethods.balance, {});
    await c1.call(BankMethods.transfer, {});
    expect(n1.dials[0]!.options.zeroRtt).toBe(true);
    expect(n1.connections[0]!.earlyStreams).toBe(1); // the transfer did not ride early data
    expect(n1.connections[0]!.opened).toBe(2);

    const s2 = bankServer();
    const n2 = new MemoryNetwork().add(EP, s2);
    const c2 = clientFor(n2);
    await c2.call(BankMethods.transfer, {});
    expect(n2.dials[0]!.options.zeroRtt).toBe(false);
    expect(n2.connections[0]!.earlyStreams).toBe(0);
    c1.close();
    c2.close();
    s1.close();
    s2.close();
  });
});

describe('RpcServer.drain', () => {
  it('finishes calls in progress, refuses new ones UNAVAILABLE, then closes', async () => {
    const gate = signal();
    const started = signal();
    const s = new RpcServer({ service: 'bank' });
    s.addMethod(
      BankMethods.balance,
      async () => {
        started.resolve();
        await gate.promise;
        return { txId: 'slow', balance: 1 };
      },
      { authorize: 'any-authenticated' },
    );
    const c = clientFor(new MemoryNetwork().add(EP, s), { retry: { maxAttempts: 1 } });
    const slow = c.call(BankMethods.balance, { account: 'x' });
    await started.promise;
    expect(s.inFlight).toBe(1);
    const drained = s.drain(60_000);
    await expect(c.call(BankMethods.balance, { account: 'y' })).rejects.toMatchObject({ code: Status.UNAVAILABLE, message: expect.stringMatching(/shutting down/) });
    gate.resolve();
    await expect(slow).resolves.toMatchObject({ txId: 'slow' });
    await expect(drained).resolves.toBe(0);
    c.close();
  });

  it('cancels what is still running at the deadline and reports how many', async () => {
    const clock = new ManualClock();
    const s = new RpcServer({ service: 'bank', clock });
    const started = signal();
    s.addMethod(
      BankMethods.balance,
      (_req, ctx) =>
        new Promise((_, reject) => {
          started.resolve();
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
      { authorize: 'any-authenticated' },
    );
    const c = clientFor(new MemoryNetwork().add(EP, s), { retry: { maxAttempts: 1 } });
    const stuck = c.call(BankMethods.balance, { account: 'x' }).catch((e: unknown) => e);
    await started.promise;
    const drained = s.drain(1000);
    await clock.advance(1000);
    await expect(drained).resolves.toBe(1);
    expect(await stuck).toBeInstanceOf(Error);
    c.close();
  });
});

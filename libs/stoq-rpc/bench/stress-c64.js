// Stress check (not a benchmark): many concurrent unary calls over the real transport, with a
// watchdog that reports a stall (no completed call for 5 s). Usage: node stress-c64.js [calls] [concurrency]
'use strict';
const protobuf = require('protobufjs');
const { RpcServer, RpcClient, StaticResolver, defineMethod } = require('../dist');
const { startStoq } = require('./stoq-transport');

const CALLS = Number(process.argv[2] ?? 50000);
const CONC = Number(process.argv[3] ?? 64);
const root = protobuf.Root.fromJSON({ nested: { B: { fields: { data: { type: 'bytes', id: 1 } } } } });
const B = root.lookupType('B');
const echo = defineMethod({ path: 'bench/echo', kind: 'unary', requestType: B, responseType: B });

(async () => {
  const server = new RpcServer({ service: 'bench' });
  server.addMethod(echo, (req) => req, { authorize: 'any-authenticated' });
  const stoq = await startStoq(server);
  const client = new RpcClient({ connector: stoq.connector, resolver: new StaticResolver({ bench: [stoq.endpoint] }) });
  let done = 0;
  let last = Date.now();
  const dog = setInterval(() => {
    if (Date.now() - last > 5000) {
      console.log(JSON.stringify({ stall: true, done, calls: CALLS }));
      process.exit(2);
    }
  }, 500);
  const req = { data: Buffer.alloc(100, 1) };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (done < CALLS) {
      done++;
      await client.call(echo, req, { timeoutMs: 60000 });
      last = Date.now();
    }
  }));
  clearInterval(dog);
  console.log(JSON.stringify({ stall: false, done, ms: Date.now() - t0, rps: Math.round(done / ((Date.now() - t0) / 1000)) }));
  client.close();
  await stoq.close();
  process.exit(0);
})();

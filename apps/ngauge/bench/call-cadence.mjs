#!/usr/bin/env node
// CPU a STOQ client spends per unary call (`<service>/health`) back to back and at a scrape-like
// cadence (one call every 2 ms, every 20 ms), against a server in a child process. The figures
// behind "a scrape's cost is the wake-up of an idle process" (apps/ngauge/README.md).
//
//   node apps/ngauge/bench/call-cadence.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const core = require('@stoq/core');
const { RpcServer, RpcClient, StaticResolver, healthMethod } = require('@stoq/rpc');
const SELF = fileURLToPath(import.meta.url);
const identity = async (dir, service, instance) => core.NodeIdentity.loadOrCreate({ dataDir: join(dir, instance), service, instance, ca: await core.DevCa.openOrCreate(join(dir, 'ca')), ipAddresses: ['::1'] });

if (process.argv[2] === 'server') {
  const t = core.StoqTransport.listen({ identity: await identity(process.argv[3], 'target', 'target-1'), bind: '[::1]:0' });
  const rpc = new RpcServer({ service: 'target' });
  void (async () => {
    for (;;) {
      const c = await t.accept();
      if (!c) return;
      void rpc.serveConnection(c);
    }
  })();
  console.log(t.localAddress);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'call-cadence-'));
  const server = spawn(process.execPath, [SELF, 'server', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const address = await new Promise((r) => createInterface({ input: server.stdout }).once('line', r));
    const transport = core.StoqTransport.create({ identity: await identity(dir, 'bench', 'bench-1'), bind: '[::1]:0' });
    const client = new RpcClient({ connector: (ep, o) => transport.connect(ep, { ...o, serverName: 'target.hypermesh' }), resolver: new StaticResolver({ target: [address] }), retry: { maxAttempts: 1 } });
    const m = healthMethod('target');
    for (let i = 0; i < 2000; i++) await client.call(m, {}); // warm-up
    const measure = async (bench, n, gapMs) => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        await client.call(m, {});
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      const c = process.cpuUsage(c0);
      console.log(JSON.stringify({ bench, unit: 'us CPU per call (client)', value: Math.round((c.user + c.system) / n), calls: n }));
    };
    await measure('stoq.unary_call_back_to_back', 3000, 0);
    await measure('stoq.unary_call_every_2ms', 500, 2);
    await measure('stoq.unary_call_every_20ms', 100, 20);
    client.close();
    await transport.close();
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

// execute_trivial end to end: catalog/execute of the add program through STOQ, billing included
// (per run: Caesar lookup of the payer, a pending transfer, its post — two durable Caesar writes),
// against real processes: `trustchain serve`, `caesar serve --operator catalog`, `catalog serve`,
// each enrolled with a join token, Catalog found through TrustChain DNS. The client is TrustChain's
// admin identity paying from its own account. Runs the built packages (npm run build).
//
//   node apps/catalog/bench/service.mjs [--seconds 5] [--concurrency 32] [--program js] [--json]
//
// `--program js`: execute_js_trivial instead, the JavaScript program `console.log(40 + 2)` on the
// engine's QuickJS runtime (its start-up, ~2.8 M fuel, is part of every run).
//
// Peer (same run): the engine alone (WasmEngine through napi, no network, no billing), so the
// ratio is what the network, TLS + FALCON-authenticated STOQ and Caesar billing cost per run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const native = require('@stoq/native');
const { storedIdentity } = require('@stoq/client');
const { StoqTransport } = require('@stoq/core');
const { DnsSrvResolver, RpcClient } = require('@stoq/rpc');
const { caesar, catalog } = require('@stoq/protos');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SECONDS = Number(opt('seconds', '5'));
const CONCURRENCY = Number(opt('concurrency', '32'));
const json = args.includes('--json');
const JS = opt('program', 'wasm') === 'js';
const JS_SOURCE = Buffer.from('console.log(40 + 2)');
const root = join(import.meta.dirname, '..', '..', '..');
const BIN = { trustchain: join(root, 'apps/trustchain/bin/trustchain.js'), caesar: join(root, 'apps/caesar/bin/caesar.js'), catalog: join(root, 'apps/catalog/bin/catalog.js') };
const pct = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function start(bin, argv, cwd, env = {}) {
  const child = spawn(process.execPath, [bin, ...argv], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (t) => {
    let l;
    try {
      l = JSON.parse(t);
    } catch {
      l = { msg: t };
    }
    lines.push(l);
    for (const w of [...waiters]) if (w.pred(l)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(l);
  });
  return {
    child,
    waitFor: (pred) => lines.find(pred) ?? new Promise((resolve, reject) => {
      waiters.push({ pred, resolve });
      child.on('exit', (c) => reject(new Error(`${bin} exited with ${c}`)));
    }),
  };
}

function config(home, file, instance, tc) {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, file), ['[node]', `name = "${instance}"`, 'data_dir = "data"', '[transport]', 'bind = "[::1]:0"', '[certificates]', `root_fingerprint = "${tc.rootFingerprint}"`, '[service]', `trustchain = "${tc.stoq}"`, `dns = "${tc.dns}"`, 'lease_seconds = 30', ''].join('\n'));
}

const dir = mkdtempSync(join(tmpdir(), 'catalog-bench-'));
const procs = [];
try {
  const tcDir = join(dir, 'trustchain');
  const tc = start(BIN.trustchain, ['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  procs.push(tc);
  const ready = await tc.waitFor((l) => l.msg === 'trustchain serve ready');
  const token = (service) => execFileSync(process.execPath, [BIN.trustchain, 'token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], { cwd: dir }).toString().trim();
  config(join(dir, 'caesar'), 'caesar.toml', 'caesar-1', ready);
  config(join(dir, 'catalog'), 'catalog.toml', 'catalog-1', ready);
  const caesarP = start(BIN.caesar, ['serve', '--config', 'caesar.toml', '--mint-account', '900000001', '--operator', 'catalog'], join(dir, 'caesar'), { STOQ_JOIN_TOKEN: token('caesar') });
  const catalogP = start(BIN.catalog, ['serve', '--config', 'catalog.toml', '--rate', '1000000', '--burst', '1000000'], join(dir, 'catalog'), { STOQ_JOIN_TOKEN: token('catalog') });
  procs.push(caesarP, catalogP);
  await Promise.all([caesarP.waitFor((l) => l.msg === 'caesar serving'), catalogP.waitFor((l) => l.msg === 'catalog serving')]);

  const transport = StoqTransport.create({ identity: await storedIdentity(join(tcDir, 'admin')), bind: '[::]:0' });
  const rpc = new RpcClient({ connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }), resolver: new DnsSrvResolver({ server: ready.dns }) });
  for (let i = 0; ; i++) {
    try {
      await rpc.call(catalog.CatalogMethods.stats, {}, { timeoutMs: 2000 });
      await rpc.call(caesar.CaesarMethods.whoAmI, {}, { timeoutMs: 2000 });
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await rpc.call(caesar.CaesarMethods.createAccounts, { accounts: [{ id: '900000001', ledger: 1, code: 1, flags: 1 << 14 }, { id: '100', ledger: 1, code: 1, flags: 2 }] });
  await rpc.call(caesar.CaesarMethods.createTransfers, { transfers: [{ id: '1', debitAccountId: '900000001', creditAccountId: '100', amount: '1000000000000000', ledger: 1, code: 1 }] });
  const add = native.watToWasm(readFileSync(join(root, 'native/test/wasm/add.wat'), 'utf8'));
  const upload = JS ? { module: JS_SOURCE, language: catalog.ProgramLanguage.PROGRAM_JAVASCRIPT } : { module: add };
  const hash = (await rpc.call(catalog.CatalogMethods.uploadProgram, upload)).program.hash;
  const req = JS ? { programHash: hash, fuelLimit: 10_000_000, payerAccountId: '100' } : { programHash: hash, export: 'add', args: ['40', '2'], fuelLimit: 1000, payerAccountId: '100' };
  const ok = JS ? (r) => Buffer.from(r.stdout).toString() === '42\n' : (r) => r.results[0] === '42';
  for (let i = 0; i < 300; i++) await rpc.call(catalog.CatalogMethods.execute, req);

  const lat = [];
  let runs = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const r = await rpc.call(catalog.CatalogMethods.execute, req);
        if (!ok(r)) throw new Error('bad result');
        lat.push(performance.now() - t);
        runs++;
      }
    }),
  );
  const perSec = runs / ((performance.now() - t0) / 1000);
  // Sequential latency (one call in flight), the p50 a single caller sees.
  const seq = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    await rpc.call(catalog.CatalogMethods.execute, req);
    seq.push(performance.now() - t);
  }
  rpc.close();
  await transport.close();

  // Peer: the engine alone, same machine, same run.
  const engine = new native.WasmEngine({ workers: availableParallelism() });
  const runtime = readFileSync(require.resolve('quickjs-wasi/quickjs.wasm'));
  const { hash: h } = JS ? await engine.compileJsRuntime(runtime) : await engine.compile(add);
  const ereq = JS ? { moduleHash: h, export: '', args: [], script: JS_SOURCE, fuel: 10_000_000, memoryLimitBytes: 16 << 20, timeoutMs: 1000 } : { moduleHash: h, export: 'add', args: [40n, 2n], fuel: 1000, memoryLimitBytes: 1 << 20, timeoutMs: 1000 };
  let eruns = 0;
  const eend = performance.now() + 2000;
  const et0 = performance.now();
  await Promise.all(Array.from({ length: availableParallelism() * 2 }, async () => {
    while (performance.now() < eend) {
      await engine.run(ereq);
      eruns++;
    }
  }));
  const ePerSec = eruns / ((performance.now() - et0) / 1000);
  engine.close();
  const o = { bench: JS ? 'catalog.execute_js_trivial' : 'catalog.execute_trivial', unit: 'runs/s', stoq: Math.round(perSec), peer: Math.round(ePerSec), peerName: 'the engine alone through napi (no STOQ, no billing)', ratio: round(perSec / ePerSec, 4), p50Ms: round(pct(lat, 50)), p99Ms: round(pct(lat, 99)), concurrency: CONCURRENCY, sequentialP50Ms: round(pct(seq, 50)), sequentialP99Ms: round(pct(seq, 99)), load1: round(loadavg()[0]) };
  process.stdout.write(json ? `${JSON.stringify(o)}\n` : `${o.bench} ${o.stoq} runs/s (concurrency ${CONCURRENCY}: p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms; one at a time: p50 ${o.sequentialP50Ms} ms, p99 ${o.sequentialP99Ms} ms)  engine alone ${o.peer} runs/s  ratio ${o.ratio}\n`);
} finally {
  for (const p of procs.reverse()) {
    if (p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await new Promise((r) => p.child.once('exit', r));
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

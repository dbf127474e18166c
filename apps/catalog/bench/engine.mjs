// Catalog's engine without the network: the native WasmEngine (wasmtime) through napi, as the
// service drives it, against Node's own WebAssembly (V8) running the same modules.
//
//   node apps/catalog/bench/engine.mjs [--seconds 3] [--json]
//
// - engine_trivial: metered instantiate + call of the add program (add.wat), runs/s with
//   2 × workers runs in flight, and the setup time (new store, instance slot from the pool) p50/p99.
//   Peer: V8 instantiating the same module from a compiled WebAssembly.Module and calling it, on
//   the JS thread, unmetered.
// - metering_overhead: hashloop.wat (50 M rounds of a 64-bit mix) with fuel on vs off in the same
//   engine configuration; peer: V8 running the same function unmetered.
// - execute_js_trivial: a trivial JavaScript program (console.log(40 + 2)) on the QuickJS runtime
//   (quickjs-wasi's quickjs.wasm) in the same engine: a fresh metered instance, QuickJS runtime and
//   context per run, 2 × workers in flight. Peer: Node running the same script with node:vm in a
//   new context per run (V8's isolation for untrusted code in one process), unmetered.
// Prints one JSON line per figure: {"bench","unit","stoq","peer","peerName","ratio",...}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';

const require = createRequire(import.meta.url);
const native = require('@stoq/native');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SECONDS = Number(opt('seconds', '3'));
const json = args.includes('--json');
const watDir = join(import.meta.dirname, '..', '..', '..', 'native', 'test', 'wasm');
const wasm = (name) => native.watToWasm(readFileSync(join(watDir, `${name}.wat`), 'utf8'));
const pct = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const out = [];
const emit = (o) => {
  out.push(o);
  process.stdout.write(json ? `${JSON.stringify(o)}\n` : `${o.bench.padEnd(34)} ${String(o.stoq).padStart(10)} ${o.unit.padEnd(10)} peer ${String(o.peer).padStart(10)} (${o.peerName})  ratio ${o.ratio}${o.detail ? `  ${o.detail}` : ''}\n`);
};

const workers = availableParallelism();
const load = loadavg()[0];

/** Runs `req` for SECONDS with 2 callers per worker, each result checked by `check`; runs/s. */
async function runsPerSecond(engine, req, check) {
  let runs = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers * 2 }, async () => {
      while (performance.now() < end) {
        check(await engine.run(req));
        runs++;
      }
    }),
  );
  return runs / ((performance.now() - started) / 1000);
}

// ---- engine_trivial
{
  const engine = new native.WasmEngine({ workers, queueDepth: workers * 2 });
  const add = wasm('add');
  const { hash } = await engine.compile(add);
  const req = { moduleHash: hash, export: 'add', args: [40n, 2n], fuel: 1000, memoryLimitBytes: 1 << 20, timeoutMs: 1000 };
  // warm up
  for (let i = 0; i < 2000; i++) await engine.run(req);
  const setup = [];
  const perSec = await runsPerSecond(engine, req, (r) => {
    if (r.outcome !== 'OK' || r.results[0] !== 42n) throw new Error(`bad run: ${r.outcome}`);
    setup.push(r.setupNs / 1000);
  });
  engine.close();
  // Peer: V8, instantiate + call per run (the module compiled once, like our cache).
  const mod = new WebAssembly.Module(add);
  for (let i = 0; i < 20000; i++) new WebAssembly.Instance(mod, {}).exports.add(40n, 2n);
  let v8runs = 0;
  const v8end = performance.now() + SECONDS * 1000;
  const v8start = performance.now();
  while (performance.now() < v8end) {
    for (let i = 0; i < 1000; i++) if (new WebAssembly.Instance(mod, {}).exports.add(40n, 2n) !== 42n) throw new Error('v8');
    v8runs += 1000;
  }
  const v8perSec = v8runs / ((performance.now() - v8start) / 1000);
  emit({ bench: 'catalog.engine_trivial', unit: 'runs/s', stoq: Math.round(perSec), peer: Math.round(v8perSec), peerName: 'Node 20 V8 WebAssembly, instantiate+call on the JS thread, unmetered', ratio: round(perSec / v8perSec), setupP50Us: round(pct(setup, 50)), setupP99Us: round(pct(setup, 99)), workers, load1: round(load), detail: `setup p50 ${round(pct(setup, 50))} µs p99 ${round(pct(setup, 99))} µs (${workers} workers, fuel + epoch + pooling)` });
}

// ---- metering_overhead
{
  const ROUNDS = 50_000_000n;
  const hashloop = wasm('hashloop');
  const timeRuns = async (fuel) => {
    const engine = new native.WasmEngine({ workers: 1, fuel });
    const { hash } = await engine.compile(hashloop);
    const req = { moduleHash: hash, export: 'hash', args: [ROUNDS], fuel: fuel ? 1e12 : 0, memoryLimitBytes: 1 << 20, timeoutMs: 60_000 };
    await engine.run(req);
    const ms = [];
    let result;
    let fuelUsed = 0;
    for (let i = 0; i < 5; i++) {
      const r = await engine.run(req);
      ms.push(r.runNs / 1e6);
      result = r.results[0];
      fuelUsed = r.fuelUsed;
    }
    engine.close();
    return { ms: pct(ms, 50), result, fuelUsed };
  };
  const on = await timeRuns(true);
  const off = await timeRuns(false);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(hashloop), {});
  inst.exports.hash(ROUNDS);
  const v8ms = [];
  let v8result;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    v8result = inst.exports.hash(ROUNDS);
    v8ms.push(performance.now() - t);
  }
  const v8 = pct(v8ms, 50);
  if (BigInt.asUintN(64, v8result) !== BigInt.asUintN(64, on.result) || on.result !== off.result) throw new Error(`results differ: ${on.result} ${off.result} ${v8result}`);
  emit({ bench: 'catalog.metering_overhead_fuel_on_vs_off', unit: 'ms', stoq: round(on.ms), peer: round(off.ms), peerName: 'the same engine with fuel metering off', ratio: round(on.ms / off.ms), overheadPercent: round((on.ms / off.ms - 1) * 100, 1), fuelUsed: on.fuelUsed, load1: round(load), detail: `${ROUNDS} rounds, fuel overhead ${round((on.ms / off.ms - 1) * 100, 1)} %` });
  emit({ bench: 'catalog.metering_overhead_vs_v8', unit: 'ms', stoq: round(on.ms), peer: round(v8), peerName: 'Node 20 V8 WebAssembly (TurboFan), unmetered', ratio: round(on.ms / v8), unmeteredRatio: round(off.ms / v8), load1: round(load), detail: `unmetered wasmtime / V8 ${round(off.ms / v8)}` });
}

// ---- execute_js_trivial
{
  const SCRIPT = 'console.log(40 + 2)';
  const engine = new native.WasmEngine({ workers, queueDepth: workers * 2 });
  const { hash } = await engine.compileJsRuntime(readFileSync(require.resolve('quickjs-wasi/quickjs.wasm')));
  const req = { moduleHash: hash, export: '', args: [], script: Buffer.from(SCRIPT), fuel: 100_000_000, memoryLimitBytes: 16 << 20, timeoutMs: 10_000 };
  for (let i = 0; i < 50; i++) await engine.run(req);
  const total = [];
  let fuelUsed = 0;
  const perSec = await runsPerSecond(engine, req, (r) => {
    if (r.outcome !== 'OK' || r.stdout.toString() !== '42\n') throw new Error(`bad run: ${r.outcome} ${r.message}`);
    total.push((r.setupNs + r.runNs) / 1e6);
    fuelUsed = r.fuelUsed;
  });
  engine.close();
  const script = new vm.Script(SCRIPT);
  const runVm = () => {
    let printed = '';
    script.runInNewContext({ console: { log: (...a) => (printed += `${a.join(' ')}\n`) } });
    return printed;
  };
  for (let i = 0; i < 200; i++) runVm();
  let vmRuns = 0;
  const vmEnd = performance.now() + SECONDS * 1000;
  const vmStart = performance.now();
  while (performance.now() < vmEnd) {
    if (runVm() !== '42\n') throw new Error('vm');
    vmRuns++;
  }
  const vmPerSec = vmRuns / ((performance.now() - vmStart) / 1000);
  emit({ bench: 'catalog.execute_js_trivial', unit: 'runs/s', stoq: Math.round(perSec), peer: Math.round(vmPerSec), peerName: 'Node 20 node:vm, new context per run, unmetered', ratio: round(perSec / vmPerSec), runP50Ms: round(pct(total, 50)), runP99Ms: round(pct(total, 99)), fuelPerRun: fuelUsed, workers, load1: round(loadavg()[0]), detail: `engine-only; per run p50 ${round(pct(total, 50))} ms p99 ${round(pct(total, 99))} ms, ${fuelUsed} fuel (QuickJS start-up included)` });
}

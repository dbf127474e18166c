// JavaScript programs on the QuickJS runtime (quickjs-wasi's quickjs.wasm) inside our engine:
// they run metered and deterministic, an infinite loop ends in OUT_OF_FUEL, unbounded allocation
// in MEMORY_LIMIT, an uncaught exception in JS_EXCEPTION with its message; the runtime is never
// accepted as an ordinary program; the engine keeps serving.
import { CatalogError } from '../src/errors';
import { ProgramEngine, quickJsRuntime, type WasmRunRequest } from '../src/service/engine';

let engine: ProgramEngine;
let runtime: Buffer;

beforeAll(async () => {
  const bytes = quickJsRuntime();
  engine = new ProgramEngine({ workers: 2, queueDepth: 2, maxMemoryBytes: 32 << 20, maxModuleBytes: bytes.length, maxOutputBytes: 64 * 1024 });
  engine.setJsRuntime(bytes);
  runtime = await engine.ensureJsRuntime();
}, 60_000);
afterAll(() => engine.close());

const js = (source: string, more: Partial<WasmRunRequest> = {}): Promise<ReturnType<ProgramEngine['run']> extends Promise<infer R> ? R : never> =>
  engine.run({ moduleHash: runtime, export: '', args: [], script: Buffer.from(source), fuel: 100_000_000, memoryLimitBytes: 16 << 20, timeoutMs: 10_000, ...more });

test('a script runs: console to stdout/stderr, input and argv, promises, deterministic fuel', async () => {
  const src = "console.log('sum', 40 + 2, {a: [1]}); console.error('warn'); print(input.trim().split(' ').reverse().join(' '), argv.join('|')); Promise.resolve(1).then(v => console.log('job', v));";
  const r = await js(src, { stdin: Buffer.from('b a\n'), argv: ['x', 'y'] });
  expect(r.outcome).toBe('OK');
  expect(r.stdout.toString()).toBe('sum 42 {"a":[1]}\na b x|y\njob 1\n');
  expect(r.stderr.toString()).toBe('warn\n');
  const again = await js(src, { stdin: Buffer.from('b a\n'), argv: ['x', 'y'] });
  expect(again.fuelUsed).toBe(r.fuelUsed);
  expect(r.fuelUsed).toBeGreaterThan(100_000); // QuickJS's start-up is metered too
});

test('an infinite loop ends in OUT_OF_FUEL, having used exactly its fuel', async () => {
  const r = await js('while (true) {}', { fuel: 30_000_000 });
  expect(r.outcome).toBe('OUT_OF_FUEL');
  expect(r.fuelUsed).toBe(30_000_000);
});

test('unbounded allocation ends in MEMORY_LIMIT at the run\'s memory limit', async () => {
  const r = await js('const keep = []; for (;;) keep.push("x".repeat(1 << 16) + keep.length);', { fuel: 5_000_000_000, memoryLimitBytes: 8 << 20 });
  expect(r.outcome).toBe('MEMORY_LIMIT');
  expect(r.message).toMatch(/limit is 8388608 bytes/);
});

test('an uncaught exception is JS_EXCEPTION with its message, also on stderr; deep recursion is contained', async () => {
  const r = await js("console.log('before');\nnull.boom;");
  expect(r.outcome).toBe('JS_EXCEPTION');
  expect(r.message).toMatch(/^TypeError: cannot read property 'boom' of null/);
  expect(r.stdout.toString()).toBe('before\n');
  expect(r.stderr.toString()).toMatch(/^Uncaught TypeError/);
  const thrown = await js('throw 42');
  expect([thrown.outcome, thrown.message]).toEqual(['JS_EXCEPTION', 'uncaught value: 42']);
  const deep = await js('function f(n) { return f(n + 1) + 1 } f(0)', { fuel: 5_000_000_000 });
  expect(['STACK_OVERFLOW', 'JS_EXCEPTION']).toContain(deep.outcome);
  const ok = await js('console.log(6 * 7)');
  expect([ok.outcome, ok.stdout.toString()]).toEqual(['OK', '42\n']);
});

test('a syntax check compiles without running: a SyntaxError is JS_EXCEPTION, a loop is not run', async () => {
  const ok = await js('for (;;) {}', { compileOnly: true });
  expect(ok.outcome).toBe('OK');
  const bad = await js('let x = ;', { compileOnly: true });
  expect(bad.outcome).toBe('JS_EXCEPTION');
  expect(bad.message).toMatch(/^SyntaxError/);
});

test('the runtime is not a program, and a script needs the runtime', async () => {
  await expect(engine.compile(quickJsRuntime())).rejects.toBeInstanceOf(CatalogError);
  expect(() => engine.check({ moduleHash: runtime, export: '_start', args: [], fuel: 1000, memoryLimitBytes: 1 << 20, timeoutMs: 1000 })).toThrow(/runs scripts only/);
});

test('an ES module runs: top-level code and await, then its default (or main) export with (input, argv), its result printed', async () => {
  const d = await js("export default function (input, argv) { console.log('hi', input, argv.join(',')); return { ok: true }; }", { stdin: Buffer.from('world'), argv: ['a', 'b'] });
  expect([d.outcome, d.stdout.toString()]).toEqual(['OK', 'hi world a,b\n{"ok":true}\n']);
  const m = await js("const base = await Promise.resolve(40);\nexport async function main() { return base + 2; }");
  expect([m.outcome, m.stdout.toString()]).toEqual(['OK', '42\n']);
  const plain = await js("console.log('only top level');\nexport const x = 1;");
  expect([plain.outcome, plain.stdout.toString()]).toEqual(['OK', 'only top level\n']);
  const failed = await js("export default async () => { throw new RangeError('main failed'); };");
  expect(failed.outcome).toBe('JS_EXCEPTION');
  expect(failed.message).toMatch(/^RangeError: main failed/);
  expect(failed.stderr.toString()).toMatch(/^Uncaught RangeError: main failed/);
  const check = await js('export default () => 1;', { compileOnly: true });
  expect([check.outcome, check.stdout.length]).toEqual(['OK', 0]);
  const bad = await js('export default (;', { compileOnly: true });
  expect([bad.outcome, bad.message]).toEqual(['JS_EXCEPTION', expect.stringMatching(/^SyntaxError/)]);
});

test('an unhandled promise rejection fails the run (JS_EXCEPTION, "UnhandledPromiseRejection: ..."); a handled one does not', async () => {
  const r = await js("(async () => { throw new Error('async boom'); })(); console.log('went on');");
  expect(r.outcome).toBe('JS_EXCEPTION');
  expect(r.message).toMatch(/^UnhandledPromiseRejection: Error: async boom/);
  expect(r.stdout.toString()).toBe('went on\n');
  expect(r.stderr.toString()).toMatch(/^Uncaught UnhandledPromiseRejection: Error: async boom/);
  const inModule = await js("export function main() { Promise.reject(7); }");
  expect([inModule.outcome, inModule.message]).toEqual(['JS_EXCEPTION', 'UnhandledPromiseRejection: uncaught value: 7']);
  const handled = await js("const p = Promise.reject(new Error('x')); Promise.resolve().then(() => p.catch((e) => console.log('caught', e.message)));");
  expect([handled.outcome, handled.stdout.toString()]).toEqual(['OK', 'caught x\n']);
});

test('import of any module is refused with a ReferenceError naming it (there is no module loader)', async () => {
  const stat = await js("import fs from 'fs';\nconsole.log(fs);");
  expect([stat.outcome, stat.stdout.length]).toEqual(['JS_EXCEPTION', 0]);
  expect(stat.message).toMatch(/^ReferenceError: could not load module 'fs'/);
  const dyn = await js("import('./lib.js').then(() => console.log('loaded'), (e) => console.log(e.name, e.message));");
  expect([dyn.outcome, dyn.stdout.toString()]).toEqual(['OK', "ReferenceError could not load module 'lib.js'\n"]);
  const unhandled = await js("await import('https://example.com/x.js');\nexport default () => 1;");
  expect(unhandled.outcome).toBe('JS_EXCEPTION');
  expect(unhandled.message).toMatch(/^ReferenceError: could not load module 'https:\/\/example.com\/x.js'/);
});

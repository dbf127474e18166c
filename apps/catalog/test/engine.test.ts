// The engine as Catalog drives it, with the WAT programs in native/test/wasm: every bad module
// and every run-ending failure the issue lists, each with its own code or outcome, and the
// engine still serving afterwards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { watToWasm } from '@stoq/native';
import { CatalogError } from '../src/errors';
import { ProgramEngine, type WasmRunRequest } from '../src/service/engine';

const wat = (name: string): Buffer => watToWasm(readFileSync(join(__dirname, '..', '..', '..', 'native', 'test', 'wasm', `${name}.wat`), 'utf8'));
let engine: ProgramEngine;

beforeAll(() => {
  engine = new ProgramEngine({ workers: 2, queueDepth: 2, maxMemoryBytes: 16 << 20, maxModuleBytes: 64 * 1024, maxOutputBytes: 64 * 1024 });
});
afterAll(() => engine.close());

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return (err as CatalogError).code;
  }
  return 'resolved';
}

const req = (hash: Buffer, exp: string, args: bigint[] = [], more: Partial<WasmRunRequest> = {}): WasmRunRequest => ({ moduleHash: hash, export: exp, args, fuel: 1_000_000, memoryLimitBytes: 8 << 20, timeoutMs: 5_000, ...more });

test('bad modules: not wasm, truncated, an import not offered, over the size limit, memory above the cap', async () => {
  expect(await code(engine.compile(Buffer.from('\0asm but not really')))).toBe('INVALID_MODULE');
  const add = wat('add');
  expect(await code(engine.compile(add.subarray(0, add.length - 5)))).toBe('INVALID_MODULE');
  await expect(engine.compile(wat('socket'))).rejects.toThrow(/wasi_snapshot_preview1\.sock_accept/);
  expect(await code(engine.compile(Buffer.concat([add, Buffer.alloc(70 * 1024)])))).toBe('MODULE_TOO_LARGE');
  expect(await code(engine.compile(watToWasm('(module (memory 1024))')))).toBe('UNSUPPORTED_MODULE');
});

test('bad requests: an export that does not exist, fuel 0, memory above the cap, wrong arguments', async () => {
  const { hash } = await engine.compile(wat('add'));
  expect(() => engine.check(req(hash, 'nope'))).toThrow(expect.objectContaining({ code: 'NO_SUCH_EXPORT' }));
  expect(() => engine.check(req(hash, 'add', [1n, 2n], { fuel: 0 }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  expect(() => engine.check(req(hash, 'add', [1n, 2n], { memoryLimitBytes: 32 << 20 }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  expect(() => engine.check(req(hash, 'add', [1n]))).toThrow(expect.objectContaining({ code: 'ARGUMENT_MISMATCH' }));
  expect(() => engine.check(req(hash, 'uses_f64', [1n]))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_SIGNATURE' }));
});

test('runs that go wrong end with their own outcome and the engine keeps serving', async () => {
  const hashes = new Map<string, Buffer>();
  for (const name of ['spin', 'grow', 'recurse', 'traps', 'flood', 'add']) hashes.set(name, (await engine.compile(wat(name))).hash);
  // Four at once: exactly the engine's slots (2 workers + 2 queued).
  const run = (name: string, exp: string, args: bigint[] = [], more: Partial<WasmRunRequest> = {}) => engine.run(req(hashes.get(name)!, exp, args, more));
  const [spin, grow, deep, trap] = await Promise.all([run('spin', 'spin'), run('grow', 'grow'), run('recurse', 'recurse', [0n], { fuel: 1e9 }), run('traps', 'divide', [1n, 0n])]);
  const flood = await run('flood', '_start', [], { fuel: 1e9 });
  expect(spin).toMatchObject({ outcome: 'OUT_OF_FUEL', fuelUsed: 1_000_000 });
  expect(grow).toMatchObject({ outcome: 'MEMORY_LIMIT', peakMemoryBytes: 8 << 20 });
  expect(deep.outcome).toBe('STACK_OVERFLOW');
  expect(trap).toMatchObject({ outcome: 'TRAP', message: expect.stringMatching(/divide by zero/) });
  expect(flood).toMatchObject({ outcome: 'OK', stdoutTruncated: true });
  expect(flood.stdout.length).toBe(64 * 1024);
  const ok = await run('add', 'add', [40n, 2n]);
  expect(ok).toMatchObject({ outcome: 'OK', results: [42n] });
});

// The WebAssembly engine through napi: compile, run, coded rejections, outcomes, the bounded
// pool, and that a long run never holds the JS event loop.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const native = require('..');

const wat = (name) => native.watToWasm(fs.readFileSync(path.join(__dirname, 'wasm', `${name}.wat`), 'utf8'));
const base = (hash, exp, args = []) => ({ moduleHash: hash, export: exp, args, fuel: 1_000_000, memoryLimitBytes: 8 << 20, timeoutMs: 5_000 });

test('compiles, content-addresses and runs the add program', async () => {
  const engine = new native.WasmEngine({ workers: 2 });
  try {
    const bytes = wat('add');
    const info = await engine.compile(bytes);
    assert.deepEqual(info.hash, crypto.createHash('sha256').update(bytes).digest());
    assert.deepEqual(native.wasmModuleHash(bytes), info.hash);
    assert.deepEqual(info.exports.find((e) => e.name === 'add'), { name: 'add', params: ['i64', 'i64'], results: ['i64'] });
    assert.equal(engine.isLoaded(info.hash), true);
    const r = await engine.run(base(info.hash, 'add', [2n ** 62n, 5n]));
    assert.equal(r.outcome, 'OK');
    assert.deepEqual(r.results, [2n ** 62n + 5n]);
    assert.ok(r.fuelUsed > 0);
    const s = engine.stats();
    assert.equal(s.runs, 1);
    assert.equal(s.outcomes[native.wasmOutcomes().indexOf('OK')], 1);
  } finally {
    engine.close();
  }
});

test('errors before a run carry their code; outcomes of a run are results', async () => {
  const engine = new native.WasmEngine({ workers: 1, maxMemoryBytes: 16 << 20 });
  try {
    await assert.rejects(engine.compile(Buffer.from('not wasm')), { code: 'INVALID_MODULE' });
    await assert.rejects(engine.compile(wat('socket')), (e) => e.code === 'UNKNOWN_IMPORT' && /sock_accept/.test(e.message));
    assert.throws(() => native.watToWasm('(module (func'), { code: 'INVALID_MODULE' });
    const add = (await engine.compile(wat('add'))).hash;
    await assert.rejects(engine.run(base(add, 'missing')), { code: 'NO_SUCH_EXPORT' });
    await assert.rejects(engine.run({ ...base(add, 'add', [1n, 2n]), fuel: 0 }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(engine.run({ ...base(add, 'add', [1n, 2n]), memoryLimitBytes: 32 << 20 }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(engine.run(base(Buffer.alloc(32), 'add')), { code: 'MODULE_NOT_LOADED' });
    assert.throws(() => engine.check(base(add, 'add', [1n])), { code: 'ARGUMENT_MISMATCH' });
    const spin = (await engine.compile(wat('spin'))).hash;
    assert.equal((await engine.run(base(spin, 'spin'))).outcome, 'OUT_OF_FUEL');
    const grow = (await engine.compile(wat('grow'))).hash;
    assert.equal((await engine.run(base(grow, 'grow'))).outcome, 'MEMORY_LIMIT');
    const rec = (await engine.compile(wat('recurse'))).hash;
    assert.equal((await engine.run({ ...base(rec, 'recurse', [0n]), fuel: 1e9 })).outcome, 'STACK_OVERFLOW');
    assert.deepEqual(native.wasmErrorCodes().includes('POOL_FULL'), true);
  } finally {
    engine.close();
  }
});

test('a run never holds the event loop, and a full pool refuses at once', async () => {
  const engine = new native.WasmEngine({ workers: 1, queueDepth: 0, fuel: false, epochTickMs: 5 });
  try {
    const spin = (await engine.compile(wat('spin'))).hash;
    const long = engine.run({ ...base(spin, 'spin'), timeoutMs: 300 });
    let ticks = 0;
    const timer = setInterval(() => { ticks += 1; }, 10);
    const started = Date.now();
    await assert.rejects(engine.run({ ...base(spin, 'spin'), timeoutMs: 300 }), { code: 'POOL_FULL' });
    assert.ok(Date.now() - started < 100, 'refused at once');
    const r = await long;
    clearInterval(timer);
    assert.equal(r.outcome, 'TIMEOUT');
    assert.ok(ticks >= 10, `the event loop ran ${ticks} timer ticks during the run`);
  } finally {
    engine.close();
  }
});

test('runStreaming delivers output while the program still runs, as a prefix of the result', async () => {
  const engine = new native.WasmEngine({ workers: 1, fuel: false, epochTickMs: 5 });
  try {
    const { hash } = await engine.compile(wat('hello_then_spin'));
    let firstAt = null;
    const received = [];
    const run = engine.runStreaming({ ...base(hash, '_start'), timeoutMs: 400 }, (out, err) => {
      if (out.length > 0 && firstAt === null) firstAt = Date.now();
      received.push(out);
      assert.equal(err.length, 0);
    });
    const r = await run;
    const doneAt = Date.now();
    assert.equal(r.outcome, 'TIMEOUT');
    assert.equal(r.stdout.toString(), 'hello\n');
    assert.ok(firstAt !== null && doneAt - firstAt >= 200, `the chunk came ${firstAt === null ? 'never' : `${doneAt - firstAt} ms`} before the end`);
    assert.equal(Buffer.concat(received).toString(), 'hello\n');
    const cat = (await engine.compile(wat('cat'))).hash;
    const parts = [];
    const big = Buffer.alloc(300_000, 'x');
    const c = await engine.runStreaming({ ...base(cat, '_start'), fuel: 1e9, stdin: big }, (out) => parts.push(out));
    const got = Buffer.concat(parts);
    assert.ok(c.stdout.subarray(0, got.length).equals(got), 'what arrived is a prefix of the final stdout');
  } finally {
    engine.close();
  }
});

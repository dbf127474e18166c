// Catalog across real processes: `trustchain serve`, `caesar serve --operator catalog`, `catalog
// serve` (each enrolling with a join token) and a `stoq node` whose identity is the paying user.
// Programs are uploaded and run by name through TrustChain DNS with the `catalog` CLI and an RPC
// client; every run is paid through Caesar (reserve, post the fee, void the rest), answers a
// FALCON-signed receipt that `catalog verify-receipt` checks, and every bad input of issue 13
// gets its own error or outcome without leaving a reservation behind. JavaScript programs run on
// the engine's QuickJS runtime, paid the same way; execute is idempotent by request id; `stoq
// verify-receipt` checks a saved answer like `catalog verify-receipt`.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watToWasm } from '@stoq/native';
import { caesar, catalog } from '@stoq/protos';
import { RpcClient, isRpcError, metricsMethod, statusName } from '@stoq/rpc';
import { CAESAR_BIN, DnsClients, StoqProcess, joinToken, runStoq, statusOf, writeServiceConfig, type RunResult, type TrustChainEndpoints, until } from './support';

jest.setTimeout(240_000);

const CATALOG_BIN = join(__dirname, '..', '..', 'apps', 'catalog', 'bin', 'catalog.js');
const WAT_DIR = join(__dirname, '..', '..', 'native', 'test', 'wasm');
const C = catalog.CatalogMethods;
const L = caesar.CaesarMethods;
const MINT = '900000001';
const FEE_ACCOUNT = '700000001';
const PRICE = 2n;
const PAYER = '100';
const BROKE = '101';
const ADMINS = '200';

let dir: string;
let tcDir: string;
let tc: StoqProcess;
let tcReady: TrustChainEndpoints;
let caesarProc: StoqProcess;
let catalogProc: StoqProcess;
let catalogHome: string;
let catalogArgs: string[];
let node: StoqProcess;
let nodeId: string;
let adminId: string;
const clients = new DnsClients(() => tcReady.dns);
let user: RpcClient;
let admin: RpcClient;

const token = (service: string): Promise<string> => joinToken(tcDir, service, dir);
const clientAs = (identityDir: string): Promise<RpcClient> => clients.dialAs(identityDir);

const wasm = (name: string): Buffer => watToWasm(readFileSync(join(WAT_DIR, `${name}.wat`), 'utf8'));
const cli = (args: string[], identity = nodeId): Promise<RunResult> => runStoq([...args, '--dns', tcReady.dns, '--identity', identity], dir, { bin: CATALOG_BIN });

async function account(id: string): Promise<caesar.Account> {
  const r = await admin.call(L.lookupAccounts, { ids: [id] });
  return r.accounts![0]!;
}

async function upload(name: string): Promise<string> {
  return (await user.call(C.uploadProgram, { module: wasm(name) })).program!.hash!;
}

const exec = (hash: string, more: Partial<catalog.ExecuteRequest> = {}): Promise<catalog.ExecuteResponse> =>
  user.call(C.execute, { programHash: hash, fuelLimit: 1_000_000, payerAccountId: PAYER, ...more }, { timeoutMs: 60_000 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'catalog-e2e-'));
  tcDir = join(dir, 'trustchain');
  adminId = join(tcDir, 'admin');
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  tcReady = (await tc.waitFor((l) => l.msg === 'trustchain serve ready')) as unknown as TrustChainEndpoints;
  const caesarHome = join(dir, 'caesar');
  catalogHome = join(dir, 'catalog');
  const nodeHome = join(dir, 'node');
  writeServiceConfig(caesarHome, 'caesar.toml', 'caesar-1', tcReady);
  writeServiceConfig(catalogHome, 'catalog.toml', 'catalog-1', tcReady);
  writeServiceConfig(nodeHome, 'stoq.toml', 'node-1', tcReady);
  const [caesarToken, catalogToken, nodeToken] = await Promise.all([token('caesar'), token('catalog'), token('node')]);
  caesarProc = StoqProcess.start(['serve', '--config', 'caesar.toml', '--mint-account', MINT, '--operator', 'catalog'], caesarHome, { bin: CAESAR_BIN, env: { STOQ_JOIN_TOKEN: caesarToken } });
  catalogArgs = ['serve', '--config', 'catalog.toml', '--price', String(PRICE), '--fee-account', FEE_ACCOUNT, '--max-module-bytes', '65536', '--max-memory-bytes', String(16 << 20), '--default-memory-bytes', String(8 << 20), '--max-output-bytes', '65536', '--workers', '1', '--queue', '0', '--timeout-ms', '20000'];
  catalogProc = StoqProcess.start(catalogArgs, catalogHome, { bin: CATALOG_BIN, env: { STOQ_JOIN_TOKEN: catalogToken } });
  node = StoqProcess.start(['node', '--config', 'stoq.toml'], nodeHome, { env: { STOQ_JOIN_TOKEN: nodeToken } });
  nodeId = join(nodeHome, 'data');
  await Promise.all([caesarProc.waitFor((l) => l.msg === 'caesar serving'), catalogProc.waitFor((l) => l.msg === 'catalog serving'), node.waitFor((l) => l.msg === 'stoq node listening')]);
  user = await clientAs(nodeId);
  admin = await clientAs(adminId);
  await until('catalog and caesar by name', async () => ((await statusOf(user.call(C.stats, {}))) === 'OK' && (await statusOf(admin.call(L.whoAmI, {}))) === 'OK' ? true : null));
  // The admin mints 10^13 into the user's account 100; the user's 101 stays empty; 200 is the admin's.
  expect((await admin.call(L.createAccounts, { accounts: [{ id: MINT, ledger: 1, code: 1, flags: 1 << 14 }, { id: ADMINS, ledger: 1, code: 1 }] })).results).toEqual([0, 0]);
  expect((await user.call(L.createAccounts, { accounts: [{ id: PAYER, ledger: 1, code: 1, flags: 2 }, { id: BROKE, ledger: 1, code: 1, flags: 2 }] })).results).toEqual([0, 0]);
  expect((await admin.call(L.createTransfers, { transfers: [{ id: '1', debitAccountId: MINT, creditAccountId: PAYER, amount: '10000000000000', ledger: 1, code: 1 }, { id: '2', debitAccountId: MINT, creditAccountId: ADMINS, amount: '1000', ledger: 1, code: 1 }] })).results).toEqual([0, 0]);
});

afterAll(async () => {
  await clients.closeAll();
  // Nothing went wrong inside Catalog (refusals are answers, not errors).
  if (catalogProc) expect(catalogProc.lines.filter((l) => (l['level'] as number) >= 50)).toEqual([]);
  if (catalogProc) expect(await catalogProc.stop()).toBe(0);
  if (caesarProc) expect(await caesarProc.stop()).toBe(0);
  if (node) await node.stop();
  if (tc) expect(await tc.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

test('upload and run with the CLI: output, fuel, fee paid through Caesar, a receipt anyone can verify', async () => {
  writeFileSync(join(dir, 'add.wat'), readFileSync(join(WAT_DIR, 'add.wat')));
  const up = await cli(['upload', join(dir, 'add.wat'), '--json']);
  expect(up.stderr).toBe('');
  const { hash } = JSON.parse(up.stdout) as { hash: string };
  expect(hash).toMatch(/^[0-9a-f]{64}$/);
  const before = await account(PAYER);
  const run = await cli(['run', hash, '--export', 'add', '--arg', '40', '--arg', '2', '--fuel', '1000', '--payer', PAYER, '--json']);
  expect(run.stderr).toBe('');
  const answer = JSON.parse(run.stdout) as { outcome: string; results: string[]; fuelUsed: string; fee: string; receipt: { transferId: string; keyId: string } };
  expect(answer).toMatchObject({ outcome: 'OK', results: ['42'] });
  expect(BigInt(answer.fee)).toBe(BigInt(answer.fuelUsed) * PRICE);
  expect(BigInt(answer.fuelUsed)).toBeGreaterThan(0n);
  // Caesar: the fee was posted from the payer to Catalog's account, nothing is left pending.
  const after = await account(PAYER);
  expect(BigInt(after.debitsPosted!) - BigInt(before.debitsPosted!)).toBe(BigInt(answer.fee));
  expect(after.debitsPending).toBe('0');
  const pending = (await admin.call(L.lookupTransfers, { ids: [answer.receipt.transferId] })).transfers![0]!;
  expect(pending).toMatchObject({ debitAccountId: PAYER, creditAccountId: FEE_ACCOUNT, amount: String(1000n * PRICE), flags: 2 });

  const saved = join(dir, 'receipt.json');
  writeFileSync(saved, run.stdout);
  const ok = await runStoq(['verify-receipt', saved, '--key-id', answer.receipt.keyId], dir, { bin: CATALOG_BIN });
  expect(ok.stdout).toMatch(new RegExp(`^receipt valid: program ${hash}, fuel ${answer.fuelUsed}, fee ${answer.fee}, transfer ${answer.receipt.transferId}`));
  expect(ok.code).toBe(0);
  writeFileSync(saved, JSON.stringify({ ...JSON.parse(run.stdout), results: ['43'] }));
  const forged = await runStoq(['verify-receipt', saved], dir, { bin: CATALOG_BIN });
  expect([forged.code, forged.stderr]).toEqual([1, expect.stringMatching(/output hash differs/)]);

  // A WASI command from a .wat file: stdin to stdout.
  writeFileSync(join(dir, 'cat.wat'), readFileSync(join(WAT_DIR, 'cat.wat')));
  const cat = await cli(['run', join(dir, 'cat.wat'), '--input', 'hello, catalog', '--fuel', '100000', '--payer', PAYER]);
  expect(cat.stdout).toMatch(/^outcome +OK\n/);
  expect(cat.stdout).toMatch(/\nstdout +"hello, catalog"\n/);
  const list = await cli(['programs', '--json']);
  expect((JSON.parse(list.stdout) as { programs: Array<{ hash: string; owner: string }> }).programs).toContainEqual(expect.objectContaining({ hash, owner: 'node/node-1' }));
});

test('a JavaScript program: uploaded as source, run on QuickJS inside the engine, paid through Caesar; stoq verify-receipt checks its receipt', async () => {
  const source = "const name = input.trim() || 'world';\nconsole.log(`hello, ${name}`, argv.length, [1, 2].map((x) => x * 21).join('+'));\n";
  writeFileSync(join(dir, 'greet.js'), source);
  const up = await cli(['upload', join(dir, 'greet.js'), '--json']);
  expect(up.stderr).toBe('');
  const uploaded = JSON.parse(up.stdout) as { hash: string; language: string };
  expect(uploaded).toMatchObject({ hash: createHash('sha256').update(source).digest('hex'), language: 'javascript' });
  const program = (await user.call(C.getProgram, { hash: uploaded.hash })).program!;
  expect(program.language).toBe(catalog.ProgramLanguage.PROGRAM_JAVASCRIPT);
  expect(program.runtimeHash).toBe(createHash('sha256').update(readFileSync(require.resolve('quickjs-wasi/quickjs.wasm'))).digest('hex'));

  const before = await account(PAYER);
  const run = await cli(['run', uploaded.hash, '--input', 'catalog', '--argv', 'a', '--fuel', '200000000', '--payer', PAYER, '--json']);
  expect(run.stderr).toBe('');
  const answer = JSON.parse(run.stdout) as { outcome: string; stdout: string; fuelUsed: string; fee: string; receipt: { transferId: string; keyId: string } };
  expect(answer.outcome).toBe('OK');
  expect(Buffer.from(answer.stdout, 'base64').toString()).toBe('hello, catalog 1 21+42\n');
  expect(BigInt(answer.fee)).toBe(BigInt(answer.fuelUsed) * PRICE);
  const after = await account(PAYER);
  expect(BigInt(after.debitsPosted!) - BigInt(before.debitsPosted!)).toBe(BigInt(answer.fee));
  expect(after.debitsPending).toBe('0');

  const saved = join(dir, 'js-answer.json');
  writeFileSync(saved, run.stdout);
  const ok = await runStoq(['verify-receipt', saved, '--key-id', answer.receipt.keyId], dir);
  expect([ok.code, ok.stderr]).toEqual([0, '']);
  expect(ok.stdout).toMatch(new RegExp(`^receipt valid: program ${uploaded.hash}, fuel ${answer.fuelUsed}, fee ${answer.fee}, transfer ${answer.receipt.transferId}`));
  writeFileSync(saved, JSON.stringify({ ...JSON.parse(run.stdout), stdout: Buffer.from('hello, forger 1 21+42\n').toString('base64') }));
  const forged = await runStoq(['verify-receipt', saved], dir);
  expect([forged.code, forged.stderr]).toEqual([1, expect.stringMatching(/output hash differs/)]);

  // An uncaught exception and an infinite loop end with their own outcomes, billed for their fuel.
  const js = async (text: string): Promise<string> => (await user.call(C.uploadProgram, { module: Buffer.from(text), language: catalog.ProgramLanguage.PROGRAM_JAVASCRIPT })).program!.hash!;
  const thrown = await exec(await js("console.log('start');\nthrow new RangeError('no such thing');"), { fuelLimit: 200_000_000 });
  expect([catalog.RunOutcome[thrown.outcome!], Buffer.from(thrown.stdout!).toString()]).toEqual(['RUN_JS_EXCEPTION', 'start\n']);
  expect(thrown.message).toMatch(/^RangeError: no such thing/);
  expect(Buffer.from(thrown.stderr!).toString()).toMatch(/^Uncaught RangeError: no such thing/);
  const loop = await exec(await js('for (;;) {}'), { fuelLimit: 50_000_000 });
  expect([catalog.RunOutcome[loop.outcome!], String(loop.fuelUsed), loop.fee]).toEqual(['RUN_OUT_OF_FUEL', '50000000', String(50_000_000n * PRICE)]);
  expect(await statusOf(exec(await js('1'), { export: 'main' }))).toMatch(/^INVALID_ARGUMENT: INVALID_ARGUMENT: export: a JavaScript program has no exports/);
  expect(await statusOf(user.call(C.uploadProgram, { module: Buffer.from([0xff, 0xfe, 0x00]), language: catalog.ProgramLanguage.PROGRAM_JAVASCRIPT }))).toMatch(/^INVALID_ARGUMENT: INVALID_MODULE: .*not UTF-8/);
  expect(await statusOf(user.call(C.uploadProgram, { module: Buffer.from('function broken( {'), language: catalog.ProgramLanguage.PROGRAM_JAVASCRIPT }))).toMatch(/^INVALID_ARGUMENT: INVALID_MODULE: module: the JavaScript does not compile: SyntaxError/);
  expect((await account(PAYER)).debitsPending).toBe('0');
});

test('idempotent execute: a retry with the same request id gets the same answer and is charged once; another request under the id is ALREADY_EXISTS', async () => {
  const add = await upload('add');
  const before = await account(PAYER);
  const req = { export: 'add', args: ['20', '22'], requestId: 'retry-1' };
  const first = await exec(add, req);
  const again = await exec(add, req);
  expect(again.results).toEqual(['42']);
  expect(Buffer.from(again.receipt!.encoded!)).toEqual(Buffer.from(first.receipt!.encoded!));
  expect(await statusOf(exec(add, { ...req, args: ['20', '23'] }))).toMatch(/^ALREADY_EXISTS: REQUEST_ID_REUSED: /);
  // Two copies at once: one run, one answer.
  const [x, y] = await Promise.all([exec(add, { ...req, requestId: 'retry-2' }), exec(add, { ...req, requestId: 'retry-2' })]);
  expect(Buffer.from(y.receipt!.encoded!)).toEqual(Buffer.from(x.receipt!.encoded!));
  const after = await account(PAYER);
  expect(BigInt(after.debitsPosted!) - BigInt(before.debitsPosted!)).toBe(BigInt(first.fee!) + BigInt(x.fee!));
  expect(after.debitsPending).toBe('0');
  // The reservation's id derives from the request: the same request names the same Caesar transfer.
  expect(first.receipt!.transferId).not.toBe(x.receipt!.transferId);
  // Another caller's request id is its own: the admin's "retry-1" is a new run (and not its money to spend: refused).
  expect(await statusOf(admin.call(C.execute, { programHash: add, export: 'add', args: ['1', '1'], fuelLimit: 1000, payerAccountId: PAYER, requestId: 'retry-1' }))).toMatch(/^PERMISSION_DENIED: NOT_PAYERS_OWNER/);
});

test('bad modules are refused at upload, each with its own code', async () => {
  expect(await statusOf(user.call(C.uploadProgram, { module: Buffer.from('not wasm at all') }))).toMatch(/^INVALID_ARGUMENT: INVALID_MODULE: /);
  const add = wasm('add');
  expect(await statusOf(user.call(C.uploadProgram, { module: add.subarray(0, add.length - 4) }))).toMatch(/^INVALID_ARGUMENT: INVALID_MODULE: /);
  expect(await statusOf(user.call(C.uploadProgram, { module: wasm('socket') }))).toMatch(/^INVALID_ARGUMENT: UNKNOWN_IMPORT: .*wasi_snapshot_preview1\.sock_accept/);
  expect(await statusOf(user.call(C.uploadProgram, { module: Buffer.concat([add, Buffer.alloc(65536)]) }))).toMatch(/^INVALID_ARGUMENT: MODULE_TOO_LARGE: /);
  expect(await statusOf(user.call(C.getProgram, { hash: 'ab'.repeat(32) }))).toMatch(/^NOT_FOUND: NO_SUCH_PROGRAM/);
});

test('bad requests are refused before any money moves', async () => {
  const add = await upload('add');
  const before = await account(PAYER);
  const cases: Array<[Partial<catalog.ExecuteRequest>, RegExp]> = [
    [{ export: 'missing' }, /^NOT_FOUND: NO_SUCH_EXPORT: /],
    [{ export: 'add', args: ['1', '2'], fuelLimit: 0 }, /^INVALID_ARGUMENT: INVALID_ARGUMENT: fuel_limit/],
    [{ export: 'add', args: ['1', '2'], memoryLimitBytes: 32 << 20 }, /^INVALID_ARGUMENT: INVALID_ARGUMENT: memory_limit_bytes/],
    [{ export: 'add', args: ['1'] }, /^INVALID_ARGUMENT: ARGUMENT_MISMATCH: /],
    [{ export: 'add', args: ['1', '2'], payerAccountId: BROKE }, /^FAILED_PRECONDITION: INSUFFICIENT_FUNDS: /],
    [{ export: 'add', args: ['1', '2'], payerAccountId: ADMINS }, /^PERMISSION_DENIED: NOT_PAYERS_OWNER: payer account 200 is not node's/],
    [{ export: 'add', args: ['1', '2'], payerAccountId: '999' }, /^FAILED_PRECONDITION: PAYER_NOT_FOUND: /],
  ];
  for (const [req, expected] of cases) expect(await statusOf(exec(add, req))).toMatch(expected);
  const after = await account(PAYER);
  expect([after.debitsPosted, after.debitsPending]).toEqual([before.debitsPosted, '0']);
  expect((await account(ADMINS)).debitsPending).toBe('0');
});

test('runs that go wrong end with their own outcome, are billed for the fuel they used, and leave nothing pending', async () => {
  const [spin, grow, recurse, flood] = [await upload('spin'), await upload('grow'), await upload('recurse'), await upload('flood')];
  const before = await account(PAYER);
  const loop = await exec(spin, { export: 'spin', fuelLimit: 50_000 });
  expect([catalog.RunOutcome[loop.outcome!], String(loop.fuelUsed), loop.fee]).toEqual(['RUN_OUT_OF_FUEL', '50000', String(50_000n * PRICE)]);
  const mem = await exec(grow, { export: 'grow', memoryLimitBytes: 1 << 20 });
  expect(catalog.RunOutcome[mem.outcome!]).toBe('RUN_MEMORY_LIMIT');
  const deep = await exec(recurse, { export: 'recurse', args: ['0'], fuelLimit: 100_000_000 });
  expect(catalog.RunOutcome[deep.outcome!]).toBe('RUN_STACK_OVERFLOW');
  const gib = await exec(flood, { fuelLimit: 100_000_000 });
  expect([catalog.RunOutcome[gib.outcome!], gib.stdout!.length, gib.stdoutTruncated]).toEqual(['RUN_OK', 65536, true]);
  const fees = [loop, mem, deep, gib].reduce((s, r) => s + BigInt(r.fee!), 0n);
  const after = await account(PAYER);
  expect(BigInt(after.debitsPosted!) - BigInt(before.debitsPosted!)).toBe(fees);
  expect(after.debitsPending).toBe('0');
  // Catalog's account holds exactly what payers were charged.
  const stats = await user.call(C.stats, {});
  expect((await account(FEE_ACCOUNT)).creditsPosted).toBe(stats.fees);
  expect((await account(FEE_ACCOUNT)).creditsPending).toBe('0');
});

test('a full worker pool answers RESOURCE_EXHAUSTED at once and voids what it reserved', async () => {
  const spin = await upload('spin');
  // One worker, no queue: while one long run (~1 s of spinning) holds the worker, the others are
  // refused. Their reservations land together (batched), so they reach the pool together.
  const results = await Promise.allSettled([0, 1, 2, 3].map(() => exec(spin, { export: 'spin', fuelLimit: 3_000_000_000 })));
  const refused = results.filter((r) => r.status === 'rejected' && isRpcError(r.reason) && /^POOL_FULL/.test(r.reason.message));
  expect(refused.length).toBeGreaterThanOrEqual(1);
  expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
  expect((await account(PAYER)).debitsPending).toBe('0');
  const metrics = (await user.call(metricsMethod('catalog'), {})) as { serviceMetrics?: Array<{ name?: string; value?: number }> };
  expect(metrics.serviceMetrics!.find((m) => m.name === 'catalog_refused_total')!.value).toBeGreaterThanOrEqual(refused.length);
});

test('execute_stream: output arrives while the program runs, then the billed, signed result', async () => {
  const hash = await upload('hello_then_spin');
  const events: Array<{ at: number; kind: string; data?: string }> = [];
  let result: catalog.ExecuteResponse | null = null;
  for await (const ev of user.serverStream(C.executeStream, { programHash: hash, fuelLimit: 3_000_000_000, payerAccountId: PAYER }, { timeoutMs: 60_000 })) {
    if (ev.stdout && ev.stdout.length > 0) events.push({ at: Date.now(), kind: 'stdout', data: Buffer.from(ev.stdout).toString() });
    if (ev.result) {
      events.push({ at: Date.now(), kind: 'result' });
      result = ev.result;
    }
  }
  expect(events.map((e) => e.kind)).toEqual(['stdout', 'result']);
  expect(events[0]!.data).toBe('hello\n');
  // The spin after the write takes its 3e9 fuel: the output came well before the end.
  expect(events[1]!.at - events[0]!.at).toBeGreaterThan(100);
  expect(catalog.RunOutcome[result!.outcome!]).toBe('RUN_OUT_OF_FUEL');
  expect(Buffer.from(result!.stdout!).toString()).toBe('hello\n');
  expect(result!.fee).toBe(String(3_000_000_000n * PRICE));
  expect((await account(PAYER)).debitsPending).toBe('0');
  // The CLI streams the same way: the program's output on stdout, the summary on stderr.
  const cli2 = await cli(['run', hash, '--fuel', '100000', '--payer', PAYER, '--stream']);
  expect([cli2.code, cli2.stdout]).toEqual([0, 'hello\n']);
  expect(cli2.stderr).toMatch(/^outcome +OUT_OF_FUEL/);
});

test('programs survive a restart: served and run from the durable store; stored answers too', async () => {
  const add = await upload('add');
  const kept = await exec(add, { export: 'add', args: ['2', '3'], requestId: 'before-restart' });
  expect(catalogProc.lines.filter((l) => (l['level'] as number) >= 50)).toEqual([]);
  expect(await catalogProc.stop()).toBe(0);
  catalogProc = StoqProcess.start(catalogArgs, catalogHome, { bin: CATALOG_BIN });
  const ready = await catalogProc.waitFor((l) => l.msg === 'catalog ready');
  expect(ready['programs']).toBeGreaterThanOrEqual(6);
  await catalogProc.waitFor((l) => l.msg === 'catalog serving');
  // A fresh client per probe: a new resolver, so the old instance's cached address is not reused.
  const got = await until('catalog back by name', async () => {
    user = await clientAs(nodeId);
    return user.call(C.getProgram, { hash: add, includeModule: true }, { timeoutMs: 2_000 }).catch(() => null);
  });
  expect(Buffer.from(got.module!)).toEqual(wasm('add'));
  const r = await exec(add, { export: 'add', args: ['-5', '7'] });
  expect([catalog.RunOutcome[r.outcome!], r.results]).toEqual(['RUN_OK', ['2']]);
  // A retry after the restart is answered from the fsync'd answer log: same receipt, no new charge.
  const payer = await account(PAYER);
  const retried = await exec(add, { export: 'add', args: ['2', '3'], requestId: 'before-restart' });
  expect(Buffer.from(retried.receipt!.encoded!)).toEqual(Buffer.from(kept.receipt!.encoded!));
  expect((await account(PAYER)).debitsPosted).toBe(payer.debitsPosted);
});

test('kill -9 during a paid run: Caesar releases the reservation at its timeout, nothing is charged; per-caller rate limit', async () => {
  const spin = await upload('spin');
  // Runs of at most 3 s, reservations that expire 1 s after that.
  expect(await catalogProc.stop()).toBe(0);
  catalogProc = StoqProcess.start([...catalogArgs, '--timeout-ms', '3000', '--reservation-grace-seconds', '1', '--max-fuel', '1000000000000'], catalogHome, { bin: CATALOG_BIN });
  await catalogProc.waitFor((l) => l.msg === 'catalog serving');
  await until('catalog back by name', async () => {
    user = await clientAs(nodeId);
    return user.call(C.stats, {}, { timeoutMs: 2_000 }).catch(() => null);
  });
  const before = await account(PAYER);
  // The caller gives up after 8 s (a killed peer sends no CONNECTION_CLOSE; QUIC would notice only at its idle timeout).
  const doomed = user.call(C.execute, { programHash: spin, export: 'spin', fuelLimit: 500_000_000_000, payerAccountId: PAYER }, { timeoutMs: 8_000 }).then(() => 'answered', (err: unknown) => (isRpcError(err) ? statusName(err.code) : String(err)));
  await until('the reservation is in Caesar', async () => (BigInt((await account(PAYER)).debitsPending!) > 0n ? true : null));
  catalogProc.child.kill('SIGKILL');
  expect(await catalogProc.exited).toBe('SIGKILL');
  expect(await doomed).not.toBe('answered');
  // Caesar expires the pending transfer (3 s run timeout + 1 s grace after it was made).
  const released = await until('Caesar released the reservation', async () => {
    const a = await account(PAYER);
    return a.debitsPending === '0' ? a : null;
  });
  expect(released.debitsPosted).toBe(before.debitsPosted);

  // Back up with a small rate limit: a burst of 2, then refusals.
  catalogProc = StoqProcess.start([...catalogArgs, '--rate', '1', '--burst', '2'], catalogHome, { bin: CATALOG_BIN });
  await catalogProc.waitFor((l) => l.msg === 'catalog serving');
  await until('catalog back by name', async () => {
    user = await clientAs(nodeId);
    return user.call(C.stats, {}, { timeoutMs: 2_000 }).catch(() => null);
  });
  const add = await upload('add');
  const three = [await statusOf(exec(add, { export: 'add', args: ['1', '2'] })), await statusOf(exec(add, { export: 'add', args: ['1', '2'] })), await statusOf(exec(add, { export: 'add', args: ['1', '2'] }))];
  expect(three.slice(0, 2)).toEqual(['OK', 'OK']);
  expect(three[2]).toMatch(/^RESOURCE_EXHAUSTED: RATE_LIMITED: node\/node-1 is over its rate limit/);
});

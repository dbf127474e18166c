// Idempotent catalog/execute (and execute_stream) against a real Caesar, across real processes:
// `trustchain serve`, `caesar serve --operator catalog`, `catalog serve` (one worker, no queue,
// runs cut at 5 s of wall clock) and a `stoq node` whose identity pays. What a paying user relies
// on is checked in Caesar itself: the payer's and the fee account's balances, and the transfers
// under the ids Catalog derives from the request key and attempt number (reservation, post,
// void; apps/catalog/README.md "Attempts"), looked up with caesar/lookup_transfers.
//   a. a completed execute retried with its request id: same receipt, one run, one charge;
//   b. refused before its run (pool full; no funds, then funded; reserved and then refused by a
//      pool filled meanwhile): the retry runs once, charged once, nothing left reserved;
//   c. Catalog killed with SIGKILL mid-run, restarted on its data dir: the retry is answered or
//      in doubt, never charged twice, and no reservation stays pending (closed by the retry, or
//      expired by Caesar at the run timeout + grace);
//   d. the id with another body: ALREADY_EXISTS REQUEST_ID_REUSED, nothing charged;
//   and execute_stream: a second stream with the id replays the stored answer, runs nothing.
// Every wait polls a state with a deadline (`until`); long runs end by Catalog's wall-clock
// backstop (`--timeout-ms`), so how long they hold the worker does not depend on CPU speed.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watToWasm } from '@stoq/native';
import { caesar, catalog } from '@stoq/protos';
import { RpcClient, isRpcError, statusName } from '@stoq/rpc';
import { CAESAR_BIN, DnsClients, StoqProcess, joinToken, statusOf, writeServiceConfig, type TrustChainEndpoints, until } from './support';

jest.setTimeout(300_000);

const CATALOG_BIN = join(__dirname, '..', '..', 'apps', 'catalog', 'bin', 'catalog.js');
const WAT_DIR = join(__dirname, '..', '..', 'native', 'test', 'wasm');
const C = catalog.CatalogMethods;
const L = caesar.CaesarMethods;
const MINT = '900000001';
const FEE_ACCOUNT = '700000001';
const PRICE = 2n;
const PAYER = '100';
const LOW = '102';
const CALLER = 'node/node-1';
/** A fuel limit no spin reaches within the run timeout: such a run ends by the wall clock (RUN_TIMEOUT). */
const UNTIL_TIMEOUT = 1_000_000_000_000;
const PENDING = 2;
const POST_PENDING = 4;
const VOID_PENDING = 8;

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
const clients = new DnsClients(() => tcReady.dns);
let user: RpcClient;
let admin: RpcClient;
let add: string;
let spin: string;
let hello: string;

const token = (service: string): Promise<string> => joinToken(tcDir, service, dir);
const clientAs = (identityDir: string): Promise<RpcClient> => clients.dialAs(identityDir);

const wasm = (name: string): Buffer => watToWasm(readFileSync(join(WAT_DIR, `${name}.wat`), 'utf8'));

async function account(id: string): Promise<caesar.Account> {
  const r = await admin.call(L.lookupAccounts, { ids: [id] });
  return r.accounts![0]!; // undefined when there is no such account
}

const exec = (hash: string, more: Partial<catalog.ExecuteRequest> = {}, timeoutMs = 60_000): Promise<catalog.ExecuteResponse> =>
  user.call(C.execute, { programHash: hash, fuelLimit: 1_000_000, payerAccountId: PAYER, ...more }, { timeoutMs });

/** Every event of one execute_stream, or the status that ended it. */
async function stream(req: Partial<catalog.ExecuteRequest>): Promise<{ events: catalog.ExecuteStreamEvent[]; status: string }> {
  const events: catalog.ExecuteStreamEvent[] = [];
  const status = await statusOf(
    (async () => {
      for await (const ev of user.serverStream(C.executeStream, { fuelLimit: 1_000_000, payerAccountId: PAYER, ...req }, { timeoutMs: 60_000 })) events.push(ev);
    })(),
  );
  return { events, status };
}

const runs = async (): Promise<number> => Number((await user.call(C.stats, {})).runs ?? 0);

// The transfer ids Catalog derives for attempt n of a request (apps/catalog/src/core/
// request-attempts.ts and billing.ts' transferIdFrom), written out again here so that this test
// pins the derivation instead of sharing it.
function requestKey(requestId: string): Buffer {
  return createHash('sha256').update(`catalog execute v1\0${CALLER}\0${requestId}`).digest();
}
function attemptIds(requestId: string, attempt: number): { reserve: string; settle: string; release: string } {
  const key = requestKey(requestId);
  const id = (label: string): string => {
    const h = createHash('sha256').update(attempt === 1 ? `catalog transfer v1\0${label}\0` : `catalog transfer v2\0${label}\0${attempt}\0`);
    const b = h.update(key).digest();
    const v = ((b.readBigUInt64BE(0) << 64n) | b.readBigUInt64BE(8)) >> 2n;
    return String(v === 0n ? 1n : v);
  };
  return { reserve: id('reserve'), settle: id('settle'), release: id('release') };
}

/** What Caesar holds for attempt n of a request: its reservation and what ended it. */
type AttemptState = 'none' | 'pending' | 'posted' | 'voided';
interface Attempt {
  state: AttemptState;
  reservation?: caesar.Transfer;
  /** The amount posted (the fee), when posted. */
  posted: bigint;
}
async function attemptIn(requestId: string, attempt: number): Promise<Attempt> {
  const ids = attemptIds(requestId, attempt);
  const found = (await admin.call(L.lookupTransfers, { ids: [ids.reserve, ids.settle, ids.release] })).transfers ?? [];
  const byId = new Map(found.map((t) => [t.id!, t]));
  const reservation = byId.get(ids.reserve);
  if (reservation === undefined) {
    expect([byId.has(ids.settle), byId.has(ids.release)]).toEqual([false, false]);
    return { state: 'none', posted: 0n };
  }
  expect([reservation.flags, reservation.debitAccountId, reservation.creditAccountId]).toEqual([PENDING, expect.any(String), FEE_ACCOUNT]);
  const settle = byId.get(ids.settle);
  const release = byId.get(ids.release);
  for (const t of [settle, release]) if (t) expect(t.pendingId).toBe(ids.reserve);
  if (settle && settle.flags === POST_PENDING) {
    expect(release).toBeUndefined(); // posted xor voided
    return { state: 'posted', reservation, posted: BigInt(settle.amount!) };
  }
  if ((settle && settle.flags === VOID_PENDING) || (release && release.flags === VOID_PENDING)) return { state: 'voided', reservation, posted: 0n };
  // No post or void: pending, or expired by Caesar (the payer's debits_pending tells which).
  return { state: 'pending', reservation, posted: 0n };
}
/** Attempts 1..n of a request as Caesar holds them. */
async function attemptsIn(requestId: string, n = 3): Promise<Attempt[]> {
  const out: Attempt[] = [];
  for (let a = 1; a <= n; a++) out.push(await attemptIn(requestId, a));
  return out;
}
const states = (as: Attempt[]): AttemptState[] => as.map((a) => a.state);
const postedSum = (as: Attempt[]): bigint => as.reduce((s, a) => s + a.posted, 0n);

/** Money that moved: the payer's and the fee account's posted and pending balances. */
async function money(payer = PAYER): Promise<{ payerPosted: bigint; payerPending: bigint; feePosted: bigint; feePending: bigint }> {
  const [p, f] = [await account(payer), await account(FEE_ACCOUNT)]; // the fee account: created by Catalog at its first reservation
  return { payerPosted: BigInt(p.debitsPosted!), payerPending: BigInt(p.debitsPending!), feePosted: BigInt(f?.creditsPosted ?? 0), feePending: BigInt(f?.creditsPending ?? 0) };
}

/** Starts Catalog on its data dir (enrolled already unless a token is given); a fresh client finds it. */
async function startCatalog(env: NodeJS.ProcessEnv = {}): Promise<void> {
  catalogProc = StoqProcess.start(catalogArgs, catalogHome, { bin: CATALOG_BIN, env });
  await catalogProc.waitFor((l) => l.msg === 'catalog serving');
  // A fresh client per probe: a new resolver, so a killed instance's cached address is not reused.
  await until('catalog by name', async () => {
    user = await clientAs(nodeId);
    return user.call(C.stats, {}, { timeoutMs: 2_000 }).catch(() => null);
  });
}

async function killCatalog(): Promise<void> {
  catalogProc.child.kill('SIGKILL');
  expect(await catalogProc.exited).toBe('SIGKILL');
}

/** Nothing is left reserved: Caesar shows no pending debit on the payer or credit on the fee account. */
const nothingReserved = (payer = PAYER): Promise<true> =>
  until(
    `no reservation left on ${payer}`,
    async () => {
      const m = await money(payer);
      return m.payerPending === 0n && m.feePending === 0n ? true : null;
    },
    60_000,
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'catalog-idem-e2e-'));
  tcDir = join(dir, 'trustchain');
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
  // One worker and no queue (a running program fills the pool); runs cut at 5 s of wall clock and
  // reservations expiring 2 s after that (a killed Catalog's reservation is released at 7 s).
  catalogArgs = ['serve', '--config', 'catalog.toml', '--price', String(PRICE), '--fee-account', FEE_ACCOUNT, '--workers', '1', '--queue', '0', '--timeout-ms', '5000', '--reservation-grace-seconds', '2', '--max-fuel', String(UNTIL_TIMEOUT), '--max-output-bytes', '65536'];
  node = StoqProcess.start(['node', '--config', 'stoq.toml'], nodeHome, { env: { STOQ_JOIN_TOKEN: nodeToken } });
  nodeId = join(nodeHome, 'data');
  await Promise.all([caesarProc.waitFor((l) => l.msg === 'caesar serving'), node.waitFor((l) => l.msg === 'stoq node listening')]);
  admin = await clientAs(join(tcDir, 'admin'));
  await startCatalog({ STOQ_JOIN_TOKEN: catalogToken });
  await until('caesar by name', async () => ((await statusOf(admin.call(L.whoAmI, {}))) === 'OK' ? true : null));
  // The admin mints 10^15 into the user's account 100; the user's 102 starts empty.
  expect((await admin.call(L.createAccounts, { accounts: [{ id: MINT, ledger: 1, code: 1, flags: 1 << 14 }] })).results).toEqual([0]);
  expect((await user.call(L.createAccounts, { accounts: [{ id: PAYER, ledger: 1, code: 1, flags: 2 }, { id: LOW, ledger: 1, code: 1, flags: 2 }] })).results).toEqual([0, 0]);
  expect((await admin.call(L.createTransfers, { transfers: [{ id: '1', debitAccountId: MINT, creditAccountId: PAYER, amount: '1000000000000000', ledger: 1, code: 1 }] })).results).toEqual([0]);
  add = (await user.call(C.uploadProgram, { module: wasm('add') })).program!.hash!;
  spin = (await user.call(C.uploadProgram, { module: wasm('spin') })).program!.hash!;
  hello = (await user.call(C.uploadProgram, { module: wasm('hello_then_spin') })).program!.hash!;
});

afterAll(async () => {
  await clients.closeAll();
  // Nothing went wrong inside the last Catalog (refusals are answers, not errors).
  if (catalogProc) expect(catalogProc.lines.filter((l) => (l['level'] as number) >= 50)).toEqual([]);
  if (catalogProc) expect(await catalogProc.stop()).toBe(0);
  if (caesarProc) expect(await caesarProc.stop()).toBe(0);
  if (node) await node.stop();
  if (tc) expect(await tc.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

test('a. a completed execute retried with its request id: the identical receipt, one run, one charge', async () => {
  const before = await money();
  const runsBefore = await runs();
  const req = { export: 'add', args: ['40', '2'], fuelLimit: 1000, requestId: 'a-1' };
  const first = await exec(add, req);
  expect([catalog.RunOutcome[first.outcome!], first.results]).toEqual(['RUN_OK', ['42']]);
  const retries = [await exec(add, req), await exec(add, req), await exec(add, req)];
  for (const r of retries) expect(Buffer.from(r.receipt!.encoded!)).toEqual(Buffer.from(first.receipt!.encoded!));
  expect(await runs()).toBe(runsBefore + 1);

  const fee = BigInt(first.fee!);
  expect(fee).toBe(BigInt(String(first.fuelUsed)) * PRICE);
  const after = await money();
  expect([after.payerPosted - before.payerPosted, after.feePosted - before.feePosted, after.payerPending, after.feePending]).toEqual([fee, fee, 0n, 0n]);
  // In Caesar: attempt 1's reservation (fuel_limit × price, the receipt's transfer) posted with the fee; no attempt 2.
  const [a1, a2] = await attemptsIn('a-1', 2);
  expect([a1!.state, a1!.posted, a1!.reservation!.id, a1!.reservation!.amount, a1!.reservation!.debitAccountId, a2!.state]).toEqual(['posted', fee, first.receipt!.transferId, String(1000n * PRICE), PAYER, 'none']);
});

test('d. the request id with another body: ALREADY_EXISTS REQUEST_ID_REUSED, nothing run, nothing charged', async () => {
  const req = { export: 'add', args: ['1', '2'], fuelLimit: 1000, requestId: 'd-1' };
  const first = await exec(add, req);
  const before = await money();
  const runsBefore = await runs();
  for (const other of [{ args: ['1', '3'] }, { fuelLimit: 1001 }, { export: 'missing' }, { programHash: spin, export: 'spin' }]) {
    expect(await statusOf(exec(add, { ...req, ...other }))).toMatch(/^ALREADY_EXISTS: REQUEST_ID_REUSED: /);
  }
  expect((await stream({ programHash: add, ...req, args: ['2', '2'] })).status).toMatch(/^ALREADY_EXISTS: REQUEST_ID_REUSED: /);
  expect(await runs()).toBe(runsBefore);
  expect(await money()).toEqual(before);
  expect(states(await attemptsIn('d-1'))).toEqual(['posted', 'none', 'none']);
  // The original request under the id is still answered, from the store.
  expect(Buffer.from((await exec(add, req)).receipt!.encoded!)).toEqual(Buffer.from(first.receipt!.encoded!));
});

test('b. refused by a full pool before anything was reserved: the retry once the worker is free runs once, charged once', async () => {
  // A program holding the only worker until the run timeout (5 s of wall clock).
  const occupier = exec(spin, { export: 'spin', fuelLimit: UNTIL_TIMEOUT });
  await until('the occupier holds the worker', async () => ((await user.call(C.stats, {})).inFlight === 1 ? true : null));
  const req = { export: 'add', args: ['20', '22'], fuelLimit: 1000, requestId: 'b-1' };
  expect(await statusOf(exec(add, req))).toMatch(/^RESOURCE_EXHAUSTED: POOL_FULL: /);
  expect(states(await attemptsIn('b-1'))).toEqual(['none', 'none', 'none']);
  const held = await occupier;
  // A run cut by the timeout is billed its whole fuel_limit (apps/catalog README, "Billing").
  expect([catalog.RunOutcome[held.outcome!], held.fee]).toEqual(['RUN_TIMEOUT', String(BigInt(UNTIL_TIMEOUT) * PRICE)]);
  await nothingReserved();

  const before = await money();
  const ran = await exec(add, req);
  expect(ran.results).toEqual(['42']);
  expect(Buffer.from((await exec(add, req)).receipt!.encoded!)).toEqual(Buffer.from(ran.receipt!.encoded!));
  const after = await money();
  expect([after.payerPosted - before.payerPosted, after.feePosted - before.feePosted]).toEqual([BigInt(ran.fee!), BigInt(ran.fee!)]);
  const attempts = await attemptsIn('b-1');
  expect(states(attempts)).toEqual(['posted', 'none', 'none']);
  expect(attempts[0]!.reservation!.id).toBe(ran.receipt!.transferId);
});

test('b. refused for lack of funds, then funded: the retry runs once, charged once; the id is bound to its request meanwhile', async () => {
  const req = { export: 'add', args: ['2', '3'], fuelLimit: 5000, payerAccountId: LOW, requestId: 'b-2' };
  expect(await statusOf(exec(add, req))).toMatch(/^FAILED_PRECONDITION: INSUFFICIENT_FUNDS: /);
  expect(await statusOf(exec(add, { ...req, args: ['2', '4'] }))).toMatch(/^ALREADY_EXISTS: REQUEST_ID_REUSED: /);
  expect(states(await attemptsIn('b-2'))).toEqual(['none', 'none', 'none']);
  expect(await money(LOW)).toMatchObject({ payerPosted: 0n, payerPending: 0n });
  expect((await admin.call(L.createTransfers, { transfers: [{ id: '2', debitAccountId: MINT, creditAccountId: LOW, amount: '10000', ledger: 1, code: 1 }] })).results).toEqual([0]);

  const runsBefore = await runs();
  const ran = await exec(add, req);
  expect(ran.results).toEqual(['5']);
  expect(Buffer.from((await exec(add, req)).receipt!.encoded!)).toEqual(Buffer.from(ran.receipt!.encoded!));
  expect(await runs()).toBe(runsBefore + 1);
  const low = await account(LOW);
  expect([low.debitsPosted, low.debitsPending, low.creditsPosted]).toEqual([ran.fee, '0', '10000']);
  // The refused attempt reserved nothing: the run is attempt 1 again, which holds the one charge.
  const attempts = await attemptsIn('b-2');
  expect(states(attempts)).toEqual(['posted', 'none', 'none']);
  expect(attempts[0]!.reservation!.id).toBe(ran.receipt!.transferId);
});

test('b. two requests at once for the one worker: the one refused (before or after its reservation) is retried, runs once, charged once; nothing stays reserved', async () => {
  const before = await money();
  const body = { export: 'spin', fuelLimit: UNTIL_TIMEOUT };
  const ids = ['b-3-x', 'b-3-y'];
  // Both usually pass the pool check together and reserve in one batch; the first reservation
  // answered takes the worker and the other is refused after reserving (its reservation voided).
  // If one arrives after the other started, it is refused before reserving. Either is checked.
  const settled = await Promise.allSettled(ids.map((requestId) => exec(spin, { ...body, requestId })));
  const ok = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [{ id: ids[i]!, answer: s.value }] : []));
  const refused = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ id: ids[i]!, reason: s.reason as Error }] : []));
  expect(ok).toHaveLength(1);
  expect(refused).toHaveLength(1);
  expect(refused[0]!.reason.message).toMatch(/^POOL_FULL: /);
  await nothingReserved();
  const loser = refused[0]!.id;
  const voided = await attemptsIn(loser);
  // Refused after reserving: attempt 1 voided; before: nothing in Caesar.
  expect([['voided', 'none', 'none'], ['none', 'none', 'none']]).toContainEqual(states(voided));

  const retried = await exec(spin, { ...body, requestId: loser });
  expect(catalog.RunOutcome[retried.outcome!]).toBe('RUN_TIMEOUT');
  expect(Buffer.from((await exec(spin, { ...body, requestId: loser })).receipt!.encoded!)).toEqual(Buffer.from(retried.receipt!.encoded!));
  const after = await money();
  const winner = ok[0]!.answer;
  expect([after.payerPosted - before.payerPosted, after.feePosted - before.feePosted, after.payerPending]).toEqual([BigInt(winner.fee!) + BigInt(retried.fee!), BigInt(winner.fee!) + BigInt(retried.fee!), 0n]);
  const attempts = await attemptsIn(loser);
  // The retry runs as the next attempt after one that held a (now voided) reservation, else as attempt 1.
  expect(states(attempts)).toEqual(voided[0]!.state === 'voided' ? ['voided', 'posted', 'none'] : ['posted', 'none', 'none']);
  expect(postedSum(attempts)).toBe(BigInt(retried.fee!));
  expect(attempts.find((a) => a.state === 'posted')!.reservation!.id).toBe(retried.receipt!.transferId);
  expect(states(await attemptsIn(ok[0]!.id))).toEqual(['posted', 'none', 'none']);
});

/**
 * Starts a run that holds the worker until the timeout under `requestId`, waits until its
 * reservation is in Caesar and the run in the engine, and kills Catalog. Resolves with the
 * killed call's promise (a killed peer sends no CONNECTION_CLOSE: the caller gives up at its
 * deadline), to be awaited later.
 */
async function killMidRun(requestId: string, body: Partial<catalog.ExecuteRequest>): Promise<{ doomed: Promise<string> }> {
  const doomed = exec(spin, { ...body, requestId }, 10_000).then(
    () => 'answered',
    (err: unknown) => (isRpcError(err) ? statusName(err.code) : String(err)),
  );
  await until('the reservation is in Caesar', async () => ((await attemptIn(requestId, 1)).state === 'pending' ? true : null));
  await until('the run is in flight', async () => ((await user.call(C.stats, {})).inFlight === 1 ? true : null));
  await killCatalog();
  return { doomed };
}

test('c. SIGKILL mid-run, restart on the same data dir, an immediate retry: answered once (or in doubt), never charged twice, nothing left reserved', async () => {
  const body = { export: 'spin', fuelLimit: UNTIL_TIMEOUT };
  const before = await money();
  const { doomed } = await killMidRun('c-1', body);
  await startCatalog();
  const retry = await exec(spin, { ...body, requestId: 'c-1' }).then(
    (a) => ({ answer: a, status: 'OK' }),
    (err: unknown) => ({ answer: null, status: isRpcError(err) ? `${statusName(err.code)}: ${err.message}` : String(err) }),
  );
  // The killed attempt's reservation is closed by the retry (or expired): nothing stays pending.
  await nothingReserved();
  const attempts = await attemptsIn('c-1');
  const after = await money();
  if (retry.answer !== null) {
    // The retry closed attempt 1 (voided, or expired) and ran as attempt 2, charged once.
    // Attempt 1 voided by the retry's closing void, or (a slow restart) expired first: no post or void.
    expect(['voided', 'pending']).toContain(attempts[0]!.state);
    expect(states(attempts.slice(1))).toEqual(['posted', 'none']);
    expect(postedSum(attempts)).toBe(BigInt(retry.answer.fee!));
    expect(after.payerPosted - before.payerPosted).toBe(BigInt(retry.answer.fee!));
    const again = await exec(spin, { ...body, requestId: 'c-1' });
    expect(Buffer.from(again.receipt!.encoded!)).toEqual(Buffer.from(retry.answer.receipt!.encoded!));
  } else {
    // In doubt (the attempt line did not reach the disk before the kill): refused, not charged.
    expect(retry.status).toMatch(/^ABORTED: REQUEST_IN_DOUBT: /);
    expect(postedSum(attempts)).toBe(0n);
    expect(after.payerPosted).toBe(before.payerPosted);
  }
  expect(after.feePosted - before.feePosted).toBe(after.payerPosted - before.payerPosted);
  expect(await doomed).not.toBe('answered');
});

test('c. SIGKILL mid-run, restart, no retry: Caesar expires the reservation at run timeout + grace; a later retry runs once, charged once', async () => {
  const body = { export: 'spin', fuelLimit: UNTIL_TIMEOUT };
  const before = await money();
  const { doomed } = await killMidRun('c-2', body);
  await startCatalog();
  await nothingReserved(); // expired by Caesar: the killed attempt charged nothing
  expect(await money()).toEqual(before);
  expect(states(await attemptsIn('c-2'))).toEqual(['pending', 'none', 'none']); // never posted nor voided: expired

  const retry = await exec(spin, { ...body, requestId: 'c-2' }).then(
    (a) => ({ answer: a, status: 'OK' }),
    (err: unknown) => ({ answer: null, status: isRpcError(err) ? `${statusName(err.code)}: ${err.message}` : String(err) }),
  );
  const attempts = await attemptsIn('c-2');
  const after = await money();
  if (retry.answer !== null) {
    expect(catalog.RunOutcome[retry.answer.outcome!]).toBe('RUN_TIMEOUT');
    expect(states(attempts)).toEqual(['pending', 'posted', 'none']);
    expect(after.payerPosted - before.payerPosted).toBe(BigInt(retry.answer.fee!));
  } else {
    expect(retry.status).toMatch(/^ABORTED: REQUEST_IN_DOUBT: /);
    expect(after.payerPosted).toBe(before.payerPosted);
  }
  expect(after.payerPending).toBe(0n);
  expect(await doomed).not.toBe('answered');
});

test('execute_stream with a request id: a second stream replays the stored answer (output, then the same result), runs and charges nothing; another body is REQUEST_ID_REUSED', async () => {
  const req = { programHash: hello, fuelLimit: 100_000_000, requestId: 's-1' };
  const before = await money();
  const first = await stream(req);
  expect(first.status).toBe('OK');
  const out = (s: { events: catalog.ExecuteStreamEvent[] }): string => Buffer.concat(s.events.filter((e) => e.stdout && e.stdout.length > 0).map((e) => Buffer.from(e.stdout!))).toString();
  expect(out(first)).toBe('hello\n');
  const result = first.events[first.events.length - 1]!.result!;
  expect(catalog.RunOutcome[result.outcome!]).toMatch(/^RUN_(OUT_OF_FUEL|TIMEOUT)$/);
  const runsAfterFirst = await runs();

  const replay = await stream(req);
  expect(replay.status).toBe('OK');
  expect(replay.events.map((e) => (e.result ? 'result' : e.stdout?.length ? 'stdout' : 'stderr'))).toEqual(['stdout', 'result']);
  expect(out(replay)).toBe('hello\n');
  expect(Buffer.from(replay.events[1]!.result!.receipt!.encoded!)).toEqual(Buffer.from(result.receipt!.encoded!));
  // The same request through catalog/execute is the same request: the stored answer.
  expect(Buffer.from((await exec(hello, { fuelLimit: 100_000_000, requestId: 's-1' })).receipt!.encoded!)).toEqual(Buffer.from(result.receipt!.encoded!));
  const reused = await stream({ ...req, fuelLimit: 100_000_001 });
  expect([reused.status, reused.events]).toEqual([expect.stringMatching(/^ALREADY_EXISTS: REQUEST_ID_REUSED: /), []]);
  expect(await runs()).toBe(runsAfterFirst);
  const after = await money();
  expect([after.payerPosted - before.payerPosted, after.payerPending]).toEqual([BigInt(result.fee!), 0n]);
  expect(states(await attemptsIn('s-1'))).toEqual(['posted', 'none', 'none']);
});

test('execute_stream: a caller that dropped its stream mid-run and streams again under the id gets that run\'s answer: one run, one charge', async () => {
  const req = { programHash: hello, fuelLimit: UNTIL_TIMEOUT, requestId: 's-2' };
  const before = await money();
  const runsBefore = await runs();
  // The first stream: "hello\n" arrives, then the caller goes away (the run holds the worker until the timeout).
  for await (const ev of user.serverStream(C.executeStream, { payerAccountId: PAYER, ...req }, { timeoutMs: 60_000 })) {
    expect(Buffer.from(ev.stdout!).toString()).toBe('hello\n');
    break;
  }
  expect((await user.call(C.stats, {})).inFlight).toBe(1); // the run goes on without its caller
  const retry = await stream(req);
  expect(retry.status).toBe('OK');
  expect(retry.events.map((e) => (e.result ? 'result' : e.stdout?.length ? 'stdout' : 'stderr'))).toEqual(['stdout', 'result']);
  const result = retry.events[1]!.result!;
  expect([catalog.RunOutcome[result.outcome!], result.fee]).toEqual(['RUN_TIMEOUT', String(BigInt(UNTIL_TIMEOUT) * PRICE)]);
  expect(await runs()).toBe(runsBefore + 1);
  await nothingReserved();
  const after = await money();
  expect(after.payerPosted - before.payerPosted).toBe(BigInt(result.fee!));
  expect(states(await attemptsIn('s-2'))).toEqual(['posted', 'none', 'none']);
});

// Rewards and slashing across real processes (issue "Earned certificates": rewards, slashing;
// issue "HyperMesh": evidence reported to Caesar): `trustchain serve`, `caesar serve` with the
// HyperMesh genesis, mint/burn accounts and one staking account per validator (created, funded and
// staked by the admin), 3 honest `hypermesh serve` validators and 1 Byzantine validator (the real
// validator with an equivocating outbox: tests-e2e/fixtures/byzantine-hypermesh.js) that signs
// two votes and two proposals for one view, and never reports to Caesar.
//
// Consensus stays safe (the honest three hold identical blocks); the honest validators detect the
// equivocations, store the evidence and report it to caesar/slash, which burns the Byzantine
// validator's stake (stake_of, supply); every committed block up to a height is rewarded exactly
// once (caesar/reward_block by f+1 reporters per height: the honest backup covers the heights
// whose first reporter is the Byzantine one), and the honest validators' accounts are paid.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList } from '@stoq/core';
import { caesar, hypermesh } from '@stoq/protos';
import { DnsSrvResolver, RpcClient, metricsMethod } from '@stoq/rpc';
import { CAESAR_BIN, HYPERMESH_BIN, StoqProcess, runStoq, runTrustChain, until, writeServiceConfig, type LogLine, type TrustChainEndpoints } from './support';

jest.setTimeout(300_000);

const N = 4;
const BYZANTINE = 3; // genesis id of hypermesh-4
const LEDGER = 1;
const MINT = '900000001';
const BURN = '900000002';
const ACCOUNTS = ['201', '202', '203', '204']; // staking for hypermesh-1 … hypermesh-4
const FUNDS = 10_000n;
const STAKE = 5_000n;
const REWARD = 1_000n;
const BYZANTINE_BIN = join(__dirname, '..', 'fixtures', 'byzantine-hypermesh.js');
const C = caesar.CaesarMethods;
const H = hypermesh.ConsensusMethods;

let dir: string;
let tcDir: string;
let tc: StoqProcess;
let caesarProc: StoqProcess;
const validators: StoqProcess[] = [];
const homes: string[] = [];
let genesis: string;
let adminTransport: StoqTransport;
let admin: RpcClient;
const num = (v: number | { toString(): string } | null | undefined): number => (v === null || v === undefined ? 0 : Number(v.toString()));
const addressOf = (i: number): string => validators[i]!.lines.find((l) => l.msg === 'hypermesh validator ready')!.stoq as string;
const honest = [0, 1, 2];

async function token(service: string): Promise<string> {
  const r = await runTrustChain(['token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], dir);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-slashing-e2e-'));
  tcDir = join(dir, 'trustchain');
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  const tcReady = (await tc.waitFor((l) => l.msg === 'trustchain serve ready')) as unknown as TrustChainEndpoints & Record<string, unknown>;

  for (let i = 0; i < N; i++) {
    const home = join(dir, `hypermesh-${i + 1}`);
    homes.push(home);
    writeServiceConfig(home, 'hypermesh.toml', `hypermesh-${i + 1}`, tcReady);
    const r = await runStoq(['enroll', '--config', 'hypermesh.toml'], home, { bin: HYPERMESH_BIN, env: { STOQ_JOIN_TOKEN: await token('hypermesh') } });
    expect(r.code).toBe(0);
  }
  genesis = join(dir, 'genesis.json');
  expect((await runStoq(['genesis', '--chain-id', 'slashing-e2e', '--out', genesis, ...homes.flatMap((h) => ['--config', join(h, 'hypermesh.toml')])], dir, { bin: HYPERMESH_BIN })).code).toBe(0);

  const caesarHome = join(dir, 'caesar');
  writeServiceConfig(caesarHome, 'caesar.toml', 'caesar-1', tcReady);
  caesarProc = StoqProcess.start(
    ['serve', '--config', 'caesar.toml', '--mint-account', MINT, '--burn-account', BURN, '--hypermesh-genesis', genesis, '--reward-per-block', String(REWARD), ...ACCOUNTS.flatMap((a, i) => ['--validator-account', `hypermesh-${i + 1}=${a}`])],
    caesarHome,
    { bin: CAESAR_BIN, env: { STOQ_JOIN_TOKEN: await token('caesar') } },
  );
  await caesarProc.waitFor((l) => l.msg === 'caesar serving');

  const adminDir = join(tcDir, 'admin');
  const leaf = parseHybridCertificate(pemToDerList(readFileSync(join(adminDir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain), 'utf8'), 'CERTIFICATE', 'cert')[0]!);
  const identity = await NodeIdentity.loadOrCreate({ dataDir: adminDir, service: 'admin', instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
  adminTransport = StoqTransport.create({ identity, bind: '[::1]:0' });
  admin = new RpcClient({ connector: (ep, o) => adminTransport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }), resolver: new DnsSrvResolver({ server: tcReady.dns }) });
  await until('caesar registered in DNS', async () => ((await admin.call(C.whoAmI, {}, { timeoutMs: 5000 })).service === 'admin' ? true : null));

  // The admin creates the supply accounts and one account per validator, funds and stakes them.
  const created = await admin.call(C.createAccounts, {
    accounts: [{ id: MINT, ledger: LEDGER, code: 1, flags: 1 << 14 }, { id: BURN, ledger: LEDGER, code: 1, flags: 1 << 15 }, ...ACCOUNTS.map((id) => ({ id, ledger: LEDGER, code: 1 }))],
  });
  expect(created.results).toEqual(Array(2 + N).fill(caesar.CreateAccountResult.CREATE_ACCOUNT_OK));
  await admin.call(C.createTransfers, { transfers: ACCOUNTS.map((id, i) => ({ id: String(i + 1), debitAccountId: MINT, creditAccountId: id, amount: String(FUNDS), ledger: LEDGER, code: 1 })) });
  for (const [i, id] of ACCOUNTS.entries()) {
    expect(await admin.call(C.stake, { ownerAccountId: id, amount: String(STAKE), transferId: String(100 + i) })).toMatchObject({ result: caesar.StakingResult.STAKING_OK, stake: { bonded: String(STAKE) } });
  }

  for (let i = 0; i < N; i++) {
    // Votes broadcast to every validator (the honest ones and the Byzantine one alike), so that
    // this run exercises that path across processes too.
    const args = ['--config', 'hypermesh.toml', '--genesis', genesis, '--broadcast-votes'];
    validators.push(
      i === BYZANTINE
        ? StoqProcess.start([...args, '--vote-equivocations', '8', '--proposal-equivocations', '3'], homes[i]!, { bin: BYZANTINE_BIN })
        : startHonest(i),
    );
  }
  await Promise.all(validators.map((v) => v.waitFor((l) => l.msg === 'hypermesh validator ready')));
});

afterAll(async () => {
  admin?.close();
  await adminTransport?.close();
  await Promise.all(validators.map((v) => v.stop()));
  await caesarProc?.stop();
  await tc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const logs = (p: StoqProcess, msg: string): LogLine[] => p.lines.filter((l) => l.msg === msg);
function startHonest(i: number): StoqProcess {
  return StoqProcess.start(['serve', '--config', 'hypermesh.toml', '--genesis', genesis, '--reward-grace-ms', '2000', '--broadcast-votes'], homes[i]!, { bin: HYPERMESH_BIN });
}
const appliedHeights = (): number[] => logs(caesarProc, 'caesar reward_block').filter((l) => l.outcome === 'applied').map((l) => Number(l.height));
async function heightOf(i: number): Promise<number> {
  return num((await admin.call(H.status, {}, { timeoutMs: 10_000, target: addressOf(i) })).committedHeight);
}
async function allRewardedUpTo(upTo: number): Promise<void> {
  await until(`blocks 1..${upTo} rewarded`, async () => {
    const done = new Set(appliedHeights());
    for (let h = 1; h <= upTo; h++) if (!done.has(h)) return null;
    return true;
  }, 90_000);
}

test('the Byzantine validator equivocates; the honest ones stay on one chain, report the evidence, and Caesar burns its stake', async () => {
  // The harness did equivocate, in both kinds.
  await until('votes and proposals equivocated', async () => {
    const kinds = new Set(logs(validators[BYZANTINE]!, 'byzantine: equivocated').map((l) => l.kind));
    return kinds.has('vote') && kinds.has('proposal') ? true : null;
  }, 60_000);
  // Evidence detected by honest validators, stored, and reported until Caesar applied it.
  const reported = await until('evidence of both kinds applied by Caesar', async () => {
    const lines = honest.flatMap((i) => logs(validators[i]!, 'equivocation evidence reported to Caesar'));
    const applied = lines.filter((l) => l.outcome === 'APPLIED');
    const kinds = new Set(applied.map((l) => String(l.offence).split(':')[0]));
    return kinds.has('vote') && kinds.has('proposal') ? lines : null;
  }, 90_000);
  for (const l of reported) {
    expect(String(l.offence)).toMatch(new RegExp(`^(vote|proposal):${BYZANTINE}:\\d+$`)); // only the Byzantine one is accused
    expect(['APPLIED', 'ALREADY_APPLIED']).toContain(l.outcome);
  }
  const slashes = logs(caesarProc, 'caesar slash');
  expect(slashes.length).toBeGreaterThanOrEqual(2);
  expect(new Set(slashes.map((l) => l.validator))).toEqual(new Set(['hypermesh-4']));

  // Its stake is burnt, and only its stake: what it lost is what the supply burnt.
  const stakeOf = async (i: number): Promise<bigint> => BigInt((await admin.call(C.stakeOf, { ownerAccountId: ACCOUNTS[i]! }, { timeoutMs: 10_000 })).total ?? '0');
  const offender = await stakeOf(BYZANTINE);
  expect(offender).toBeLessThan(STAKE);
  for (const i of honest) expect(await stakeOf(i)).toBe(STAKE);
  // Reports may still be in flight: poll until the books agree.
  await until('burnt = the stake the offender lost', async () => {
    const [supply, lost] = [await admin.call(C.supply, { ledger: LEDGER }, { timeoutMs: 10_000 }), STAKE - (await stakeOf(BYZANTINE))];
    return BigInt(supply.burnt ?? '0') === lost ? true : null;
  });

  // Safety: the honest three hold the same block at every height up to the lowest tip.
  const lowestTip = async (): Promise<number> => Math.min(...(await Promise.all(honest.map(async (i) => num((await admin.call(H.status, {}, { timeoutMs: 10_000, target: addressOf(i) })).committedHeight)))));
  const top = await until('the honest validators commit past height 12', async () => {
    const t = await lowestTip();
    return t > 12 ? t : null;
  }, 60_000);
  for (let h = 1; h <= top; h++) {
    const hashes = await Promise.all(honest.map(async (i) => (await admin.call(H.block, { height: h }, { timeoutMs: 10_000, target: addressOf(i) })).hash));
    expect(new Set(hashes).size).toBe(1);
  }
});

test('every committed block is rewarded exactly once (also those whose first reporter is the Byzantine validator); honest accounts are paid', async () => {
  const upTo = await until('validator 0 commits past height 20', async () => {
    const h = num((await admin.call(H.status, {}, { timeoutMs: 10_000, target: addressOf(0) })).committedHeight);
    return h > 20 ? h : null;
  }, 60_000);
  // Caesar logs each reward_block with the block's height and outcome.
  await allRewardedUpTo(upTo);
  const heights = appliedHeights();
  expect(heights.length).toBe(new Set(heights).size); // never twice
  const byzantineFirst = heights.filter((h) => h % N === BYZANTINE && h <= upTo);
  expect(byzantineFirst.length).toBeGreaterThan(0); // covered by the honest backup (rank 1)

  // Minted: the funding plus REWARD per rewarded block (the split sums to REWARD exactly). Rewards
  // keep coming: poll until a read of the supply falls between two of them.
  await until('minted = funding + REWARD per rewarded block', async () => {
    const supply = await admin.call(C.supply, { ledger: LEDGER }, { timeoutMs: 10_000 });
    return BigInt(supply.minted ?? '0') === FUNDS * BigInt(N) + REWARD * BigInt(new Set(appliedHeights()).size) ? true : null;
  });
  // The reporters' metrics (NGauge): every honest validator reported, and its backlog is bounded by
  // the grace period; the second reporters' calls were answered ALREADY_APPLIED (Caesar logs those at debug).
  let alreadyApplied = 0;
  for (const i of honest) {
    const m = await admin.call(metricsMethod('hypermesh'), {}, { timeoutMs: 10_000, target: addressOf(i) });
    const sample = (name: string, label?: string): number => Number((m.serviceMetrics ?? []).find((x) => x.name === name && (label === undefined || Object.values(x.labels ?? {}).includes(label)))?.value ?? -1);
    expect(sample('hypermesh_caesar_reward_reports_total', 'applied') + sample('hypermesh_caesar_reward_reports_total', 'already_applied')).toBeGreaterThan(0);
    alreadyApplied += Math.max(0, sample('hypermesh_caesar_reward_reports_total', 'already_applied'));
    expect(sample('hypermesh_caesar_reward_cursor')).toBeGreaterThan(0);
    expect(sample('hypermesh_caesar_evidence', 'pending')).toBe(0);
  }
  expect(alreadyApplied).toBeGreaterThan(0);
  const accounts = (await admin.call(C.lookupAccounts, { ids: ACCOUNTS }, { timeoutMs: 10_000 })).accounts ?? [];
  for (const i of honest) {
    const a = accounts.find((x) => x.id === ACCOUNTS[i]);
    expect(BigInt(a?.creditsPosted ?? '0')).toBeGreaterThan(FUNDS); // funding + block rewards
  }
});

test('an honest validator killed with -9: its heights are reported by its backup meanwhile; restarted, it resumes from its stored cursor; every block still rewarded once', async () => {
  const victim = 1;
  validators[victim]!.child.kill('SIGKILL');
  await validators[victim]!.exited;
  // Two honest validators and the (now well-behaved) Byzantine one keep committing.
  const from = await heightOf(0);
  const upTo = await until('commits go on without it', async () => {
    const h = await heightOf(0);
    return h >= from + 12 ? h : null;
  }, 60_000);
  await allRewardedUpTo(upTo); // its first-rank heights (h mod 4 = 1) by validator 2, a grace period later
  validators[victim] = startHonest(victim);
  const started = await validators[victim]!.waitFor((l) => l.msg === 'caesar reward reporter started');
  expect(Number(started.cursor)).toBeGreaterThan(0); // from its store, not from 0
  await validators[victim]!.waitFor((l) => l.msg === 'hypermesh validator ready');
  await until('the restarted validator settles its backlog', async () => {
    const m = await admin.call(metricsMethod('hypermesh'), {}, { timeoutMs: 10_000, target: addressOf(victim) });
    const cursor = Number((m.serviceMetrics ?? []).find((x) => x.name === 'hypermesh_caesar_reward_cursor')?.value ?? 0);
    return cursor >= upTo ? true : null;
  }, 90_000);
  const heights = appliedHeights();
  expect(heights.length).toBe(new Set(heights).size); // never twice
});

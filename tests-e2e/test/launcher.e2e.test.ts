// `npm start` (scripts/start.mjs) as a user runs it, in its own folder and ports: the ecosystem
// comes up (TrustChain, stoq node, Caesar, four HyperMesh validators, NGauge), `stoq status` and `stoq logs` read it, an
// operator's `kill -TERM` of a service is a stop (restarted, not counted as a crash), a service
// killed with SIGKILL is a crash (restarted with backoff), a restarted service whose certificate
// is gone gets a new join token and enrolls again, Ctrl-C stops everything with exit 0 and no
// process left behind, the next start reuses the identities instead of enrolling again, and a
// service that crashes five times within a minute stops the launcher with its last log lines.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, pidOfService, processesOfHome as processesOf, startLauncher } from './ecosystem-support';
import { runStoq, runTrustChain } from './support';

jest.setTimeout(180_000);

const OFFSET = 20_000;
let base: string;
let home: string;

/** Starts the launcher; `lines` collects its stderr (progress, restarts). */
const launcher = () => startLauncher({ home, offset: OFFSET });

/** PIDs of processes whose command line mentions the test's ecosystem folder. */
const processesOfHome = (): number[] => processesOf(home);

beforeAll(() => {
  // The layout of a checkout after `npm start`: <base>/.stoq/ecosystem, so that commands run in
  // <base> find it with no options, as they do in the repository.
  base = mkdtempSync(join(tmpdir(), 'stoq-launcher-e2e-'));
  home = join(base, '.stoq', 'ecosystem');
});
afterAll(() => {
  for (const pid of processesOfHome()) process.kill(pid, 'SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

test('up, status, logs, restart after SIGKILL, clean Ctrl-C, and a second start with the same identities', async () => {
  const first = launcher();
  await first.waitFor(/ecosystem up/);
  // Its status table: every instance with its health, certificate fingerprint and expiry.
  await first.waitFor(/9 of 9 instances serving/);
  const table = first.lines.filter((l) => / SERVING +sha256:[0-9a-f]+… +\d{4}-\d\d-\d\dT/.test(l));
  expect(table.map((l) => l.trim().split(/ +/)[0]).sort()).toEqual(['caesar', 'catalog', 'hypermesh', 'hypermesh', 'hypermesh', 'hypermesh', 'ngauge', 'node', 'trustchain']);
  expect(first.lines.some((l) => /^ +SERVICE +INSTANCE +ADDRESS +HEALTH +CERTIFICATE +EXPIRES$/.test(l))).toBe(true);
  // A second launcher on the same folder is refused before it builds or touches anything.
  const again = spawnSync(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--home', home, '--port-offset', String(OFFSET), '--fresh', '--yes'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(again.status).toBe(1);
  expect(again.stderr).toMatch(/an ecosystem is already running from .* \(launcher pid \d+\); stop it first/);
  expect(existsSync(join(home, 'trustchain'))).toBe(true);
  // No --dns, no --identity: the ecosystem folder and its cli identity are found from <base>.
  const plainEnv = { STOQ_DNS: '', STOQ_IDENTITY: '' };
  const status = await runStoq(['status', '--json'], base, { env: plainEnv });
  expect(status.stderr).toBe('');
  const rows = (JSON.parse(status.stdout) as { instances: { service: string; health: string }[] }).instances;
  expect(rows.map((r) => `${r.service} ${r.health}`).sort()).toEqual(['caesar SERVING', 'catalog SERVING', 'hypermesh SERVING', 'hypermesh SERVING', 'hypermesh SERVING', 'hypermesh SERVING', 'ngauge SERVING', 'node SERVING', 'trustchain SERVING']);
  const cli = readFileSync(join(home, 'cli', 'identity', 'cert.pem'), 'utf8');
  // stoq call and stoq methods by name, with nothing configured: the ecosystem's DNS, as `cli`.
  const echo = await runStoq(['call', 'node/echo', '--data', '{"text":"by name"}'], base, { env: plainEnv });
  expect(echo.stderr).toBe('');
  expect(JSON.parse(echo.stdout)).toMatchObject({ text: 'by name', instance: 'node-1' });
  // Knowing only TrustChain's STOQ address: the same records through trustchain/resolve_dns.
  const tcAddress = (JSON.parse(readFileSync(join(home, 'trustchain', 'serve.json'), 'utf8')) as { stoq: string }).stoq;
  const viaTc = await runStoq(['call', 'node/echo', '--trustchain', tcAddress, '--identity', join(home, 'cli'), '--data', '{"text":"via trustchain"}'], base, { env: plainEnv });
  expect(viaTc.stderr).toBe('');
  expect(JSON.parse(viaTc.stdout)).toMatchObject({ text: 'via trustchain', instance: 'node-1' });
  const methods = await runStoq(['methods', 'caesar'], base, { env: plainEnv });
  expect(methods.stderr).toBe('');
  expect(methods.stdout).toMatch(/caesar\/create_transfers\(stoq\.caesar\.v1\.CreateTransfersRequest\)/);
  // The administrator only when asked: `cli` may not list certificates, --admin (the ecosystem's
  // admin/admin-cli, enrolled with its own admin token, not TrustChain's own admin) may.
  const asCli = await runStoq(['call', 'trustchain/list_certificates', '--data', '{}'], base, { env: plainEnv });
  expect(asCli.code).not.toBe(0);
  expect(asCli.stderr).toMatch(/PERMISSION_DENIED/);
  const asAdmin = await runStoq(['call', 'trustchain/list_certificates', '--admin', '--data', '{"service":"admin"}'], base, { env: plainEnv });
  expect(asAdmin.stderr).toBe('');
  const admins = (JSON.parse(asAdmin.stdout) as { certificates: { instance: string; kind: string }[] }).certificates;
  expect(admins.map((c) => `${c.instance} ${c.kind}`).sort()).toEqual(['admin self', 'admin-cli enroll']);
  const adminCert = readFileSync(join(home, 'admin', 'identity', 'cert.pem'), 'utf8');

  // The typed client's example program, as a user runs it (examples/pay-with-caesar.mjs).
  const example = spawnSync(process.execPath, [join(ROOT, 'examples', 'pay-with-caesar.mjs')], { cwd: base, encoding: 'utf8', env: { ...process.env, ...plainEnv } });
  expect(example.stderr).toBe('');
  expect(example.status).toBe(0);
  const paid = JSON.parse(example.stdout) as { accounts: number[]; transfers: number[]; alice: string; bob: string; caesarInNGauge: string[] };
  expect(paid).toMatchObject({ accounts: [0, 0, 0], transfers: [0, 0], alice: '750', bob: '250' });

  // Catalog: a paid run, its fee in Caesar, the receipt verified (examples/pay-for-a-catalog-run.mjs).
  const ran = spawnSync(process.execPath, [join(ROOT, 'examples', 'pay-for-a-catalog-run.mjs')], { cwd: base, encoding: 'utf8', env: { ...process.env, ...plainEnv } });
  expect(ran.stderr).toBe('');
  expect(ran.status).toBe(0);
  const run = JSON.parse(ran.stdout) as { outcome: string; results: string[]; fee: string; receiptValid: boolean; payerBalance: string };
  expect(run).toMatchObject({ outcome: 'OK', results: ['42'], receiptValid: true });
  expect(BigInt(run.fee)).toBeGreaterThan(0n);
  expect(BigInt(run.payerBalance)).toBe(100000n - BigInt(run.fee));

  // The earned-certificate example (stake, four proofs, HyperMesh approval), then its audit by
  // `stoq verify-cert` with nothing configured: the ecosystem's DNS, identity and genesis.
  const earned = spawnSync(process.execPath, [join(ROOT, 'examples', 'earned-certificate.mjs')], { cwd: base, encoding: 'utf8', env: { ...process.env, ...plainEnv } });
  expect(earned.stderr).toBe('');
  expect(earned.status).toBe(0);
  const cert = JSON.parse(earned.stdout) as { file: string; approvedAtHeight: number };
  expect(cert.approvedAtHeight).toBeGreaterThan(0);
  const audit = await runStoq(['verify-cert', cert.file], base, { env: plainEnv });
  expect(audit.stderr).toBe('');
  expect(audit.stdout).toMatch(/ok\s+consensus_approval\s+block \d+/);
  expect(audit.code).toBe(0);

  // Every committed block is rewarded in Caesar now (a few log lines per block): the whole merged
  // log, not its last 200 lines, holds the services' ready lines.
  const logs = await runStoq(['logs', '-n', '1000000'], base);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toMatch(/INFO  trustchain\/trustchain-1: TrustChain serving/);
  expect(logs.stdout).toMatch(/INFO  ngauge\/ngauge-1: NGauge serving/);

  // An operator's `kill -TERM` is a deliberate stop, not a crash: the service exits 0, the
  // launcher reports it as stopped and restarts it, and counts nothing. Five of them in a row
  // (five crashes within a minute would stop the launcher)...
  const certBefore = readFileSync(join(home, 'node', 'identity', 'cert.pem'), 'utf8');
  for (let i = 1; i <= 5; i++) {
    const mark = first.lines.length;
    const pid = pidOfService(home, 'node');
    expect(pid).not.toBeNull();
    process.kill(pid!, 'SIGTERM');
    expect(await first.waitFor(/^stoq: node (stopped|exited)/, mark)).toBe('stoq: node stopped (exit 0), not by the launcher; restarting in 1 s');
    await first.waitFor(/^stoq: node restarted/, mark);
  }
  expect(first.lines.filter((l) => /exited unexpectedly|crashed/.test(l))).toEqual([]);
  // ...so the next crash (kill -9) is the first one counted: restarted after the first backoff step.
  const mark = first.lines.length;
  process.kill(pidOfService(home, 'node')!, 'SIGKILL');
  expect(await first.waitFor(/^stoq: node (stopped|exited)/, mark)).toBe('stoq: node exited unexpectedly (SIGKILL); restarting in 1 s');
  await first.waitFor(/^stoq: node restarted/, mark);
  expect(await runStoq(['call', 'node/echo', '--data', '{"text":"back"}'], base, { env: plainEnv })).toMatchObject({ code: 0 });

  // A restart does what a start does: a service whose identity is no longer usable (its
  // certificate gone here; expired while it was down is the same check, scripts/start.mjs
  // enrolled()) gets a new join token and enrolls again. Catalog's certificate is moved away (its
  // keys stay) and its used token deleted; an operator's stop restarts it.
  const catalogCert = readFileSync(join(home, 'catalog', 'identity', 'cert.pem'), 'utf8');
  renameSync(join(home, 'catalog', 'identity', 'cert.pem'), join(base, 'catalog-old.pem'));
  rmSync(join(home, 'catalog.token'), { force: true });
  const markCatalog = first.lines.length;
  process.kill(pidOfService(home, 'catalog')!, 'SIGTERM');
  await first.waitFor(/^stoq: catalog: its certificate is missing or expires within a minute; minted a new join token/, markCatalog);
  await first.waitFor(/^stoq: catalog restarted/, markCatalog);
  const catalogNew = readFileSync(join(home, 'catalog', 'identity', 'cert.pem'), 'utf8');
  expect(catalogNew).not.toBe(catalogCert);
  const fp = new X509Certificate(catalogNew).fingerprint256.replace(/:/g, '').toLowerCase();
  const shown = await runTrustChain(['certs', 'show', fp, '--json', '--data-dir', join(home, 'trustchain')], base);
  expect(shown.code).toBe(0);
  expect(JSON.parse(shown.stdout)).toMatchObject({ kind: 'enroll', service: 'catalog', instance: 'catalog-1', revoked: false });
  const catalogHealth = await runStoq(['call', 'catalog/health', '--data', '{}'], base, { env: plainEnv });
  expect([catalogHealth.code, catalogHealth.stderr]).toEqual([0, '']);

  // Ctrl-C (SIGINT to the terminal's process group): everything stops in reverse order, the
  // launcher exits 0, nothing is left running.
  const code = await first.interrupt();
  expect(code).toBe(0);
  expect(first.lines.filter((l) => l.startsWith('stoq: stopping'))).toEqual(['stoq: stopping ngauge', 'stoq: stopping catalog', 'stoq: stopping hypermesh-4', 'stoq: stopping hypermesh-3', 'stoq: stopping hypermesh-2', 'stoq: stopping hypermesh-1', 'stoq: stopping caesar', 'stoq: stopping node', 'stoq: stopping trustchain']);
  // The launcher reports how each service ended: exit 0 for every one, Catalog included, which
  // restarted seconds before while NGauge was scraping it (NGauge, stopped first, gave up its
  // handshake with the new Catalog; that connection used to keep Catalog's endpoint busy until
  // its 30 s idle timeout, past the launcher's 20 s, so Catalog ended by SIGKILL).
  const ends = ['ngauge', 'catalog', 'hypermesh-4', 'hypermesh-3', 'hypermesh-2', 'hypermesh-1', 'caesar', 'node', 'trustchain'].map((n) => `stoq: ${n} stopped (exit 0)`);
  expect(first.lines.filter((l) => / stopped \(exit 0\)$| did not stop cleanly/.test(l))).toEqual(ends);
  expect(processesOfHome()).toEqual([]);

  // The second start reuses the state: no new join token, the same node identity (the launcher's
  // restart above kept it too).
  const second = launcher();
  await second.waitFor(/ecosystem up/);
  expect(readFileSync(join(home, 'node', 'identity', 'cert.pem'), 'utf8')).toBe(certBefore);
  expect(readFileSync(join(home, 'cli', 'identity', 'cert.pem'), 'utf8')).toBe(cli);
  expect(readFileSync(join(home, 'admin', 'identity', 'cert.pem'), 'utf8')).toBe(adminCert);
  const code2 = await second.interrupt();
  expect(code2).toBe(0);
  expect(second.lines.filter((l) => / stopped \(exit 0\)$| did not stop cleanly/.test(l))).toEqual(ends);
  expect(processesOfHome()).toEqual([]);
  expect(existsSync(join(home, 'launcher.pid'))).toBe(false);
  // --fresh deletes everything only when confirmed: without a terminal to ask on, it needs --yes.
  const unconfirmed = spawnSync(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--home', home, '--port-offset', String(OFFSET), '--fresh'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(unconfirmed.status).toBe(2);
  expect(unconfirmed.stderr).toMatch(/--fresh deletes .*add --yes to confirm\. Nothing was deleted\./);
  expect(readFileSync(join(home, 'node', 'identity', 'cert.pem'), 'utf8')).toBe(certBefore);
});

test('five crashes of a service within a minute stop the launcher, with that service’s last log lines, and nothing left running', async () => {
  const third = launcher();
  await third.waitFor(/ecosystem up/);
  const exited = new Promise<number | null>((resolve) => third.child.once('exit', (code) => resolve(code)));
  // kill -9 the node each time it is back until the launcher gives up: every crash is reported
  // with the next backoff (1, 2, 4, 8 s) and the fifth within the minute ends it.
  let gaveUp: string | null = null;
  while (gaveUp === null) {
    const mark = third.lines.length;
    process.kill(pidOfService(home, 'node')!, 'SIGKILL');
    const next = await third.waitFor(/^stoq: node (restarted|crashed \d+ times within a minute)/, mark);
    if (next.includes('crashed')) gaveUp = next;
  }
  const crashes = third.lines.filter((l) => l.startsWith('stoq: node exited unexpectedly'));
  expect(crashes.map((l) => /restarting in (\d+) s$/.exec(l)?.[1])).toEqual(['1', '2', '4', '8']);
  // (A restart that itself fails before the node is ready counts as a crash too; its reason is
  // printed for the record. One cause was found and fixed: stoq node's connection log read its
  // own result before runService returned, so a scrape arriving during start-up killed it.)
  const failedRestarts = crashes.filter((l) => !l.includes('(SIGKILL)'));
  if (failedRestarts.length > 0) process.stdout.write(`launcher test: restarts that failed before the node was ready:\n${failedRestarts.join('\n')}\n`);
  expect(gaveUp).toMatch(/^stoq: node crashed 5 times within a minute \(last: .*\); stopping\. Its log ends:$/);
  expect(await exited).toBe(1);
  // Its log's last lines follow (the node's own pino lines), then every service stopped.
  const after = third.lines.slice(third.lines.indexOf(gaveUp) + 1);
  expect(after.findIndex((l) => !l.startsWith('  '))).toBeGreaterThan(0);
  expect(after.filter((l) => l.startsWith('  ')).some((l) => /"instance":"node-1"/.test(l))).toBe(true);
  expect(processesOfHome()).toEqual([]);
  expect(existsSync(join(home, 'launcher.pid'))).toBe(false);
});

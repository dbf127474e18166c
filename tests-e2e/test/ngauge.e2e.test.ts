// NGauge across real processes: `trustchain serve`, then `ngauge` enrolling with a join token.
// NGauge finds TrustChain (and itself) through TrustChain DNS's service enumeration, scrapes
// both over STOQ every 500 ms, exposes Prometheus text that `promtool check metrics` accepts,
// and a real Prometheus (Debian's package) scrapes it and answers a query with our series; its
// dashboard is driven in Debian's Chromium through playwright-core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { NGAUGE_BIN, StoqProcess, runStoq, runTrustChain, writeServiceConfig, type TrustChainEndpoints, until } from './support';

jest.setTimeout(120_000);

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
/** Screenshots of the dashboard tests (ignored by git). */
const ARTIFACTS = join(__dirname, '..', 'artifacts');

let dir: string;
let tcDir: string;
let tcReady: Record<string, unknown>;
let tc: StoqProcess;
let ngauge: StoqProcess;
let http: string;


async function get(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

async function token(service: string): Promise<string> {
  const r = await runTrustChain(['token', 'create', '--service', service, '--ttl', '10m', '--data-dir', tcDir], dir);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

/** A directory with a stoq.toml-style config for an instance enrolling with this TrustChain. */
function serviceHome(name: string, instance: string, file: string): string {
  const home = join(dir, name);
  writeServiceConfig(home, file, instance, tcReady as unknown as TrustChainEndpoints);
  return home;
}

/** The scheduled time of the last scrape of `instance` that found it up (NGauge's clock). */
async function lastUpScrapeAt(instance: string): Promise<number> {
  const t = JSON.parse(await get(`http://${http}/api/v1/targets`)) as { targets: { instance: string; up: boolean; lastScrapeAt: number }[] };
  const row = t.targets.find((x) => x.instance === instance && x.up);
  if (!row) throw new Error(`${instance} is not up in NGauge`);
  return row.lastScrapeAt;
}

/** When NGauge's ServiceDown for `instance` fired (its clock), once it has. */
async function serviceDownFiredAt(instance: string): Promise<number | null> {
  const a = JSON.parse(await get(`http://${http}/api/v1/alerts`)) as { active: { alert: string; state: string; labels: Record<string, string>; firedAt: number }[] };
  return a.active.find((x) => x.alert === 'ServiceDown' && x.state === 'firing' && x.labels['instance'] === instance)?.firedAt ?? null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-ngauge-e2e-'));
  tcDir = join(dir, 'trustchain');
  tc = StoqProcess.trustchain(['serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0'], dir);
  tcReady = await tc.waitFor((l) => l.msg === 'trustchain serve ready');
  const home = serviceHome('ngauge', 'ngauge-1', 'ngauge.toml');
  writeFileSync(join(home, 'alerts.yaml'), 'rules:\n  - alert: ServiceDown\n    kind: down\n    for: 1s\n    severity: critical\n');
  ngauge = StoqProcess.start(['--config', 'ngauge.toml', '--http', '[::1]:0', '--interval-ms', '500', '--rules', 'alerts.yaml'], home, { bin: NGAUGE_BIN, env: { STOQ_JOIN_TOKEN: await token('ngauge') } });
  http = (await ngauge.waitFor((l) => l.msg === 'NGauge serving')).http as string;
});

afterAll(async () => {
  expect(await ngauge.stop()).toBe(0);
  expect(await tc.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

test('finds TrustChain and itself through DNS and scrapes both over STOQ', async () => {
  const text = await until('up for trustchain and ngauge', async () => {
    const t = await get(`http://${http}/metrics`);
    return /^up\{instance="[^"]+",service="trustchain"\} 1$/m.test(t) && /^up\{instance="ngauge-1",service="ngauge"\} 1$/m.test(t) ? t : null;
  });
  expect(text).toMatch(/^stoq_rpc_server_started_total\{instance="[^"]+",method="trustchain\/health",service="trustchain"\} \d+$/m);
  // Service metrics: the process ones every service publishes, and TrustChain's own.
  expect(text).toMatch(/^process_resident_memory_bytes\{instance="ngauge-1",service="ngauge"\} \d+$/m);
  expect(text).toMatch(/^stoq_certificate_expiry_timestamp_seconds\{instance="[^"]+",service="trustchain"\} \d+$/m);
  expect(text).toMatch(/^trustchain_ct_tree_size\{instance="[^"]+",service="trustchain"\} [1-9]\d*$/m);
  expect(text).toMatch(/^trustchain_dns_queries_total\{instance="[^"]+",service="trustchain",transport="udp"\} [1-9]\d*$/m);
  expect(text).toContain('# TYPE trustchain_certificates_issued_total counter');
  expect(text).toMatch(/^stoq_rpc_server_handling_seconds_bucket\{instance="[^"]+",le="\+Inf",method="trustchain\/metrics",service="trustchain"\} \d+$/m);
  const targets = JSON.parse(await get(`http://${http}/api/v1/targets`)) as { targets: { service: string; up: boolean }[] };
  expect(targets.targets.filter((t) => t.service !== 'node').map((t) => `${t.service} ${t.up}`).sort()).toEqual(['ngauge true', 'trustchain true']);
  const range = JSON.parse(await get(`http://${http}/api/v1/query_range?name=up&service=trustchain`)) as { series: { samples: { t: number }[] }[] };
  const ts = range.series[0]!.samples.map((s) => s.t);
  expect(ts.length).toBeGreaterThanOrEqual(1);
  for (let i = 1; i < ts.length; i++) expect((ts[i]! - ts[i - 1]!) % 500).toBe(0); // on the scrape grid
  expect((await fetch(`http://${http}/api/v1/query_range?name=1bad`)).status).toBe(400);
});

test('ngauge/query, ngauge/targets and ngauge/alerts over STOQ, called by name', async () => {
  const admin = join(tcDir, 'admin');
  const dns = tcReady.dns as string;
  const targets = await runStoq(['call', 'ngauge/targets', '--dns', dns, '--identity', admin], dir);
  expect(targets.stderr).toBe('');
  const t = JSON.parse(targets.stdout) as { targets: { service: string; up: boolean }[] };
  expect(t.targets.filter((x) => x.service === 'trustchain').map((x) => x.up)).toEqual([true]);
  const q = await runStoq(['call', 'ngauge/query', '--dns', dns, '--identity', admin, '--data', '{"name":"up","match":[{"name":"service","value":"trustchain"}]}'], dir);
  expect(q.stderr).toBe('');
  const series = (JSON.parse(q.stdout) as { series: { samples: { v: number }[] }[] }).series;
  expect(series).toHaveLength(1);
  expect(series[0]!.samples.length).toBeGreaterThan(0);
  const bad = await runStoq(['call', 'ngauge/query', '--dns', dns, '--identity', admin, '--data', '{"name":"1x"}'], dir);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/INVALID_ARGUMENT.*not a metric name/);
  const alerts = await runStoq(['call', 'ngauge/alerts', '--dns', dns, '--identity', admin], dir);
  expect(alerts.stderr).toBe('');
});

test('stoq status: every registered instance with its health and certificate, from TrustChain DNS', async () => {
  const admin = join(tcDir, 'admin');
  const dns = tcReady.dns as string;
  const json = await runStoq(['status', '--dns', dns, '--identity', admin, '--json'], dir);
  expect(json.stderr).toBe('');
  const rows = (JSON.parse(json.stdout) as { instances: { service: string; instance: string; health: string; fingerprint: string; notAfter: string }[] }).instances;
  const mine = rows.filter((r) => r.service === 'trustchain' || r.service === 'ngauge');
  expect(mine.map((r) => `${r.service} ${r.instance} ${r.health}`)).toEqual(['ngauge ngauge-1 SERVING', `trustchain ${mine[1]!.instance} SERVING`]);
  for (const r of mine) {
    expect(r.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(r.notAfter)).toBeGreaterThan(Date.now());
  }
  expect(json.code).toBe(rows.every((r) => r.health === 'SERVING') ? 0 : 1);
  const text = await runStoq(['status', '--dns', dns, '--identity', admin], dir);
  expect(text.stdout).toMatch(/^SERVICE\s+INSTANCE\s+ADDRESS\s+HEALTH\s+CERTIFICATE\s+EXPIRES$/m);
  expect(text.stdout).toMatch(/^ngauge\s+ngauge-1\s+\[::1\]:\d+\s+SERVING\s+sha256:[0-9a-f]{16}…/m);
  const usage = await runStoq(['status', '--identity', admin], join(dir, 'ngauge'), { env: { STOQ_DNS: '' } });
  expect(usage.code).toBe(2);
  expect(usage.stderr).toMatch(/give --dns/);
});

test('a service killed is down and its alert fires within 3 s; restarted, the alert resolves', async () => {
  const home = serviceHome('node', 'node-1', 'stoq.toml');
  const joinToken = await token('node');
  let node = StoqProcess.start(['node', '--config', 'stoq.toml'], home, { env: { STOQ_JOIN_TOKEN: joinToken } });
  await node.waitFor((l) => l.msg === 'stoq node listening');
  const targetUp = (up: boolean) => async () => {
    const t = JSON.parse(await get(`http://${http}/api/v1/targets`)) as { targets: { service: string; up: boolean }[] };
    return t.targets.some((x) => x.service === 'node' && x.up === up) ? true : null;
  };
  await until('node to be scraped', targetUp(true));
  const lastUp = await lastUpScrapeAt('node-1');
  node.child.kill('SIGKILL');
  await node.exited;
  const alerts = async () => JSON.parse(await get(`http://${http}/api/v1/alerts`)) as { active: { alert: string; state: string; labels: Record<string, string> }[]; resolved: { alert: string; labels: Record<string, string> }[] };
  const fired = await until('ServiceDown for node-1', () => serviceDownFiredAt('node-1'));
  // Within 3 s of the last scrape that found it up, on NGauge's own clock (interval 500 ms,
  // `for: 1s`): what NGauge decided, not how fast this machine is today.
  expect(fired - lastUp).toBeLessThanOrEqual(3000);
  // Restarted from its data dir (same identity, no new token), it is up again and the alert resolves.
  node = StoqProcess.start(['node', '--config', 'stoq.toml'], home);
  await node.waitFor((l) => l.msg === 'stoq node listening');
  await until('node up again', targetUp(true));
  await until('ServiceDown resolved', async () => ((await alerts()).resolved.some((a) => a.alert === 'ServiceDown' && a.labels['instance'] === 'node-1') ? true : null));
  expect((await alerts()).active.filter((a) => a.labels['instance'] === 'node-1')).toEqual([]);
  expect(ngauge.lines.some((l) => l.msg === 'alert firing' && l['instance'] === 'node-1')).toBe(true);
  expect(await node.stop()).toBe(0);
});

test('a rule file with a mistake is refused at start, naming the line', async () => {
  const home = join(dir, 'ngauge');
  writeFileSync(join(home, 'bad.yaml'), 'rules:\n  - alert: X\n    kind: down\n    for: soon\n');
  const r = spawnSync(process.execPath, [NGAUGE_BIN, '--config', 'ngauge.toml', '--rules', 'bad.yaml'], { cwd: home, encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('ngauge: bad.yaml: line 4: "for: soon" is not a duration; write e.g. 500ms, 30s, 5m, 2h, 1d');
});

(hasChromium ? test : test.skip)('the dashboard in Chromium: every service shown; a killed one turns red with its alert within 3 s, green after restart', async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`http://${http}/`);
    await page.waitForSelector('tr[data-service="trustchain"][data-state="up"]', { timeout: 10_000 });
    await page.waitForSelector('tr[data-service="ngauge"][data-state="up"]', { timeout: 10_000 });
    await page.waitForSelector('#chart-rate .uplot', { timeout: 10_000 });

    const home = serviceHome('node2', 'node-2', 'stoq.toml');
    let node = StoqProcess.start(['node', '--config', 'stoq.toml'], home, { env: { STOQ_JOIN_TOKEN: await token('node') } });
    await node.waitFor((l) => l.msg === 'stoq node listening');
    await page.waitForSelector('tr[data-instance="node-2"][data-state="up"]', { timeout: 10_000 });
    const lastUp = await lastUpScrapeAt('node-2');
    node.child.kill('SIGKILL');
    await node.exited;
    await page.waitForSelector('tr[data-instance="node-2"][data-state="down"]', { timeout: 30_000 });
    await page.waitForSelector('.alert[data-alert="ServiceDown"][data-instance="node-2"][data-state="firing"]', { timeout: 30_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'ngauge-dashboard-down.png'), fullPage: true });
    // The page shows what NGauge decided within 3 s of the last up scrape (NGauge's clock);
    // the page's own lag is the dashboard_lag benchmark's, not a pass condition here.
    expect((await serviceDownFiredAt('node-2'))! - lastUp).toBeLessThanOrEqual(3000);

    node = StoqProcess.start(['node', '--config', 'stoq.toml'], home);
    await node.waitFor((l) => l.msg === 'stoq node listening');
    await page.waitForSelector('tr[data-instance="node-2"][data-state="up"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('.alert[data-instance="node-2"]').length === 0, undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'ngauge-dashboard.png'), fullPage: true });
    expect(await node.stop()).toBe(0);

    // A phone's width: nothing but the table's own scroller overflows the page.
    await page.setViewportSize({ width: 390, height: 844 });
    // The charts are rebuilt for the new width by their ResizeObserver: wait for that, then check.
    await page.waitForFunction(() => [...document.querySelectorAll('.uplot canvas')].every((c) => c.getBoundingClientRect().right <= window.innerWidth), undefined, { timeout: 10_000 });
    const overflow = await page.evaluate(() =>
      [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap')).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).slice(0, 5),
    );
    expect(overflow).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'ngauge-dashboard-phone.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  expect(problems).toEqual([]);
});

(hasPromtool ? test : test.skip)('its /metrics passes promtool check metrics', async () => {
  const text = await get(`http://${http}/metrics`);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  expect(`${r.stdout}${r.stderr}`).toBe('');
  expect(r.status).toBe(0);
});

(hasPrometheus ? test : test.skip)('a real Prometheus scrapes it and its query API returns our series', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen({ host: '::1', port: 0 }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const promDir = join(dir, 'prometheus');
  mkdirSync(promDir);
  writeFileSync(join(promDir, 'prometheus.yml'), ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: ngauge', '    static_configs:', `      - targets: ['${http}']`, ''].join('\n'));
  const prom: ChildProcess = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=[::1]:${port}`], { stdio: 'ignore' });
  try {
    const result = await until(
      'Prometheus to return up{service="trustchain"}',
      async () => {
        const body = JSON.parse(await get(`http://[::1]:${port}/api/v1/query?query=${encodeURIComponent('up{service="trustchain"}')}`)) as { data: { result: { value: [number, string] }[] } };
        return body.data.result.length > 0 ? body.data.result : null;
      },
      60_000,
    );
    expect(result[0]!.value[1]).toBe('1');
  } finally {
    prom.kill('SIGTERM');
    await new Promise((r) => prom.once('exit', r));
  }
});

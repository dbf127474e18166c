#!/usr/bin/env node
// dashboard_lag: time from a change on a service to its appearance in NGauge's dashboard, in a
// real browser (Debian's Chromium through playwright-core).
//
//   node apps/ngauge/bench/dashboard-lag.mjs [--flips 20]
//
// One real STOQ server (a child process) flips its `<service>/health` between SERVING and
// NOT_SERVING on command, and the same state as `target_up` on an HTTP /metrics; NGauge's scrape
// loop (1 s interval) and HTTP API run in this process with that one target, and the page is open
// in Chromium. The peer, in the same run and on the same flips: Prometheus (Debian's package) with
// a 1 s scrape interval on that /metrics, its query API polled every 10 ms. Timed from the flip
// (acknowledged by the child) to the page's row showing the new state (a MutationObserver in the
// page), and to Prometheus' query
// answering it: the peer figure is the floor of any Prometheus-backed dashboard (Grafana adds its
// refresh, 5 s by default; Grafana is not packaged by Debian). Our path is the scrape (up to one
// interval, at the target's phase), the server-sent event (pushed every interval) and the render.
// Each flip comes at a random (seeded) phase of the scrape grid. Prints one JSON line; ratio =
// ours / Prometheus' p50 (lower is better).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const status = (m) => process.stderr.write(`[dashboard-lag] ${m}\n`);

async function identity(core, ca, dir, service, instance) {
  return core.NodeIdentity.loadOrCreate({ dataDir: join(dir, instance), service, instance, ca, ipAddresses: ['::1'] });
}

// Child: one target whose health flips on each stdin line; prints "ready <addr>" and "flipped <state>".
async function target(dir) {
  const core = require('@stoq/core');
  const { RpcServer } = require('@stoq/rpc');
  const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
  const transport = core.StoqTransport.listen({ identity: await identity(core, ca, dir, 'target', 'target-1'), bind: '[::1]:0' });
  const rpc = new RpcServer({ service: 'target' });
  void (async () => {
    for (;;) {
      const conn = await transport.accept();
      if (!conn) return;
      void rpc.serveConnection(conn);
    }
  })();
  let serving = true;
  const http = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`# TYPE target_up gauge\ntarget_up ${serving ? 1 : 0}\n`);
  });
  await new Promise((r) => http.listen(0, '::1', r));
  process.stdout.write(`ready ${transport.localAddress} [::1]:${http.address().port}\n`);
  createInterface({ input: process.stdin }).on('line', () => {
    serving = !serving;
    rpc.setServing(serving);
    process.stdout.write(`flipped ${serving ? 'up' : 'not-serving'}\n`);
  });
}

/**
 * Resolves when the page's row shows `state`, observed by a MutationObserver in the page (not
 * Playwright's waitForSelector, whose retries back off to 500 ms apart and would time its own
 * polling: the first version of this bench reported ~820 ms that way).
 */
function rowShows(page, state) {
  return page.evaluate(
    (wanted) =>
      new Promise((resolve, reject) => {
        const sel = `tr[data-instance="target-1"][data-state="${wanted}"]`;
        if (document.querySelector(sel)) return resolve();
        const obs = new MutationObserver(() => {
          if (!document.querySelector(sel)) return;
          obs.disconnect();
          resolve();
        });
        obs.observe(document.body, { subtree: true, childList: true, attributes: true });
        setTimeout(() => reject(new Error(`the row did not show ${wanted} within 15 s`)), 15_000);
      }),
    state,
  );
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Polls `cond` every 10 ms until true; fails after 15 s. */
async function waitFor(what, cond) {
  const deadline = performance.now() + 15_000;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '::1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function main() {
  const at = process.argv.indexOf('--flips');
  const flips = at >= 0 ? Number(process.argv[at + 1]) : 20;
  if (!Number.isInteger(flips) || flips < 1) throw new Error('usage: dashboard-lag.mjs [--flips N]');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (Debian: apt-get install chromium)`);
  if (spawnSync('prometheus', ['--version']).status !== 0) throw new Error('prometheus is not installed (Debian: apt-get install prometheus)');
  const promVersion = /version (\S+)/.exec(spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const core = require('@stoq/core');
  const pino = require('pino');
  const { chromium } = require('playwright-core');
  const { SeriesWindow } = require('@stoq/ngauge/dist/core/series-window.js');
  const { FamilyRegistry } = require('@stoq/ngauge/dist/core/families.js');
  const { TargetTracker } = require('@stoq/ngauge/dist/core/targets.js');
  const { AlertEngine } = require('@stoq/ngauge/dist/core/alerts.js');
  const { Scraper } = require('@stoq/ngauge/dist/scraper.js');
  const { StoqScrapeClient } = require('@stoq/ngauge/dist/stoq-scrape-client.js');
  const { startHttpApi } = require('@stoq/ngauge/dist/http-api.js');

  const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
  const child = spawn(process.execPath, [SELF, 'target', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((r) => lines.once('line', r));
  let browser;
  let http;
  let scraper;
  let prom;
  try {
    const [, address, metricsAddress] = (await next()).split(' ');
    const promDir = join(dir, 'prometheus');
    mkdirSync(promDir);
    writeFileSync(join(promDir, 'prometheus.yml'), ['global:', '  scrape_interval: 1s', '  scrape_timeout: 800ms', 'scrape_configs:', '  - job_name: bench', '    static_configs:', `      - targets: ['${metricsAddress}']`, ''].join('\n'));
    const promPort = await freePort();
    prom = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=[::1]:${promPort}`], { stdio: 'ignore' });
    const promValue = async () => {
      const r = await fetch(`http://[::1]:${promPort}/api/v1/query?query=target_up`).then((x) => x.json()).catch(() => null);
      return r?.data?.result?.[0]?.value?.[1] ?? null;
    };
    const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
    const transport = core.StoqTransport.create({ identity: await identity(core, ca, dir, 'ngauge', 'ngauge-1'), bind: '[::1]:0' });
    const targets = new TargetTracker(3_600_000);
    targets.update([{ service: 'target', instance: 'target-1', address }], Date.now());
    const window = new SeriesWindow();
    const families = new FamilyRegistry();
    scraper = new Scraper({ clock: core.systemClock, targets, window, families, client: new StoqScrapeClient(transport, core.systemClock), logger: pino({ level: 'silent' }) });
    scraper.start();
    http = await startHttpApi({ window, families, targets, scraper, alerts: new AlertEngine([], scraper.intervalMs), now: () => Date.now() }, '[::1]:0');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage();
    await page.goto(`http://${http.address}/`);
    await page.waitForSelector('tr[data-instance="target-1"][data-state="up"]', { timeout: 15_000 });
    await waitFor('Prometheus to scrape the target', async () => (await promValue()) === '1');
    status(`page shows target-1 up, Prometheus has target_up 1; ${flips} flips`);
    const lags = [];
    const peerLags = [];
    // Each flip at a random phase of the 1 s grid (seeded, so runs repeat): NGauge and Prometheus
    // scrape on their own phases, and flips that followed one system's observation would always
    // find the other at the same distance from its next scrape.
    let seed = 0x5eed;
    const random = () => {
      // mulberry32 (32-bit integer arithmetic throughout)
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    for (let i = 0; i < flips; i++) {
      await new Promise((r) => setTimeout(r, random() * 1000));
      child.stdin.write('flip\n');
      const state = (await next()).split(' ')[1];
      const t0 = performance.now();
      await Promise.all([
        rowShows(page, state).then(() => lags.push(performance.now() - t0)),
        waitFor('Prometheus to see the flip', async () => (await promValue()) === (state === 'up' ? '1' : '0')).then(() => peerLags.push(performance.now() - t0)),
      ]);
    }
    const p50 = median(lags);
    const peerP50 = median(peerLags);
    status(`lags (ms): ${lags.map((l) => l.toFixed(0)).join(' ')}`);
    status(`Prometheus lags (ms): ${peerLags.map((l) => l.toFixed(0)).join(' ')}`);
    console.log(JSON.stringify({ bench: 'ngauge.dashboard_lag', unit: 'ms', stoq: Math.round(p50), peer: Math.round(peerP50), peerName: `Prometheus ${promVersion} (1 s scrape, query API polled every 10 ms)`, ratio: Math.round((p50 / peerP50) * 100) / 100, max: Math.round(Math.max(...lags)), peerMax: Math.round(Math.max(...peerLags)), flips }));
  } finally {
    prom?.kill('SIGTERM');
    await browser?.close();
    await http?.close();
    await scraper?.stop();
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

if (process.argv[2] === 'target') await target(process.argv[3]);
else
  main().catch((err) => {
    process.stderr.write(`dashboard-lag: FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });

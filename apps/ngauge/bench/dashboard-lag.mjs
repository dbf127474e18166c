#!/usr/bin/env node
// dashboard_lag: time from a change on a service to its appearance in NGauge's dashboard, in a
// real browser (Debian's Chromium through playwright-core).
//
//   node apps/ngauge/bench/dashboard-lag.mjs [--flips 10]
//
// One real STOQ server (a child process) flips its `<service>/health` between SERVING and
// NOT_SERVING on command; NGauge's scrape loop (1 s interval) and HTTP API run in this process
// with that one target, and the page is open in Chromium. Timed: from the flip (acknowledged by the
// child) to the page's row showing the new state. The path is the scrape (up to one interval,
// at the target's phase), the server-sent event (pushed every interval) and the render, so the
// expected figure is about one interval, at most about two. There is no peer process: Grafana
// (not packaged by Debian) refreshes a dashboard every 5 s by default, which is what peer
// states, unmeasured. Prints one JSON line; ratio = 5000 / our p50.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
  process.stdout.write(`ready ${transport.localAddress}\n`);
  createInterface({ input: process.stdin }).on('line', () => {
    serving = !serving;
    rpc.setServing(serving);
    process.stdout.write(`flipped ${serving ? 'up' : 'not-serving'}\n`);
  });
}

async function main() {
  const flips = Number(process.argv[process.argv.indexOf('--flips') + 1] || 10);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (Debian: apt-get install chromium)`);
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
  try {
    const address = (await next()).split(' ')[1];
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
    status(`page shows target-1 up; ${flips} flips`);
    const lags = [];
    for (let i = 0; i < flips; i++) {
      child.stdin.write('flip\n');
      const state = (await next()).split(' ')[1];
      const t0 = performance.now();
      await page.waitForSelector(`tr[data-instance="target-1"][data-state="${state}"]`, { timeout: 15_000 });
      lags.push(performance.now() - t0);
    }
    lags.sort((a, b) => a - b);
    const p50 = lags[Math.floor(lags.length / 2)];
    const max = lags[lags.length - 1];
    status(`lags (ms): ${lags.map((l) => l.toFixed(0)).join(' ')}`);
    console.log(JSON.stringify({ bench: 'ngauge.dashboard_lag', unit: 'ms', stoq: Math.round(p50), peer: 5000, peerName: "Grafana's default dashboard refresh (5 s; stated, not run)", ratio: Math.round((5000 / p50) * 100) / 100, max: Math.round(max), flips }));
  } finally {
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

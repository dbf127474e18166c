#!/usr/bin/env node
// scrape_cost: CPU time NGauge spends per target per scrape, against Prometheus (Debian's 2.42)
// scraping the same targets' HTTP /metrics, in the same run.
//
//   node apps/ngauge/bench/scrape-cost.mjs [--targets 50] [--seconds 30] [--warmup 5]
//
// One child process hosts N real STOQ servers (RpcServer on StoqTransport, identities from a
// development CA), each with five methods that served some calls (counters per status code,
// latency histograms) and the process/transport/certificate service metrics every runService
// publishes; beside each, our own HTTP exporter serves the same content as Prometheus text for
// Prometheus to scrape. Then, one after the other (never together), NGauge's scrape loop (the
// Scraper + StoqScrapeClient that `ngauge` runs, with a static target list) and Prometheus scrape
// all N targets every second. Timed: the CPU (user + system, all threads, from /proc) of the
// scraping process over the window, divided by the scrapes it completed in it. The targets' own
// CPU is nobody's cost here. Prints one JSON line; ratio = Prometheus / NGauge (higher is better).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);
const status = (m) => process.stderr.write(`[scrape-cost] ${m}\n`);

function opts() {
  const o = { targets: 50, seconds: 30, warmup: 5 };
  const a = process.argv.slice(3);
  for (let i = 0; i < a.length; i++) {
    const k = a[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown argument ${a[i]}`);
    o[k] = Number(a[++i]);
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k} needs a positive integer`);
  }
  return o;
}

async function identity(core, ca, dir, service, instance) {
  return core.NodeIdentity.loadOrCreate({ dataDir: join(dir, instance), service, instance, ca, ipAddresses: ['::1'] });
}

// ------------------------------------------------------------------------------ child: targets
async function targets(dir, n) {
  const core = require('@stoq/core');
  const { RpcServer, defineMethod, RpcError, Status, rpcProto } = require('@stoq/rpc');
  const { processMetrics } = require('@stoq/service');
  const { renderExposition } = require('@stoq/ngauge/dist/core/exposition.js');
  const { SCRAPE_FAMILIES, scrapeSamples } = require('@stoq/ngauge/dist/core/rpc-metrics.js');
  const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
  const out = [];
  for (let i = 0; i < n; i++) {
    const id = await identity(core, ca, dir, 'target', `target-${i}`);
    const transport = core.StoqTransport.listen({ identity: id, bind: '[::1]:0' });
    const rpc = new RpcServer({ service: 'target' });
    const telemetry = processMetrics({ transport, certificateNotAfter: () => id.notAfter });
    rpc.addMetricSource(telemetry.read);
    const methods = ['get', 'put', 'list', 'watch', 'delete'].map((m) =>
      defineMethod({ path: `target/${m}`, kind: 'unary', requestType: rpcProto.HealthRequestType, responseType: rpcProto.HealthResponseType, idempotent: true }),
    );
    methods.forEach((def, k) => rpc.addMethod(def, () => {
      if (k === 4) throw new RpcError(Status.NOT_FOUND, 'no such item');
      return { status: 1, service: 'target' };
    }, { authorize: 'any-authenticated' }));
    void (async () => {
      for (;;) {
        const conn = await transport.accept();
        if (!conn) return;
        void rpc.serveConnection(conn);
      }
    })();
    // Traffic, so that counters and histograms hold values: observed through the metrics
    // interceptor exactly as real calls are.
    for (const def of methods) for (let c = 0; c < 20; c++) {
      rpc.metrics.callStarted(def.path);
      rpc.metrics.callFinished(def.path, def.path.endsWith('delete') ? Status.NOT_FOUND : Status.OK, (c % 7) * 1.3);
    }
    const exporter = http.createServer((req, res) => {
      const samples = scrapeSamples({ service: 'target', instance: `target-${i}` }, {
        up: true, health: 'SERVING', durationMs: 0,
        methods: rpc.metrics.snapshot(),
        serviceMetrics: telemetry.read().map((m) => ({ ...m, labels: m.labels ?? {} })),
      }).filter((s) => !['up', 'scrape_duration_seconds', 'scrape_samples_scraped'].includes(s.name));
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(renderExposition(samples, SCRAPE_FAMILIES));
    });
    await new Promise((r) => exporter.listen({ host: '::1', port: 0, ipv6Only: true }, r));
    out.push({ instance: `target-${i}`, stoq: transport.localAddress, http: `[::1]:${exporter.address().port}` });
  }
  process.stdout.write(`${JSON.stringify({ ready: out })}\n`);
}

// ------------------------------------------------------------------------------ child: NGauge
async function ngaugeScraper(dir, list, seconds, warmup) {
  const core = require('@stoq/core');
  const pino = require('pino');
  const { SeriesWindow } = require('@stoq/ngauge/dist/core/series-window.js');
  const { FamilyRegistry } = require('@stoq/ngauge/dist/core/families.js');
  const { TargetTracker } = require('@stoq/ngauge/dist/core/targets.js');
  const { Scraper } = require('@stoq/ngauge/dist/scraper.js');
  const { StoqScrapeClient } = require('@stoq/ngauge/dist/stoq-scrape-client.js');
  const ca = await core.DevCa.openOrCreate(join(dir, 'ca'));
  const id = await identity(core, ca, dir, 'ngauge', 'ngauge-1');
  const transport = core.StoqTransport.create({ identity: id, bind: '[::1]:0' });
  const tracker = new TargetTracker(3_600_000);
  tracker.update(list.map((t) => ({ service: 'target', instance: t.instance, address: t.stoq })), Date.now());
  const inner = new StoqScrapeClient(transport, core.systemClock);
  let done = 0;
  let failed = 0;
  const client = { scrape: (t, ms) => inner.scrape(t, ms).then((r) => { done++; return r; }, (e) => { failed++; throw e; }) };
  const window = new SeriesWindow();
  const scraper = new Scraper({ clock: core.systemClock, targets: tracker, window, families: new FamilyRegistry(), client, logger: pino({ level: 'silent' }) });
  scraper.start();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const c0 = process.cpuUsage();
  const d0 = done;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = process.cpuUsage(c0);
  const scrapes = done - d0;
  await scraper.stop();
  inner.close();
  await transport.close();
  process.stdout.write(`${JSON.stringify({ cpuMs: (c1.user + c1.system) / 1000, scrapes, failed, series: window.stats().series })}\n`);
  process.exit(0);
}

// ------------------------------------------------------------------------------ parent
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(x[11]) + Number(x[12])) / 100;
}

function lines(child) {
  const rl = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    rl.on('line', (l) => {
      try {
        resolve(JSON.parse(l));
      } catch {
        /* not ours */
      }
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) without its result`)));
  });
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen({ host: '::1', port: 0 }, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function main() {
  const o = opts();
  if (spawnSync('prometheus', ['--version']).status !== 0) throw new Error('prometheus is not installed (Debian: apt-get install prometheus)');
  const version = /version (\S+)/.exec(spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  const dir = mkdtempSync(join(tmpdir(), 'bench-scrape-'));
  const kids = [];
  const cleanup = () => {
    for (const k of kids) k.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  try {
    status(`starting ${o.targets} STOQ targets with HTTP exporters`);
    const t = spawn(process.execPath, [SELF, 'targets', dir, String(o.targets)], { stdio: ['ignore', 'pipe', 'inherit'] });
    kids.push(t);
    const list = (await lines(t)).ready;

    status(`NGauge scraping ${o.targets} targets every second over STOQ (${o.warmup} s warm-up, ${o.seconds} s timed)`);
    const n = spawn(process.execPath, [...(process.env.BENCH_NGAUGE_NODE_ARGS ?? '').split(' ').filter(Boolean), SELF, 'ngauge', dir, JSON.stringify(list), String(o.seconds), String(o.warmup)], { stdio: ['ignore', 'pipe', 'inherit'] });
    kids.push(n);
    const ng = await lines(n);
    if (ng.failed > 0) throw new Error(`NGauge: ${ng.failed} scrapes failed`);
    const ngMs = ng.cpuMs / ng.scrapes;
    status(`NGauge: ${ng.scrapes} scrapes, ${ng.cpuMs.toFixed(0)} ms CPU, ${ngMs.toFixed(3)} ms per target-scrape, ${ng.series} series`);

    const port = await freePort();
    const promDir = join(dir, 'prometheus');
    mkdirSync(promDir);
    writeFileSync(join(promDir, 'prometheus.yml'), ['global:', '  scrape_interval: 1s', '  scrape_timeout: 800ms', 'scrape_configs:', '  - job_name: bench', '    static_configs:', `      - targets: [${list.map((x) => `'${x.http}'`).join(', ')}]`, ''].join('\n'));
    status(`Prometheus ${version} scraping the same ${o.targets} targets' HTTP /metrics every second`);
    const p = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=[::1]:${port}`], { stdio: 'ignore' });
    kids.push(p);
    await new Promise((r) => setTimeout(r, o.warmup * 1000));
    const query = async (q) => JSON.parse(await (await fetch(`http://[::1]:${port}/api/v1/query?query=${encodeURIComponent(q)}`)).text()).data.result;
    const cpu0 = cpuSeconds(p.pid);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const cpu1 = cpuSeconds(p.pid);
    // Scrapes in the window: the `up` samples Prometheus stored for them.
    const counted = await query(`sum(count_over_time(up{job="bench"}[${o.seconds}s]))`);
    const scrapes = Number(counted[0]?.value[1] ?? 0);
    if (scrapes === 0) throw new Error('Prometheus stored no scrapes');
    const up = await query('sum(up{job="bench"})');
    if (Number(up[0].value[1]) !== o.targets) throw new Error(`Prometheus sees ${up[0].value[1]} of ${o.targets} targets up`);
    const promMs = ((cpu1 - cpu0) * 1000) / scrapes;
    status(`Prometheus: ${scrapes} scrapes, ${((cpu1 - cpu0) * 1000).toFixed(0)} ms CPU, ${promMs.toFixed(3)} ms per target-scrape`);
    console.log(JSON.stringify({ bench: 'ngauge.scrape_cost', unit: 'ms CPU per target-scrape', stoq: Math.round(ngMs * 1000) / 1000, peer: Math.round(promMs * 1000) / 1000, peerName: `Prometheus ${version} (HTTP /metrics)`, ratio: Math.round((promMs / ngMs) * 1000) / 1000, targets: o.targets, seconds: o.seconds }));
  } finally {
    cleanup();
  }
  process.exit(0);
}

const cmd = process.argv[2];
if (cmd === 'targets') await targets(process.argv[3], Number(process.argv[4]));
else if (cmd === 'ngauge') await ngaugeScraper(process.argv[3], JSON.parse(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
else {
  process.argv.splice(2, 0, 'main');
  main().catch((err) => {
    process.stderr.write(`scrape-cost: FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

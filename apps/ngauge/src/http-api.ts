// NGauge's HTTP side on a [::1] port: the live dashboard (`/`, `/static/*`, `/api/v1/overview`
// and the server-sent events of `/api/v1/events`), `/metrics` (Prometheus text exposition of the
// newest sample of every live series, for a real Prometheus to scrape), `/api/v1/targets`,
// `/api/v1/query_range`, `/api/v1/alerts` (JSON) and `/-/healthy`. Read-only; bad parameters
// answer 400 naming the parameter.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseIpv6Endpoint } from '@stoq/core';
import type { AlertEngine } from './core/alerts';
import type { FamilyRegistry } from './core/families';
import { overview, type Overview } from './core/overview';
import { renderExposition, type ExposedSample, type FamilyMeta } from './core/exposition';
import { isLabelName, isMetricName } from './core/labels';
import { SCRAPE_FAMILIES } from './core/rpc-metrics';
import type { SeriesWindow } from './core/series-window';
import type { TargetTracker } from './core/targets';
import type { Scraper } from './scraper';
import { staticFile } from './static-files';

/** Most samples one query answers; a longer answer is cut and flagged `truncated`. */
export const MAX_QUERY_SAMPLES = 100_000;

export const NGAUGE_FAMILIES: readonly FamilyMeta[] = [
  ...SCRAPE_FAMILIES,
  { name: 'ngauge_targets', type: 'gauge', help: 'Targets NGauge scrapes (discovered through TrustChain DNS).' },
  { name: 'ngauge_series', type: 'gauge', help: 'Series held in the in-memory window.' },
  { name: 'ngauge_window_samples', type: 'gauge', help: 'Samples held in the in-memory window.' },
  { name: 'ngauge_window_bytes', type: 'gauge', help: 'Bytes of encoded samples in the window.' },
  { name: 'ngauge_scrapes_skipped_total', type: 'counter', help: 'Scrape turns skipped because the previous scrape of the target was still running.' },
];

/** Most dashboards following the live stream at once; more are refused with 503. */
export const MAX_EVENT_STREAMS = 64;
/** Bytes of events a page may leave unread before its stream is ended. */
const MAX_UNREAD_EVENT_BYTES = 1 << 20;
/** Scrapes recorded within this many ms of each other go to the dashboards in one push. */
const PUSH_COALESCE_MS = 20;

export interface HttpApiDeps {
  readonly window: SeriesWindow;
  readonly families: FamilyRegistry;
  readonly targets: TargetTracker;
  readonly scraper: Scraper;
  readonly alerts: AlertEngine;
  readonly now: () => number;
}

export function overviewOf(deps: HttpApiDeps): Overview {
  return overview(deps.window, deps.alerts.current(), deps.now(), { intervalMs: deps.scraper.intervalMs });
}

/** Series whose newest sample is older than this many intervals are not exposed (their target is gone). */
const STALE_INTERVALS = 5;

export function metricsText(deps: HttpApiDeps): string {
  const now = deps.now();
  const horizon = now - STALE_INTERVALS * deps.scraper.intervalMs;
  const samples: ExposedSample[] = [];
  for (const s of deps.window.latest()) if (s.t >= horizon) samples.push({ name: s.name, labels: s.labels, value: s.v });
  const st = deps.window.stats();
  const targets = deps.targets.all();
  samples.push(
    { name: 'ngauge_targets', labels: {}, value: targets.length },
    { name: 'ngauge_series', labels: {}, value: st.series },
    { name: 'ngauge_window_samples', labels: {}, value: st.samples },
    { name: 'ngauge_window_bytes', labels: {}, value: st.bytes },
  );
  for (const t of targets) {
    samples.push({ name: 'ngauge_scrapes_skipped_total', labels: { service: t.service, instance: t.instance }, value: deps.scraper.health(t.key)?.skipped ?? 0 });
  }
  return renderExposition(samples, [...NGAUGE_FAMILIES, ...deps.families.all()]);
}

class BadRequest extends Error {}

function param(url: URL, name: string): string {
  const v = url.searchParams.get(name);
  if (v === null || v === '') throw new BadRequest(`missing query parameter "${name}"`);
  return v;
}

function timeParam(url: URL, name: string, fallback: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new BadRequest(`query parameter "${name}" must be milliseconds since the epoch, got ${JSON.stringify(v)}`);
  return n;
}

function route(deps: HttpApiDeps, url: URL): { status: number; type: string; body: string } {
  switch (url.pathname) {
    case '/metrics':
      return { status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: metricsText(deps) };
    case '/':
      return staticFile('index.html');
    case '/api/v1/overview':
      return { status: 200, type: 'application/json', body: JSON.stringify(overviewOf(deps)) };
    case '/-/healthy':
      return { status: 200, type: 'text/plain', body: 'NGauge is Healthy.\n' };
    case '/api/v1/targets':
      return {
        status: 200,
        type: 'application/json',
        body: JSON.stringify({ targets: deps.targets.all().map((t) => ({ service: t.service, instance: t.instance, address: t.address, lastSeen: t.lastSeen, ...deps.scraper.health(t.key) })) }),
      };
    case '/api/v1/alerts':
      return { status: 200, type: 'application/json', body: JSON.stringify({ active: deps.alerts.current(), resolved: deps.alerts.resolved() }) };
    case '/api/v1/query_range': {
      const name = param(url, 'name');
      if (!isMetricName(name)) throw new BadRequest(`"${name}" is not a metric name`);
      const labels: Record<string, string> = {};
      for (const [k, v] of url.searchParams) {
        if (k === 'name' || k === 'from' || k === 'to') continue;
        if (!isLabelName(k)) throw new BadRequest(`"${k}" is not a label name`);
        labels[k] = v;
      }
      const now = deps.now();
      const from = timeParam(url, 'from', now - deps.window.retentionMs);
      const to = timeParam(url, 'to', now);
      if (from > to) throw new BadRequest(`from (${from}) is after to (${to})`);
      const r = deps.window.queryBounded(name, labels, from, to, MAX_QUERY_SAMPLES);
      return { status: 200, type: 'application/json', body: JSON.stringify(r) };
    }
    default:
      if (url.pathname.startsWith('/static/')) return staticFile(url.pathname.slice('/static/'.length));
      return { status: 404, type: 'text/plain', body: `no such path ${url.pathname}; try /metrics, /api/v1/targets, /api/v1/alerts, /api/v1/query_range?name=up\n` };
  }
}

export interface HttpApi {
  readonly address: string;
  close(): Promise<void>;
}

/** Serves the API on `bind` (`[::1]:port`; port 0 picks one). */
export async function startHttpApi(deps: HttpApiDeps, bind: string): Promise<HttpApi> {
  const ep = parseIpv6Endpoint(bind);
  // Live updates: the overview to each dashboard following the stream, right after a scrape is
  // recorded (scrapes that land together, within PUSH_COALESCE_MS, make one push: targets are
  // scraped at their own phases), and every scrape interval regardless (alerts, staleness).
  const streams = new Set<http.ServerResponse>();
  let pushSoon: ReturnType<typeof setTimeout> | null = null;
  const unsubscribe = deps.scraper.onRecorded(() => {
    if (pushSoon !== null || streams.size === 0) return;
    pushSoon = setTimeout(() => {
      pushSoon = null;
      pushOverview();
    }, PUSH_COALESCE_MS);
    pushSoon.unref();
  });
  const pushOverview = (): void => {
    if (streams.size === 0) return;
    const frame = `event: overview\ndata: ${JSON.stringify(overviewOf(deps))}\n\n`;
    for (const res of streams) {
      // A page that stopped reading is not buffered for without end: its stream is ended.
      if (res.writableLength > MAX_UNREAD_EVENT_BYTES) {
        streams.delete(res);
        res.end();
      } else res.write(frame);
    }
  };
  const push = setInterval(pushOverview, deps.scraper.intervalMs);
  push.unref();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && new URL(req.url ?? '/', 'http://ngauge').pathname === '/api/v1/events') {
      if (streams.size >= MAX_EVENT_STREAMS) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' });
        res.end(`at most ${MAX_EVENT_STREAMS} live streams\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: overview\ndata: ${JSON.stringify(overviewOf(deps))}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    let out: { status: number; type: string; body: string };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') out = { status: 405, type: 'text/plain', body: 'only GET\n' };
      else out = route(deps, new URL(req.url ?? '/', 'http://ngauge'));
    } catch (err) {
      out = err instanceof BadRequest ? { status: 400, type: 'text/plain', body: `${err.message}\n` } : { status: 500, type: 'text/plain', body: 'internal error\n' };
    }
    res.writeHead(out.status, { 'content-type': out.type, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : out.body);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: ep.address, port: ep.port, ipv6Only: true }, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    address: `[${a.address}]:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(push);
        unsubscribe();
        if (pushSoon !== null) clearTimeout(pushSoon);
        for (const res of streams) res.end();
        streams.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

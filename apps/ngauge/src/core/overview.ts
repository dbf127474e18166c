// The dashboard's model, computed from the window at `now`: one row per target (health, uptime,
// certificate expiry, request and error rates, p99 latency) plus the ecosystem figures the page
// shows when their services publish them (consensus height and leader, Caesar's supply,
// Catalog's runs/s, fuel/s and runs in flight). Pure:
// the page only renders what this returns, so what it shows is tested here.
import type { Alert } from './alerts';
import type { Labels } from './labels';
import type { SeriesWindow } from './series-window';

export interface TargetRow {
  readonly service: string;
  readonly instance: string;
  readonly up: boolean;
  readonly serving: boolean | null;
  readonly uptimeSeconds: number | null;
  readonly certificateExpiresInSeconds: number | null;
  /** Calls started per second over the rate window. */
  readonly requestRate: number | null;
  /** Non-OK share of the calls completed in the rate window (0..1). */
  readonly errorRatio: number | null;
  /** p99 call latency over the latency window, seconds (bucket upper bound). */
  readonly p99Seconds: number | null;
  readonly rssBytes: number | null;
}

export interface Overview {
  readonly at: number;
  readonly targets: TargetRow[];
  readonly alerts: Alert[];
  readonly consensus: { readonly height: number; readonly leader: string | null } | null;
  readonly supply: number | null;
  /** Catalog, summed over its instances: runs finished and fuel used per second, runs in flight (pool occupancy). */
  readonly catalog: { readonly runsPerSecond: number; readonly fuelPerSecond: number; readonly inFlight: number } | null;
}

export interface OverviewOptions {
  readonly intervalMs: number;
  /** Window of the request and error rates. Default 10 s. */
  readonly rateWindowMs?: number;
  /** Window of the p99. Default 30 s. */
  readonly latencyWindowMs?: number;
}

const key = (l: Labels): string => `${l['service'] ?? ''}/${l['instance'] ?? ''}`;

/** Increase of each series over [from, now], summed per target (counter resets count as 0). */
function increases(window: SeriesWindow, name: string, from: number, now: number, by: (l: Labels) => string = key): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of window.query(name, {}, from, now)) {
    const first = s.samples[0]!.v;
    const last = s.samples[s.samples.length - 1]!.v;
    const k = by(s.labels);
    out.set(k, (out.get(k) ?? 0) + Math.max(0, last - first));
  }
  return out;
}

function latestByTarget(window: SeriesWindow, name: string, from: number, now: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of window.query(name, {}, from, now)) out.set(key(s.labels), s.samples[s.samples.length - 1]!.v);
  return out;
}

export function overview(window: SeriesWindow, alerts: readonly Alert[], now: number, opts: OverviewOptions): Overview {
  const recent = now - 5 * opts.intervalMs;
  const rateFrom = now - (opts.rateWindowMs ?? 10_000);
  const latencyFrom = now - (opts.latencyWindowMs ?? 30_000);
  const up = window.query('up', {}, recent, now);
  const serving = latestByTarget(window, 'stoq_service_serving', recent, now);
  const start = latestByTarget(window, 'process_start_time_seconds', recent, now);
  const expiry = latestByTarget(window, 'stoq_certificate_expiry_timestamp_seconds', recent, now);
  const rss = latestByTarget(window, 'process_resident_memory_bytes', recent, now);
  const started = increases(window, 'stoq_rpc_server_started_total', rateFrom, now);
  const completed = increases(window, 'stoq_rpc_server_handled_total', rateFrom, now);
  const failed = increases(window, 'stoq_rpc_server_handled_total', rateFrom, now, (l) => (l['code'] === 'OK' ? '' : key(l)));
  // p99 from the histogram: per target, the increase of each cumulative bucket over the window.
  const buckets = new Map<string, Map<number, number>>();
  for (const s of window.query('stoq_rpc_server_handling_seconds_bucket', {}, latencyFrom, now)) {
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    const inc = Math.max(0, s.samples[s.samples.length - 1]!.v - s.samples[0]!.v);
    const m = buckets.get(key(s.labels)) ?? new Map<number, number>();
    m.set(le, (m.get(le) ?? 0) + inc);
    buckets.set(key(s.labels), m);
  }
  const rateSeconds = (now - rateFrom) / 1000;
  const targets: TargetRow[] = up
    .map((s) => {
      const k = key(s.labels);
      const lastUp = s.samples[s.samples.length - 1]!.v === 1;
      const done = completed.get(k) ?? null;
      return {
        service: s.labels['service'] ?? '',
        instance: s.labels['instance'] ?? '',
        up: lastUp,
        serving: lastUp && serving.has(k) ? serving.get(k) === 1 : null,
        uptimeSeconds: lastUp && start.has(k) ? Math.max(0, Math.round(now / 1000 - start.get(k)!)) : null,
        certificateExpiresInSeconds: expiry.has(k) ? Math.round(expiry.get(k)! - now / 1000) : null,
        // Rates of a target that is down would describe the past: shown as unknown.
        requestRate: lastUp && started.has(k) ? started.get(k)! / rateSeconds : null,
        errorRatio: !lastUp || done === null ? null : done > 0 ? (failed.get(k) ?? 0) / done : 0,
        p99Seconds: lastUp ? p99(buckets.get(k)) : null,
        rssBytes: rss.get(k) ?? null,
      };
    })
    .sort((a, b) => (a.service === b.service ? (a.instance < b.instance ? -1 : 1) : a.service < b.service ? -1 : 1));
  const heights = window.query('hypermesh_consensus_height', {}, recent, now).map((s) => s.samples[s.samples.length - 1]!.v);
  const leader = window.query('hypermesh_consensus_leader', {}, recent, now).find((s) => s.samples[s.samples.length - 1]!.v === 1)?.labels['leader'] ?? null;
  const supply = window.query('caesar_total_supply', {}, recent, now)[0];
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  const runs = increases(window, 'catalog_runs_total', rateFrom, now);
  const inFlight = latestByTarget(window, 'catalog_runs_in_flight', recent, now);
  const catalog = inFlight.size > 0 ? { runsPerSecond: sum(runs) / rateSeconds, fuelPerSecond: sum(increases(window, 'catalog_fuel_used_total', rateFrom, now)) / rateSeconds, inFlight: sum(inFlight) } : null;
  return {
    at: now,
    targets,
    alerts: [...alerts],
    consensus: heights.length > 0 ? { height: Math.max(...heights), leader } : null,
    supply: supply ? supply.samples[supply.samples.length - 1]!.v : null,
    catalog,
  };
}

/** The smallest bucket bound holding 99 % of the observations, or null without observations. */
function p99(buckets: Map<number, number> | undefined): number | null {
  if (!buckets) return null;
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (total <= 0) return null;
  for (const b of bounds) if (buckets.get(b)! >= 0.99 * total) return Number.isFinite(b) ? b : bounds.length > 1 ? bounds[bounds.length - 2]! : null;
  return null;
}

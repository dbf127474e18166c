// What one scrape of a target turns into: stoq-rpc's per-method counters and latency histogram
// (`<service>/metrics`), the health answer (`<service>/health`) and the scrape's own series, as
// Prometheus samples. Names follow grpc-prometheus and Prometheus' own scrape series, so existing
// dashboards and alert rules read them: `up`, `scrape_duration_seconds`,
// `scrape_samples_scraped`, `stoq_rpc_server_started_total`, `stoq_rpc_server_handled_total`,
// `stoq_rpc_server_in_flight`, `stoq_rpc_server_handling_seconds` (histogram).

import type { ExposedSample, FamilyMeta } from './exposition';
import { isLabelName, isMetricName, type Labels } from './labels';

/** A method's metrics as `<service>/metrics` reports them (numbers already converted). */
export interface MethodMetricsInput {
  readonly path: string;
  readonly started: number;
  readonly inFlight: number;
  /** Completed calls per status name. */
  readonly completed: Readonly<Record<string, number>>;
  readonly latency: { readonly boundsMs: readonly number[]; readonly counts: readonly number[]; readonly sumMs: number; readonly count: number } | null;
}

/** A service metric as `<service>/metrics` reports it (stoq-rpc ServiceMetric). */
export interface ServiceMetricInput {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ScrapeOutcome {
  readonly up: boolean;
  /** SERVING / NOT_SERVING / UNKNOWN from `<service>/health`, or null when it did not answer. */
  readonly health: string | null;
  readonly durationMs: number;
  readonly methods: readonly MethodMetricsInput[];
  readonly serviceMetrics?: readonly ServiceMetricInput[];
}

/** Most samples taken from one scrape of one target; the rest are dropped and the target marked. */
export const MAX_SAMPLES_PER_SCRAPE = 5000;

/** Labels a target may not set on its own metrics: NGauge sets them (and `le` belongs to histograms). */
const RESERVED_LABELS = new Set(['service', 'instance', 'le']);

/**
 * The service metrics a target published that are well-formed: a valid metric name not taken by
 * NGauge's own families, a known type, valid label names, not the reserved ones. Returns them
 * with the reason each refused one was dropped (for the log and the target's status).
 */
export function acceptedServiceMetrics(inputs: readonly ServiceMetricInput[]): { accepted: ServiceMetricInput[]; refused: string[] } {
  const accepted: ServiceMetricInput[] = [];
  const refused: string[] = [];
  const own = new Set(SCRAPE_FAMILIES.map((f) => f.name));
  for (const m of inputs) {
    const why = !isMetricName(m.name)
      ? `"${m.name}" is not a metric name`
      : own.has(m.name) || m.name.startsWith('stoq_rpc_server_') || m.name.startsWith('ngauge_')
        ? `"${m.name}" is a name NGauge sets itself`
        : m.type !== 'gauge' && m.type !== 'counter'
          ? `"${m.name}" has type "${m.type}" (gauge or counter)`
          : Object.keys(m.labels).find((k) => !isLabelName(k) || RESERVED_LABELS.has(k));
    if (why === undefined) accepted.push(m);
    else refused.push(typeof why === 'string' && why.startsWith('"') ? why : `"${m.name}" has the label "${String(why)}", which is invalid or reserved`);
  }
  return { accepted, refused };
}

export const SCRAPE_FAMILIES: readonly FamilyMeta[] = [
  { name: 'up', type: 'gauge', help: '1 if the last scrape of the target over STOQ succeeded, else 0.' },
  { name: 'scrape_duration_seconds', type: 'gauge', help: 'Duration of the last scrape of the target.' },
  { name: 'scrape_samples_scraped', type: 'gauge', help: 'Samples the last scrape of the target returned.' },
  { name: 'stoq_service_serving', type: 'gauge', help: '1 if the target answered SERVING to <service>/health.' },
  { name: 'stoq_rpc_server_started_total', type: 'counter', help: 'RPCs started on the server, per method.' },
  { name: 'stoq_rpc_server_handled_total', type: 'counter', help: 'RPCs completed on the server, per method and status code.' },
  { name: 'stoq_rpc_server_in_flight', type: 'gauge', help: 'RPCs in progress on the server, per method.' },
  { name: 'stoq_rpc_server_handling_seconds', type: 'histogram', help: 'Time from the request header to the trailer, per method.' },
];

function formatBound(ms: number): string {
  return String(ms / 1000);
}

/** The samples of one scrape of `target` (labels `service`, `instance`). */
export function scrapeSamples(target: Labels, outcome: ScrapeOutcome): ExposedSample[] {
  const method: ExposedSample[] = [];
  for (const m of outcome.methods) {
    const labels = { ...target, method: m.path };
    method.push({ name: 'stoq_rpc_server_started_total', labels, value: m.started });
    method.push({ name: 'stoq_rpc_server_in_flight', labels, value: m.inFlight });
    for (const code of Object.keys(m.completed).sort()) {
      method.push({ name: 'stoq_rpc_server_handled_total', labels: { ...labels, code }, value: m.completed[code]! });
    }
    if (m.latency) {
      let cumulative = 0;
      m.latency.boundsMs.forEach((b, i) => {
        cumulative += m.latency!.counts[i] ?? 0;
        method.push({ name: 'stoq_rpc_server_handling_seconds_bucket', labels: { ...labels, le: formatBound(b) }, value: cumulative });
      });
      method.push({ name: 'stoq_rpc_server_handling_seconds_bucket', labels: { ...labels, le: '+Inf' }, value: m.latency.count });
      method.push({ name: 'stoq_rpc_server_handling_seconds_sum', labels, value: m.latency.sumMs / 1000 });
      method.push({ name: 'stoq_rpc_server_handling_seconds_count', labels, value: m.latency.count });
    }
  }
  const own: ExposedSample[] = [
    { name: 'up', labels: target, value: outcome.up ? 1 : 0 },
    { name: 'scrape_duration_seconds', labels: target, value: outcome.durationMs / 1000 },
    { name: 'scrape_samples_scraped', labels: target, value: method.length },
  ];
  if (outcome.health !== null) own.push({ name: 'stoq_service_serving', labels: target, value: outcome.health === 'SERVING' ? 1 : 0 });
  const service = (outcome.serviceMetrics ?? []).map((m) => ({ name: m.name, labels: { ...m.labels, ...target }, value: m.value }));
  return [...own, ...method, ...service];
}

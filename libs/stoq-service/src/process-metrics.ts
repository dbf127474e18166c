// The service metrics every STOQ service publishes in `<service>/metrics` (stoq-rpc's
// ServiceMetric), under the names Prometheus' own client libraries use where one exists:
// process RSS, CPU and start time, Node's event-loop delay, the transport's connections and the
// expiry of the instance's certificate. NGauge scrapes them; alert rules read them.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { StoqTransport } from '@stoq/core';
import type { ServiceMetricSample } from '@stoq/rpc';

export interface ProcessMetricsSources {
  readonly transport: StoqTransport;
  /** The instance's current certificate expiry (changes on renewal). */
  readonly certificateNotAfter: () => Date;
}

/** The event-loop delay figures cover this window (reads do not reset it: several scrapers may read). */
export const EVENT_LOOP_WINDOW_MS = 10_000;

/**
 * A metric source for RpcServer.addMetricSource. The event-loop delay is the p99 and max over the
 * current window (up to EVENT_LOOP_WINDOW_MS, then it starts over), in seconds. `close()` stops
 * its monitor and timer.
 */
export function processMetrics(src: ProcessMetricsSources): { read: () => ServiceMetricSample[]; close: () => void } {
  const startSeconds = Math.floor((Date.now() - process.uptime() * 1000) / 1000);
  const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const window = setInterval(() => delay.reset(), EVENT_LOOP_WINDOW_MS);
  window.unref();
  const read = (): ServiceMetricSample[] => {
    const cpu = process.cpuUsage();
    const p99 = delay.count > 0 ? delay.percentile(99) / 1e9 : 0;
    const max = delay.count > 0 ? delay.max / 1e9 : 0;
    const stats = src.transport.stats();
    return [
      { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', value: process.memoryUsage.rss() },
      { name: 'process_cpu_seconds_total', help: 'User and system CPU time spent, in seconds.', type: 'counter', value: (cpu.user + cpu.system) / 1e6 },
      { name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, in seconds.', type: 'gauge', value: startSeconds },
      { name: 'nodejs_eventloop_lag_p99_seconds', help: 'p99 event-loop delay over the last 10 s or less, in seconds.', type: 'gauge', value: p99 },
      { name: 'nodejs_eventloop_lag_max_seconds', help: 'Largest event-loop delay over the last 10 s or less, in seconds.', type: 'gauge', value: max },
      { name: 'stoq_transport_connections', help: 'Authenticated STOQ connections open now.', type: 'gauge', value: stats.authenticatedConnections },
      { name: 'stoq_certificate_expiry_timestamp_seconds', help: "When this instance's certificate expires, since the Unix epoch, in seconds.", type: 'gauge', value: Math.floor(src.certificateNotAfter().getTime() / 1000) },
    ];
  };
  return {
    read,
    close: () => {
      clearInterval(window);
      delay.disable();
    },
  };
}

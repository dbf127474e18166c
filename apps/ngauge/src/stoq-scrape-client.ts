// Scrapes over STOQ: `<service>/health` and `<service>/metrics` of one instance, on a connection
// to that instance's address whose certificate must name the service. One RpcClient per target,
// kept while the target is (its connection is reused from scrape to scrape).
import type { Clock, StoqTransport } from '@stoq/core';
import { RpcClient, StaticResolver, healthMethod, metricsMethod, rpcProto } from '@stoq/rpc';
import type { MethodMetricsInput, ServiceMetricInput } from './core/rpc-metrics';
import { targetKey, type Target } from './core/targets';
import type { ScrapeClient } from './scraper';

/** A uint64 field (a number, or a Long past 2^53 / from protobufjs' Long mode) as a number. */
export const uint64Number = (v: unknown): number =>
  typeof v === 'number'
    ? v
    : v === null || v === undefined
      ? 0
      : // A Long's own conversion (the same correctly rounded double): Number(long) goes through
        // its decimal string, which took a visible share of a scrape's CPU.
        typeof (v as { toNumber?: unknown }).toNumber === 'function'
        ? (v as { toNumber(): number }).toNumber()
        : Number(v);

export class StoqScrapeClient implements ScrapeClient {
  private readonly clients = new Map<string, { address: string; client: RpcClient }>();

  constructor(
    private readonly transport: StoqTransport,
    private readonly clock: Clock,
  ) {}

  async scrape(target: Target, timeoutMs: number): Promise<{ health: string | null; methods: MethodMetricsInput[]; serviceMetrics: ServiceMetricInput[] }> {
    const client = this.clientFor(target);
    const deadline = this.clock.now() + timeoutMs;
    const [health, metrics] = await Promise.all([
      client.call(healthMethod(target.service), {}, { deadline }),
      client.call(metricsMethod(target.service), {}, { deadline }),
    ]);
    const status = rpcProto.HealthResponse_ServingStatus[health.status ?? 0] ?? 'UNKNOWN';
    return {
      health: status,
      methods: (metrics.methods ?? []).map((m) => ({
        path: m.path ?? '',
        started: uint64Number(m.started),
        inFlight: uint64Number(m.inFlight),
        completed: Object.fromEntries(Object.entries(m.completed ?? {}).map(([k, v]) => [k, uint64Number(v)])),
        latency: m.latency
          ? { boundsMs: m.latency.boundsMs ?? [], counts: (m.latency.counts ?? []).map(uint64Number), sumMs: m.latency.sumMs ?? 0, count: uint64Number(m.latency.count) }
          : null,
      })),
      serviceMetrics: (metrics.serviceMetrics ?? []).map((m) => ({ name: m.name ?? '', help: m.help ?? '', type: m.type ?? '', labels: { ...(m.labels ?? {}) }, value: m.value ?? 0 })),
    };
  }

  /** Forgets clients of targets no longer known. */
  retain(keys: ReadonlySet<string>): void {
    for (const [key, c] of this.clients) {
      if (!keys.has(key)) {
        c.client.close();
        this.clients.delete(key);
      }
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }

  private clientFor(target: Target): RpcClient {
    const key = targetKey(target);
    const known = this.clients.get(key);
    if (known && known.address === target.address) return known.client;
    known?.client.close();
    const client = new RpcClient({
      connector: (ep, o) => this.transport.connect(ep, { ...o, serverName: `${target.service}.hypermesh` }),
      resolver: new StaticResolver({ [target.service]: [target.address] }),
      retry: { maxAttempts: 1 },
      clock: this.clock,
    });
    this.clients.set(key, { address: target.address, client });
    return client;
  }
}

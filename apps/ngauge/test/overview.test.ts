// The dashboard model from a window filled as the scraper fills it.
import { SeriesWindow } from '../src/core/series-window';
import { overview } from '../src/core/overview';
import { scrapeSamples } from '../src/core/rpc-metrics';

const T0 = 1_700_000_000_000;

function fill(w: SeriesWindow, seconds: number, downFrom = Infinity): void {
  for (let s = 0; s < seconds; s++) {
    const t = T0 + s * 1000;
    const calls = s * 20;
    const errors = s * 2;
    const samples = scrapeSamples(
      { service: 'caesar', instance: 'caesar-1' },
      {
        up: s < downFrom,
        health: s < downFrom ? 'SERVING' : null,
        durationMs: 2,
        methods:
          s < downFrom
            ? [{ path: 'caesar/x', started: calls, inFlight: 0, completed: { OK: calls - errors, UNAVAILABLE: errors }, latency: { boundsMs: [1, 10, 100], counts: [calls * 0.9, calls * 0.095, calls * 0.005, 0], sumMs: calls, count: calls } }]
            : [],
        serviceMetrics:
          s < downFrom
            ? [
                { name: 'process_start_time_seconds', help: '', type: 'gauge', labels: {}, value: T0 / 1000 - 100 },
                { name: 'stoq_certificate_expiry_timestamp_seconds', help: '', type: 'gauge', labels: {}, value: T0 / 1000 + 86_400 },
                { name: 'caesar_total_supply', help: '', type: 'gauge', labels: {}, value: 1e9 },
              ]
            : [],
      },
    );
    for (const x of samples) w.append(x.name, x.labels, t, x.value);
    w.append('up', { service: 'hypermesh', instance: 'hm-1' }, t, 1);
    w.append('hypermesh_consensus_height', { service: 'hypermesh', instance: 'hm-1' }, t, 100 + s);
    w.append('hypermesh_consensus_leader', { service: 'hypermesh', instance: 'hm-1', leader: 'hm-2' }, t, 1);
  }
}

describe('overview', () => {
  it('rows with uptime, certificate expiry, rates, error ratio and p99; consensus and supply', () => {
    const w = new SeriesWindow();
    fill(w, 60);
    const now = T0 + 59_000;
    const o = overview(w, [], now, { intervalMs: 1000 });
    expect(o.targets.map((t) => t.instance)).toEqual(['caesar-1', 'hm-1']);
    const c = o.targets[0]!;
    expect(c).toMatchObject({ up: true, serving: true, uptimeSeconds: 159, certificateExpiresInSeconds: 86_400 - 59 });
    expect(c.requestRate).toBeCloseTo(20, 5);
    expect(c.errorRatio).toBeCloseTo(0.1, 5);
    expect(c.p99Seconds).toBe(0.01); // 99.5 % of calls within 10 ms
    expect(o.consensus).toEqual({ height: 159, leader: 'hm-2' });
    expect(o.supply).toBe(1e9);
  });

  it('Catalog: runs/s and fuel/s from its counters (summed over instances and outcomes), runs in flight', () => {
    const w = new SeriesWindow();
    fill(w, 60);
    expect(overview(w, [], T0 + 59_000, { intervalMs: 1000 }).catalog).toBeNull(); // no Catalog, no card
    for (let s = 0; s < 60; s++) {
      const t = T0 + s * 1000;
      for (const instance of ['catalog-1', 'catalog-2']) {
        w.append('catalog_runs_total', { service: 'catalog', instance, outcome: 'OK' }, t, s * 30);
        w.append('catalog_runs_total', { service: 'catalog', instance, outcome: 'TRAP' }, t, s * 5);
        w.append('catalog_fuel_used_total', { service: 'catalog', instance }, t, s * 1000);
        w.append('catalog_runs_in_flight', { service: 'catalog', instance }, t, 3);
      }
    }
    const o = overview(w, [], T0 + 59_000, { intervalMs: 1000 });
    expect(o.catalog!.runsPerSecond).toBeCloseTo(70, 5); // 2 × (30 + 5)
    expect(o.catalog!.fuelPerSecond).toBeCloseTo(2000, 5);
    expect(o.catalog!.inFlight).toBe(6);
  });

  it('a target whose scrapes fail shows down, without uptime', () => {
    const w = new SeriesWindow();
    fill(w, 30, 25);
    const o = overview(w, [], T0 + 29_000, { intervalMs: 1000 });
    expect(o.targets[0]).toMatchObject({ instance: 'caesar-1', up: false, uptimeSeconds: null, serving: null, requestRate: null, errorRatio: null, p99Seconds: null });
  });
});

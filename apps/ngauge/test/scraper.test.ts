// The scrape loop on a ManualClock: each target once per interval at its own phase, samples
// stamped with the scheduled time, a slow target's next turn skipped (never two scrapes of one
// target at once), a failing target `up` 0, and a target that disappears no longer scraped.
import pino from 'pino';
import { ManualClock } from '@stoq/core';
import { FamilyRegistry } from '../src/core/families';
import { MAX_SAMPLES_PER_SCRAPE, type ServiceMetricInput } from '../src/core/rpc-metrics';
import { SeriesWindow } from '../src/core/series-window';
import { TargetTracker, scrapeOffset, type Target } from '../src/core/targets';
import { Scraper, type ScrapeClient } from '../src/scraper';

const fast: Target = { service: 'caesar', instance: 'caesar-1', address: '[::1]:1' };
const slow: Target = { service: 'catalog', instance: 'catalog-1', address: '[::1]:2' };
const broken: Target = { service: 'hypermesh', instance: 'hm-1', address: '[::1]:3' };

/** Answers after `delays[instance]` ms of the manual clock; `broken` always fails. */
function client(clock: ManualClock, delays: Record<string, number>, calls: string[]): ScrapeClient {
  return {
    scrape: (t) => {
      calls.push(t.instance);
      return new Promise((resolve, reject) => {
        clock.setTimeout(() => {
          if (t.instance === broken.instance) reject(new Error('connection refused'));
          else resolve({ health: 'SERVING', methods: [{ path: `${t.service}/x`, started: calls.length, inFlight: 0, completed: { OK: 1 }, latency: null }] });
        }, delays[t.instance] ?? 5);
      });
    },
  };
}

async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i += 10) {
    clock.advance(10);
    await new Promise((r) => setImmediate(r));
  }
}

describe('Scraper', () => {
  it('tells onRecorded listeners after each scrape, when its samples are already in the window', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const targets = new TargetTracker(30_000);
    targets.update([fast, broken], clock.now());
    const window = new SeriesWindow();
    const scraper = new Scraper({ clock, targets, window, families: new FamilyRegistry(), client: client(clock, {}, []), logger: pino({ level: 'silent' }), intervalMs: 1000 });
    const seen: number[] = [];
    const off = scraper.onRecorded(() => seen.push(window.query('up', {}, 0, clock.now()).reduce((n, s) => n + s.samples.length, 0)));
    scraper.start();
    await run(clock, 3_000);
    off();
    await run(clock, 2_000);
    const stopped = scraper.stop();
    await run(clock, 1_000);
    await stopped;
    // Two targets, three intervals: one call per recorded scrape (failed ones too), each seeing one more sample.
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(seen.length).toBeLessThanOrEqual(6);
    expect(seen).toEqual(seen.map((_, i) => i + 1));
  });

  it('scrapes each target once per interval at its phase, stamping the scheduled time', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const targets = new TargetTracker(30_000);
    targets.update([fast, slow, broken], clock.now());
    const window = new SeriesWindow();
    const calls: string[] = [];
    const scraper = new Scraper({ clock, targets, window, families: new FamilyRegistry(), client: client(clock, { 'catalog-1': 1500 }, calls), logger: pino({ level: 'silent' }), intervalMs: 1000 });
    scraper.start();
    await run(clock, 10_000);
    // stop() waits for scrapes in flight: let the manual clock run them out.
    const stopped = scraper.stop();
    await run(clock, 2_000);
    await stopped;

    const [up] = window.query('up', { instance: 'caesar-1' }, 0, clock.now());
    const times = up!.samples.map((s) => s.t);
    expect(times.length).toBeGreaterThanOrEqual(9);
    for (const t of times) expect(((t - 1_700_000_000_000) % 1000 + 1000) % 1000).toBe(scrapeOffset('caesar/caesar-1', 1000));
    expect(up!.samples.every((s) => s.v === 1)).toBe(true);

    // The slow target (1.5 s per scrape at a 1 s interval): never two at once, skipped turns counted.
    expect(calls.filter((c) => c === 'catalog-1').length).toBeLessThanOrEqual(6);
    expect(scraper.health('catalog/catalog-1')!.skipped).toBeGreaterThanOrEqual(3);

    const [down] = window.query('up', { instance: 'hm-1' }, 0, clock.now());
    expect(down!.samples.every((s) => s.v === 0)).toBe(true);
    expect(scraper.health('hypermesh/hm-1')).toMatchObject({ up: false, lastError: 'connection refused' });
    expect(window.query('stoq_rpc_server_started_total', { service: 'caesar' }, 0, clock.now())[0]!.samples.length).toBe(times.length);
  });

  it('stops scraping a target dropped from the tracker', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const targets = new TargetTracker(1000);
    targets.update([fast], clock.now());
    const calls: string[] = [];
    const scraper = new Scraper({ clock, targets, window: new SeriesWindow(), families: new FamilyRegistry(), client: client(clock, {}, calls), logger: pino({ level: 'silent' }) });
    scraper.start();
    await run(clock, 3000);
    targets.update([], clock.now() + 5000); // gone past the grace period
    const before = calls.length;
    await run(clock, 5000);
    await scraper.stop();
    expect(before).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(before + 1);
  });

  it('refuses a timeout that is not below the interval', () => {
    const clock = new ManualClock();
    expect(() => new Scraper({ clock, targets: new TargetTracker(1), window: new SeriesWindow(), families: new FamilyRegistry(), client: client(clock, {}, []), logger: pino({ level: 'silent' }), intervalMs: 1000, timeoutMs: 1000 })).toThrow(/below the interval/);
  });

  it('caps a target that returns 100,000 series and refuses malformed or conflicting service metrics', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const targets = new TargetTracker(30_000);
    targets.update([fast, slow], clock.now());
    const window = new SeriesWindow();
    const families = new FamilyRegistry();
    const flood: ScrapeClient = {
      scrape: async (t) => ({
        health: 'SERVING',
        methods: [],
        serviceMetrics:
          t.instance === fast.instance
            ? Array.from({ length: 100_000 }, (_, i) => ({ name: 'flood_items', help: 'h', type: 'gauge', labels: { id: String(i) }, value: i }))
            : ([
                { name: 'good_total', help: 'fine', type: 'counter', labels: { kind: 'a' }, value: 1 },
                { name: 'good_total', help: 'same name, other type', type: 'gauge', labels: {}, value: 1 },
                { name: '1bad', help: '', type: 'gauge', labels: {}, value: 1 },
                { name: 'sneaky', help: '', type: 'gauge', labels: { service: 'trustchain' }, value: 1 },
                { name: 'up', help: '', type: 'gauge', labels: {}, value: 1 },
              ] as ServiceMetricInput[]),
      }),
    };
    const scraper = new Scraper({ clock, targets, window, families, client: flood, logger: pino({ level: 'silent' }), intervalMs: 1000 });
    scraper.start();
    await run(clock, 3000);
    await scraper.stop();
    expect(scraper.health('caesar/caesar-1')).toMatchObject({ up: true, capped: true });
    expect(window.stats().series).toBeLessThanOrEqual(MAX_SAMPLES_PER_SCRAPE + 20);
    expect(scraper.health('catalog/catalog-1')).toMatchObject({ capped: false, refusedMetrics: 4 });
    expect(window.query('good_total', { service: 'catalog', kind: 'a' }, 0, clock.now())).toHaveLength(1);
    expect(window.query('sneaky', {}, 0, clock.now())).toEqual([]);
    expect(families.all().map((f) => `${f.name} ${f.type}`).sort()).toEqual(['flood_items gauge', 'good_total counter']);
  });
});

// The scrape loop: every target is scraped once per interval at a fixed phase (`scrapeOffset`:
// one of a few per interval), with a deadline shorter than the interval. A scrape still running when its
// next turn comes is not doubled: that turn is skipped and counted. Samples are stamped with the
// scheduled time, not the moment the answer came (Prometheus' timestamp alignment does the same),
// so a steady target's timestamps are exactly `interval` apart. Time and timers come from the one
// Clock abstraction; tests drive it with a ManualClock.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '@stoq/core';
import type { FamilyRegistry } from './core/families';
import { MAX_SAMPLES_PER_SCRAPE, acceptedServiceMetrics, scrapeSamples, type MethodMetricsInput, type ServiceMetricInput } from './core/rpc-metrics';
import { AppendCursor, type SeriesWindow } from './core/series-window';
import { scrapeOffset, type Target, type TargetTracker } from './core/targets';

/** What one scrape of a target returns; throws when the target cannot be scraped. */
export interface ScrapeClient {
  scrape(target: Target, timeoutMs: number): Promise<{ health: string | null; methods: MethodMetricsInput[]; serviceMetrics?: ServiceMetricInput[] }>;
}

export interface ScraperOptions {
  readonly clock: Clock;
  readonly targets: TargetTracker;
  readonly window: SeriesWindow;
  readonly families: FamilyRegistry;
  readonly client: ScrapeClient;
  readonly logger: Logger;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  /** Per-scrape deadline; default 80 % of the interval. */
  readonly timeoutMs?: number;
}

export interface TargetHealth {
  readonly up: boolean;
  readonly lastScrapeAt: number | null;
  readonly lastDurationMs: number | null;
  readonly lastError: string | null;
  readonly skipped: number;
  /** The last scrape returned more than MAX_SAMPLES_PER_SCRAPE samples; the rest were dropped. */
  readonly capped: boolean;
  /** Service metrics of the last scrape refused (bad names, reserved labels, type conflicts). */
  readonly refusedMetrics: number;
}

interface Slot {
  nextAt: number;
  running: boolean;
  health: TargetHealth;
  /** Where this target's samples went last time (the window skips the series-key lookup). */
  readonly cursor: AppendCursor;
}

export class Scraper {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  private readonly slots = new Map<string, Slot>();
  private timer: TimerHandle | null = null;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private appendRefused = 0;
  private readonly recordedListeners = new Set<() => void>();

  constructor(private readonly opts: ScraperOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? Math.floor(this.intervalMs * 0.8);
    if (!(this.timeoutMs > 0 && this.timeoutMs < this.intervalMs)) throw new RangeError(`scrape timeout ${this.timeoutMs} ms must be below the interval ${this.intervalMs} ms`);
  }

  start(): void {
    this.schedule();
  }

  /** Stops scheduling and waits for scrapes in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    await Promise.all([...this.inFlight]);
  }

  health(key: string): TargetHealth | undefined {
    return this.slots.get(key)?.health;
  }

  /** Called after each scrape's samples are in the window (e.g. to push the dashboard at once). */
  onRecorded(listener: () => void): () => void {
    this.recordedListeners.add(listener);
    return () => this.recordedListeners.delete(listener);
  }

  /** Appends the window refused (out of order, series cap). */
  get refusedAppends(): number {
    return this.appendRefused;
  }

  /** Runs every scrape that is due and re-arms the timer for the next one. */
  private schedule(): void {
    if (this.stopped) return;
    const now = this.opts.clock.now();
    const live = new Set<string>();
    let wake = Number.POSITIVE_INFINITY;
    for (const target of this.opts.targets.values()) {
      live.add(target.key);
      let slot = this.slots.get(target.key);
      if (!slot) {
        const offset = scrapeOffset(target.key, this.intervalMs);
        const base = Math.floor(now / this.intervalMs) * this.intervalMs + offset;
        slot = { nextAt: base >= now ? base : base + this.intervalMs, running: false, cursor: new AppendCursor(), health: { up: false, lastScrapeAt: null, lastDurationMs: null, lastError: null, skipped: 0, capped: false, refusedMetrics: 0 } };
        this.slots.set(target.key, slot);
      }
      if (slot.nextAt <= now) {
        const at = slot.nextAt;
        // Catch up on turns that passed (a stalled event loop): the next turn stays on the grid.
        const missed = Math.floor((now - at) / this.intervalMs);
        slot.nextAt = at + (missed + 1) * this.intervalMs;
        if (slot.running) slot.health = { ...slot.health, skipped: slot.health.skipped + 1 + missed };
        else this.run(target, slot, at + missed * this.intervalMs);
      }
      wake = Math.min(wake, slot.nextAt);
    }
    for (const key of this.slots.keys()) if (!live.has(key)) this.slots.delete(key);
    // With no targets yet, look again within an interval (discovery adds them).
    const delay = Number.isFinite(wake) ? Math.max(0, wake - now) : this.intervalMs;
    this.timer = this.opts.clock.setTimeout(() => this.schedule(), delay);
  }

  private run(target: Target & { key: string }, slot: Slot, scheduledAt: number): void {
    slot.running = true;
    const started = this.opts.clock.now();
    const p = this.opts.client
      .scrape(target, this.timeoutMs)
      .then(
        (r) => ({ up: true, health: r.health, methods: r.methods, serviceMetrics: r.serviceMetrics ?? [], error: null as string | null }),
        (err: unknown) => ({ up: false, health: null, methods: [] as MethodMetricsInput[], serviceMetrics: [] as ServiceMetricInput[], error: err instanceof Error ? err.message : String(err) }),
      )
      .then((r) => {
        const durationMs = this.opts.clock.now() - started;
        slot.running = false;
        if (!r.up && slot.health.up) this.opts.logger.warn({ target: target.key, err: r.error }, 'target down');
        if (r.up && !slot.health.up && slot.health.lastScrapeAt !== null) this.opts.logger.info({ target: target.key }, 'target up again');
        const { accepted, refused } = acceptedServiceMetrics(r.serviceMetrics);
        const serviceMetrics = accepted.filter((m) => this.opts.families.learn(m.name, m.type as 'gauge' | 'counter', m.help));
        const refusedMetrics = refused.length + accepted.length - serviceMetrics.length;
        if (refusedMetrics > 0 && slot.health.refusedMetrics === 0) this.opts.logger.warn({ target: target.key, refused: refused.slice(0, 5), count: refusedMetrics }, 'service metrics refused');
        let samples = scrapeSamples({ service: target.service, instance: target.instance }, { up: r.up, health: r.health, durationMs, methods: r.methods, serviceMetrics });
        const capped = samples.length > MAX_SAMPLES_PER_SCRAPE;
        if (capped) {
          if (!slot.health.capped) this.opts.logger.warn({ target: target.key, samples: samples.length, kept: MAX_SAMPLES_PER_SCRAPE }, 'target returned too many samples; keeping the first ones');
          samples = samples.slice(0, MAX_SAMPLES_PER_SCRAPE);
        }
        slot.health = { up: r.up, lastScrapeAt: scheduledAt, lastDurationMs: durationMs, lastError: r.error, skipped: slot.health.skipped, capped, refusedMetrics };
        if (!this.slots.has(target.key)) return; // dropped while it ran
        this.appendRefused += this.opts.window.appendAll(samples, scheduledAt, slot.cursor);
        for (const l of this.recordedListeners) l();
      })
      // Nothing above is expected to throw; if it ever does, it is logged, never an unhandled
      // rejection that would end the process.
      .catch((err: unknown) => this.opts.logger.error({ err, target: target.key }, 'recording a scrape failed'));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

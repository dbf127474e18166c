// NGauge wired together inside a running STOQ service: discovery every few seconds, the scrape
// loop, the window's compaction and the HTTP API; `close()` stops them in reverse order.
import type { Logger } from 'pino';
import type { Clock, StoqTransport, TimerHandle } from '@stoq/core';
import { UdpDnsQuerier, discoverInstances, type DnsQuerier } from '@stoq/rpc';
import type { AlertRule } from './core/alert-rules';
import { AlertEngine } from './core/alerts';
import { FamilyRegistry } from './core/families';
import { SeriesWindow } from './core/series-window';
import { TargetTracker } from './core/targets';
import { startHttpApi, type HttpApi } from './http-api';
import { Scraper } from './scraper';
import { StoqScrapeClient } from './stoq-scrape-client';

export interface NGaugeOptions {
  readonly transport: StoqTransport;
  /** TrustChain's DNS server `[addr]:port`. */
  readonly dnsServer: string;
  /** HTTP API bind, `[::1]:port` (0: any free port). */
  readonly httpBind: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs?: number;
  /** How often DNS is asked for services and instances. Default 2 s. */
  readonly discoveryIntervalMs?: number;
  /** How long a target that vanished from DNS is still scraped. Default 30 s. */
  readonly graceMs?: number;
  /** The same while its scrapes fail (so its down alert stays). Default 5 min. */
  readonly downGraceMs?: number;
  readonly retentionMs?: number;
  readonly dns?: DnsQuerier;
  /** Alert rules (parseAlertRules); none by default. */
  readonly rules?: readonly AlertRule[];
}

export interface NGauge {
  readonly httpAddress: string;
  readonly window: SeriesWindow;
  readonly targets: TargetTracker;
  readonly scraper: Scraper;
  readonly alerts: AlertEngine;
  /** Runs one discovery round now (also runs on its own timer). */
  discover(): Promise<void>;
  close(): Promise<void>;
}

export async function startNGauge(opts: NGaugeOptions): Promise<NGauge> {
  const { clock, logger } = opts;
  const window = new SeriesWindow(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {});
  const targets = new TargetTracker(opts.graceMs ?? 30_000, opts.downGraceMs ?? 300_000);
  const families = new FamilyRegistry();
  const client = new StoqScrapeClient(opts.transport, clock);
  const scraper = new Scraper({ clock, targets, window, families, client, logger, ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}) });
  const dns = opts.dns ?? new UdpDnsQuerier({ server: opts.dnsServer });
  const discoveryMs = opts.discoveryIntervalMs ?? 2000;
  const alerts = new AlertEngine(opts.rules ?? [], scraper.intervalMs);
  let timer: TimerHandle | null = null;
  let alertTimer: TimerHandle | null = null;
  let closed = false;

  const discover = async (): Promise<void> => {
    try {
      const found = await discoverInstances(dns);
      const { added, dropped } = targets.update(found, clock.now(), (key) => scraper.health(key)?.up === false);
      if (added.length > 0) logger.info({ added }, 'targets discovered');
      if (dropped.length > 0) logger.warn({ dropped }, 'targets dropped (gone from DNS past the grace period)');
      client.retain(new Set(targets.all().map((t) => t.key)));
      window.compact(clock.now());
    } catch (err) {
      // Keep the targets we know: a DNS hiccup must not mark every service down.
      logger.warn({ err }, 'discovery failed; keeping the known targets');
    }
  };
  const loop = (): void => {
    timer = clock.setTimeout(() => {
      void discover().finally(() => {
        if (!closed) loop();
      });
    }, discoveryMs);
  };

  // Alerts are evaluated once per scrape interval.
  const evaluate = (): void => {
    alertTimer = clock.setTimeout(() => {
      for (const t of alerts.evaluate(window, clock.now())) {
        const a = t.alert;
        const fields = { alert: a.alert, severity: a.severity, ...a.labels, summary: a.summary };
        if (t.kind === 'fired') logger.warn(fields, 'alert firing');
        else logger.info(fields, 'alert resolved');
      }
      if (!closed) evaluate();
    }, scraper.intervalMs);
  };

  await discover();
  scraper.start();
  loop();
  evaluate();
  let http: HttpApi;
  try {
    http = await startHttpApi({ window, families, targets, scraper, alerts, now: () => clock.now() }, opts.httpBind);
  } catch (err) {
    closed = true;
    if (timer) clock.clearTimeout(timer);
    if (alertTimer) clock.clearTimeout(alertTimer);
    await scraper.stop();
    client.close();
    throw err;
  }
  logger.info({ http: http.address, intervalMs: scraper.intervalMs, targets: targets.all().length }, 'NGauge serving');
  return {
    httpAddress: http.address,
    window,
    targets,
    scraper,
    alerts,
    discover,
    async close() {
      closed = true;
      if (timer) clock.clearTimeout(timer);
      if (alertTimer) clock.clearTimeout(alertTimer);
      await http.close();
      await scraper.stop();
      client.close();
    },
  };
}

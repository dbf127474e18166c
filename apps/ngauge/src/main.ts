// `ngauge --config ngauge.toml [--http '[::1]:9464'] [--interval-ms 1000]`: NGauge as a STOQ
// service. It enrolls with TrustChain like every service (the [service] section), finds every
// other service through TrustChain DNS and scrapes it over STOQ.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { systemClock } from '@stoq/core';
import { dnsServerOf, isServiceError, runService } from '@stoq/service';
import { parseAlertRules, type AlertRule } from './core/alert-rules';
import { startNGauge, type NGauge } from './ngauge';
import { addNGaugeMethods } from './service';

export const DEFAULT_HTTP_BIND = '[::1]:9464';

/** A config NGauge cannot run with (exit code 2, like a usage error). */
export class NGaugeConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

const USAGE = `usage: ngauge --config <ngauge.toml> [--http '[::1]:9464'] [--interval-ms 1000] [--rules alerts.yaml] [--data-dir DIR] [--join-token T]`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        http: { type: 'string' },
        rules: { type: 'string' },
        'interval-ms': { type: 'string' },
        'data-dir': { type: 'string' },
        'join-token': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`ngauge: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`ngauge: --config is required\n${USAGE}\n`);
    return 2;
  }
  const intervalMs = values['interval-ms'] === undefined ? 1000 : Number(values['interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 3_600_000) {
    process.stderr.write(`ngauge: --interval-ms must be an integer from 100 to 3600000, got ${values['interval-ms']}\n`);
    return 2;
  }
  let rules: AlertRule[] = [];
  if (values.rules) {
    try {
      rules = parseAlertRules(await readFile(values.rules, 'utf8'));
    } catch (err) {
      process.stderr.write(`ngauge: ${values.rules}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  let ngauge: NGauge | null = null;
  let svc;
  try {
    svc = await runService({
      service: 'ngauge',
      configPath: values.config,
      overrides: { ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(values['join-token'] ? { joinToken: values['join-token'] } : {}) },
      setup: async (ctx) => {
        const dnsServer = dnsServerOf(ctx.section);
        if (!dnsServer) throw new NGaugeConfigError('ngauge needs service.trustchain (or service.dns) in its config: it finds services through TrustChain DNS');
        ngauge = await startNGauge({ transport: ctx.transport, dnsServer, httpBind: values.http ?? DEFAULT_HTTP_BIND, clock: systemClock, logger: ctx.logger, intervalMs, rules });
        const started = ngauge;
        addNGaugeMethods(ctx.rpc, started, () => systemClock.now());
        return { stop: () => started.close() };
      },
    });
  } catch (err) {
    // A config NGauge cannot run with is a usage error (exit 2), like a bad flag.
    if (!(err instanceof NGaugeConfigError) && !(isServiceError(err) && err.code === 'CONFIG_INVALID')) throw err;
    process.stderr.write(`ngauge: ${values.config}: ${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`${JSON.stringify({ ngauge: 'ready', stoq: svc.address, http: (ngauge as NGauge | null)?.httpAddress ?? null })}\n`);
  await svc.stopped;
  return 0;
}

// `trustchain serve`: startTrustChain on the data dir, serve.json for the client commands, and
// SIGTERM/SIGINT → ordered shutdown → exit 0.
import { hostname } from 'node:os';
import pino from 'pino';
import { startTrustChain, DEFAULT_INSTANCE } from '../server';
import { usageError } from './cli-error';
import { dataDirOf, durationSeconds, noPositionals, parseCommand } from './args';

/** Longest leaf lifetime `--cert-lifetime` accepts: 30 days (short-lived certificates are the design). */
const MAX_CERT_LIFETIME_S = 30 * 24 * 3600;
import { DEFAULT_BIND, DEFAULT_CT_HTTP_BIND, DEFAULT_DNS_BIND, HELP } from './help';
import { removeServeInfo, writeServeInfo } from './serve-info';

function certLifetimeSeconds(text: string): number {
  const s = durationSeconds(text, '--cert-lifetime');
  if (s < 5 || s > MAX_CERT_LIFETIME_S) throw usageError(`--cert-lifetime must be between 5s and 30d, got "${text}"`);
  return s;
}

export async function runServe(argv: string[], out: (t: string) => void): Promise<number> {
  const parsed = parseCommand('serve', argv, {
    'data-dir': { type: 'string' },
    bind: { type: 'string' },
    'dns-bind': { type: 'string' },
    'ct-http-bind': { type: 'string' },
    instance: { type: 'string' },
    'cert-lifetime': { type: 'string' },
  });
  if (!parsed) {
    out(`${HELP.serve}\n`);
    return 0;
  }
  noPositionals('serve', parsed.positionals);
  const v = parsed.values;
  const dataDir = dataDirOf(v['data-dir']);
  const instance = v.instance ?? DEFAULT_INSTANCE;
  const lifetimeS = v['cert-lifetime'] !== undefined ? certLifetimeSeconds(v['cert-lifetime']) : undefined;
  const logger = pino({ level: process.env['STOQ_LOG_LEVEL'] ?? 'info', base: { service: 'trustchain', instance, host: hostname() } });
  const tc = await startTrustChain({
    dataDir,
    bind: v.bind ?? DEFAULT_BIND,
    dnsBind: v['dns-bind'] ?? DEFAULT_DNS_BIND,
    ctHttpBind: v['ct-http-bind'] ?? DEFAULT_CT_HTTP_BIND,
    instance,
    logger,
    ...(lifetimeS !== undefined ? { lifetimeMs: lifetimeS * 1000 } : {}),
  });
  await writeServeInfo(dataDir, {
    pid: process.pid,
    instance,
    stoq: tc.stoqAddress,
    dns: tc.dnsAddress,
    ctHttp: tc.ctHttpAddress,
    rootFingerprint: tc.rootFingerprint,
    startedAt: new Date().toISOString(),
  });
  logger.info({ dataDir, rootFingerprint: tc.rootFingerprint, stoq: tc.stoqAddress, dns: tc.dnsAddress, ctHttp: tc.ctHttpAddress }, 'trustchain serve ready');

  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      logger.info({ signal: sig }, 'shutting down');
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await removeServeInfo(dataDir, process.pid);
  await tc.close();
  logger.flush();
  return 0;
}

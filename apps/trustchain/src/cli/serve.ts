// `trustchain serve`: startTrustChain on the data dir, serve.json for the client commands, and
// SIGTERM/SIGINT → ordered shutdown → exit 0.
import { hostname } from 'node:os';
import pino from 'pino';
import { startTrustChain, DEFAULT_INSTANCE } from '../server';
import { dataDirOf, noPositionals, parseCommand } from './args';
import { DEFAULT_BIND, DEFAULT_CT_HTTP_BIND, DEFAULT_DNS_BIND, HELP } from './help';
import { removeServeInfo, writeServeInfo } from './serve-info';

export async function runServe(argv: string[], out: (t: string) => void): Promise<number> {
  const parsed = parseCommand('serve', argv, {
    'data-dir': { type: 'string' },
    bind: { type: 'string' },
    'dns-bind': { type: 'string' },
    'ct-http-bind': { type: 'string' },
    instance: { type: 'string' },
  });
  if (!parsed) {
    out(`${HELP.serve}\n`);
    return 0;
  }
  noPositionals('serve', parsed.positionals);
  const v = parsed.values;
  const dataDir = dataDirOf(v['data-dir']);
  const instance = v.instance ?? DEFAULT_INSTANCE;
  const logger = pino({ level: process.env['STOQ_LOG_LEVEL'] ?? 'info', base: { service: 'trustchain', instance, host: hostname() } });
  const tc = await startTrustChain({
    dataDir,
    bind: v.bind ?? DEFAULT_BIND,
    dnsBind: v['dns-bind'] ?? DEFAULT_DNS_BIND,
    ctHttpBind: v['ct-http-bind'] ?? DEFAULT_CT_HTTP_BIND,
    instance,
    logger,
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

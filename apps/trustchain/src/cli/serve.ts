// `trustchain serve`: startTrustChain on the data dir, serve.json for the client commands, and
// SIGTERM/SIGINT → ordered shutdown → exit 0.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pemToDerList } from '@stoq/core';
import { genesisFileSource, isServiceError, type GenesisSource } from '@stoq/service';
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

/** The certificates of one `--ct-root` PEM file, each checked to be a CA certificate. */
function readRootPem(file: string): Uint8Array[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`--ct-root ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let ders: Uint8Array[];
  try {
    ders = pemToDerList(text, 'CERTIFICATE', `--ct-root ${file}`);
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  if (ders.length === 0) throw usageError(`--ct-root ${file}: no PEM CERTIFICATE block in it`);
  for (const der of ders) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      throw usageError(`--ct-root ${file}: a CERTIFICATE block is not a valid X.509 certificate`);
    }
    if (!cert.ca) throw usageError(`--ct-root ${file}: ${cert.subject.replace(/\n/g, ', ')} is not a CA certificate`);
  }
  return ders;
}

/** The HyperMesh genesis (read when it appears); an invalid file is a usage error at start. */
function genesisSource(file: string): GenesisSource {
  try {
    return genesisFileSource(file);
  } catch (err) {
    if (isServiceError(err, 'GENESIS_INVALID')) throw usageError(`--hypermesh-genesis: ${err.message}`);
    throw err;
  }
}

export async function runServe(argv: string[], out: (t: string) => void): Promise<number> {
  const parsed = parseCommand('serve', argv, {
    'data-dir': { type: 'string' },
    bind: { type: 'string' },
    'dns-bind': { type: 'string' },
    'ct-http-bind': { type: 'string' },
    instance: { type: 'string' },
    'cert-lifetime': { type: 'string' },
    'ct-root': { type: 'string', multiple: true },
    'hypermesh-genesis': { type: 'string' },
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
  const ctExtraRoots = (v['ct-root'] ?? []).flatMap(readRootPem);
  const hypermeshGenesis = v['hypermesh-genesis'] !== undefined ? genesisSource(v['hypermesh-genesis']) : undefined;
  const logger = pino({ level: process.env['STOQ_LOG_LEVEL'] ?? 'info', base: { service: 'trustchain', instance, host: hostname() } });
  const tc = await startTrustChain({
    dataDir,
    bind: v.bind ?? DEFAULT_BIND,
    dnsBind: v['dns-bind'] ?? DEFAULT_DNS_BIND,
    ctHttpBind: v['ct-http-bind'] ?? DEFAULT_CT_HTTP_BIND,
    instance,
    logger,
    ...(lifetimeS !== undefined ? { lifetimeMs: lifetimeS * 1000 } : {}),
    ...(ctExtraRoots.length > 0 ? { ctExtraRoots } : {}),
    ...(hypermeshGenesis ? { hypermeshGenesis } : {}),
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

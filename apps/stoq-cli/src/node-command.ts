// `stoq node`: a STOQ node serving the `node` RPC service (echo, stats, and the built-ins
// health/metrics/_methods), logging (pino, JSON on stdout) every connection and periodic stats.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { hostOf, loadConfig, StoqTransport } from '@stoq/core';
import { loadCliIdentity } from './identity';
import { createNodeService } from './node-service';

const STATS_INTERVAL_MS = 10_000;

export async function runNode(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, 'data-dir': { type: 'string' }, bind: { type: 'string' } },
    strict: true,
  });
  if (!values.config) throw new Error('stoq node needs --config <stoq.toml>');
  // Installed first, so a signal during start-up also ends in an orderly shutdown.
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const config = await loadConfig(values.config);
  if (values['data-dir']) config.node.dataDir = values['data-dir'];
  if (values.bind) config.transport.bind = values.bind;
  const log = pino({ level: config.logging.level, base: { node: config.node.name, host: hostname() } });

  const identity = await loadCliIdentity({
    dataDir: config.node.dataDir,
    service: 'node',
    instance: config.node.name,
    lifetimeMs: config.certificates.lifetimeHours * 3_600_000,
    rootFingerprint: config.certificates.rootFingerprint,
    ipAddresses: ipSansFor(config.transport.bind),
  });
  const extraRoot = config.certificates.trustRoot ? readFileSync(config.certificates.trustRoot, 'utf8') : '';
  const transport = StoqTransport.listen({
    identity: {
      service: identity.service,
      instance: identity.instance,
      certChainPem: identity.certChainPem,
      keyPem: identity.keyPem,
      trustRootsPem: identity.trustRootsPem + extraRoot,
      falconPublicKey: identity.falconPublicKey,
      falconSecretKey: identity.falconSecretKey,
    },
    bind: config.transport.bind,
    idleTimeoutMs: config.transport.idleTimeoutMs,
    keepAliveMs: config.transport.keepAliveIntervalMs,
    maxConcurrentStreams: config.transport.maxConcurrentStreams,
    zeroRtt: config.transport.zeroRtt,
    requirePqKex: config.security.requirePqKex,
    maxMessageBytes: config.performance.maxFrameBytes,
    maxUdpPayload: config.performance.maxUdpPayload,
    maxConnections: config.performance.maxConnections,
    logger: log,
  });
  transport.on('auth-error', (err, remote) => log.warn({ remote, code: err.code }, err.message));
  log.info(
    { address: transport.localAddress, fingerprint: identity.fingerprint, dataDir: config.node.dataDir, requirePqKex: config.security.requirePqKex },
    'stoq node listening',
  );

  const rpc = createNodeService(transport, identity.instance, log);
  const stats = setInterval(() => log.info({ stats: transport.stats() }, 'stats'), STATS_INTERVAL_MS);
  stats.unref();
  const serving = (async () => {
    for (;;) {
      const conn = await transport.accept();
      if (!conn) return;
      log.info({ peer: conn.peer.instance, service: conn.peer.service, remote: conn.remoteAddress, group: conn.keyExchangeGroup }, 'connection');
      void rpc.serveConnection(conn);
    }
  })();
  await stop;
  log.info({ stats: transport.stats() }, 'shutting down');
  clearInterval(stats);
  rpc.close();
  await transport.close(0, 'node shutting down');
  await serving;
  return 0;
}

/** The node's certificate names the address it listens on, so `stoq ping [addr]:port` verifies. */
function ipSansFor(bind: string): string[] {
  const host = hostOf(bind);
  return host === '::' ? ['::1'] : [host];
}

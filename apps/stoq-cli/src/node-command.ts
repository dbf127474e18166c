// `stoq node`: a STOQ node serving the `node` RPC service (echo, stats, and the built-ins
// health/metrics/_methods), logging (pino, JSON on stdout) every connection and periodic stats.
import { hostname } from 'node:os';
import pino from 'pino';
import { hostOf, loadConfig, StoqTransport, transportOptionsFromConfig } from '@stoq/core';
import { parseCommand } from './args';
import { usageError } from './cli-error';
import { explicitDataDir } from './data-dir';
import { HELP } from './help';
import { loadCliIdentity } from './identity';
import { createNodeService } from './node-service';
import { readTrustRoot, rootFingerprints, withExtraRoot } from './trust';

const STATS_INTERVAL_MS = 10_000;

export async function runNode(argv: string[]): Promise<number> {
  const parsed = parseCommand('node', argv, {
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    bind: { type: 'string' },
    'trust-root': { type: 'string' },
  });
  if (!parsed) {
    process.stdout.write(`${HELP.node}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw usageError(`stoq node takes no positional arguments, got "${positionals[0]}" (see stoq node --help)`);
  if (!values.config) throw usageError('stoq node needs --config <stoq.toml> (see stoq node --help)');
  // Installed first, so a signal during start-up also ends in an orderly shutdown.
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const configNotes: Array<{ key: string; message: string }> = [];
  const config = await loadConfig(values.config, { notice: (key, message) => configNotes.push({ key, message }) });
  // --data-dir, then STOQ_DATA_DIR, then the config's node.data_dir (as for the client commands).
  const dataDir = explicitDataDir({ flag: values['data-dir'] }) ?? { dir: config.node.dataDir, source: `node.data_dir in ${values.config}` };
  config.node.dataDir = dataDir.dir;
  if (values.bind) config.transport.bind = values.bind;
  const log = pino({ level: config.logging.level, base: { node: config.node.name, host: hostname() } });
  for (const n of configNotes) log.warn({ key: n.key, config: values.config }, n.message);

  const identity = await loadCliIdentity({
    dataDir: config.node.dataDir,
    service: 'node',
    instance: config.node.name,
    lifetimeMs: config.certificates.lifetimeHours * 3_600_000,
    rootFingerprint: config.certificates.rootFingerprint,
    ipAddresses: ipSansFor(config.transport.bind),
    logger: log,
    onCaCreated: (dir, fingerprint) =>
      log.warn({ dir, fingerprint, dataDirFrom: dataDir.source }, 'created a new development CA: only identities from this data dir trust this node'),
  });
  const extraRoot = values['trust-root']
    ? await readTrustRoot(values['trust-root'], '--trust-root')
    : config.certificates.trustRoot
      ? await readTrustRoot(config.certificates.trustRoot, `certificates.trust_root in ${values.config}`)
      : '';
  const transport = StoqTransport.listen({
    ...transportOptionsFromConfig(config),
    identity: withExtraRoot(identity, extraRoot),
    logger: log,
  });
  transport.on('auth-error', (err, remote) => log.warn({ remote, code: err.code }, err.message));
  log.info(
    {
      address: transport.localAddress,
      fingerprint: identity.fingerprint,
      dataDir: dataDir.dir,
      dataDirFrom: dataDir.source,
      trustedRoots: rootFingerprints(identity.trustRootsPem + extraRoot),
      requirePqKex: config.security.requirePqKex,
    },
    'stoq node listening',
  );

  const rpc = createNodeService(transport, identity.instance, log, { maxMessageBytes: config.performance.maxRpcMessageBytes });
  const stats = setInterval(() => log.info({ stats: transport.stats() }, 'stats'), STATS_INTERVAL_MS);
  stats.unref();
  const serving = (async () => {
    for (;;) {
      const conn = await transport.accept();
      if (!conn) return;
      log.info({ peer: conn.peer?.instance ?? 'anonymous', service: conn.peer?.service ?? null, remote: conn.remoteAddress, group: conn.keyExchangeGroup }, 'connection');
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

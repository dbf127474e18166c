// `stoq node`: a STOQ node serving the `node` RPC service (echo, stats, and the built-ins
// health/metrics/_methods) on @stoq/service's runtime. With service.trustchain in the config it
// enrolls with TrustChain (join token + pinned root), registers in TrustChain DNS, renews live
// and refuses revoked peers; without it, the data dir's development CA issues its identity.
import { DevCa, StoqError } from '@stoq/core';
import { runService } from '@stoq/service';
import type { Logger } from 'pino';
import { parseCommand } from './args';
import { usageError } from './cli-error';
import { explicitDataDir } from './data-dir';
import { HELP } from './help';
import { devCaDir } from './identity';
import { addNodeMethods } from './node-service';
import { readTrustRoot } from './trust';

const STATS_INTERVAL_MS = 10_000;

export async function runNode(argv: string[]): Promise<number> {
  const parsed = parseCommand('node', argv, {
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    bind: { type: 'string' },
    'trust-root': { type: 'string' },
    'join-token': { type: 'string' },
  });
  if (!parsed) {
    process.stdout.write(`${HELP.node}\n`);
    return 0;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw usageError(`stoq node takes no positional arguments, got "${positionals[0]}" (see stoq node --help)`);
  if (!values.config) throw usageError('stoq node needs --config <stoq.toml> (see stoq node --help)');
  // --data-dir, then STOQ_DATA_DIR, then the config's node.data_dir (as for the client commands).
  const dataDir = explicitDataDir({ flag: values['data-dir'] })?.dir;
  const extraRoot = values['trust-root'] ? await readTrustRoot(values['trust-root'], '--trust-root') : undefined;

  // The service's logger, for onConnection: connections can arrive before runService returns
  // (a monitor scraping a restarted node at once), when `node` below is not assigned yet.
  let log: Logger | null = null;
  const node = await runService({
    service: 'node',
    configPath: values.config,
    overrides: { ...(dataDir ? { dataDir } : {}), ...(values.bind ? { bind: values.bind } : {}), ...(values['join-token'] ? { joinToken: values['join-token'] } : {}) },
    ...(extraRoot ? { extraTrustRootsPem: extraRoot } : {}),
    // No TrustChain configured: the development CA of the data dir issues the identity.
    localCa: async (dir, log) => {
      const caDir = devCaDir(dir);
      const ca = await DevCa.openOrCreate(caDir, { logger: log });
      if (ca.created) log.warn({ dir: caDir, fingerprint: ca.fingerprint }, 'created a new development CA: only identities from this data dir trust this node');
      return ca;
    },
    setup: async (ctx) => {
      const pin = ctx.config.certificates.rootFingerprint;
      if (!ctx.section.trustchain && pin) {
        const ca = await DevCa.openOrCreate(devCaDir(ctx.dataDir));
        if (ca.fingerprint !== pin) throw new StoqError('TLS_CONFIG', `certificates.root_fingerprint is ${pin} but the CA in ${devCaDir(ctx.dataDir)} has fingerprint ${ca.fingerprint}`);
      }
      log = ctx.logger;
      addNodeMethods(ctx.rpc, ctx.transport, ctx.config.node.name, ctx.logger);
      const stats = setInterval(() => ctx.logger.info({ stats: ctx.transport.stats() }, 'stats'), STATS_INTERVAL_MS);
      stats.unref();
      return { stop: () => clearInterval(stats) };
    },
    onConnection: (conn) => {
      log?.info({ peer: conn.peer?.instance ?? 'anonymous', service: conn.peer?.service ?? null, remote: conn.remoteAddress, group: conn.keyExchangeGroup }, 'connection');
    },
  });
  node.logger.info({ address: node.address, fingerprint: node.identity().fingerprint, requirePqKex: node.config.security.requirePqKex }, 'stoq node listening');
  await node.stopped;
  return 0;
}

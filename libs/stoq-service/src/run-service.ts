// runService(): everything a STOQ service process does besides its own methods, so an app's
// main.ts stays short. In order:
//   1. config: stoq.toml (or <service>.toml) with a [service] section and the service's own
//      section if it declares one, validated;
//   2. identity: the data dir's keys and certificate; first start enrolls with TrustChain (join
//      token + pinned root fingerprint), a due certificate is renewed;
//   3. transport + RPC server (the app adds its methods in `setup`), peers checked against the
//      revocation list in verifyPeer;
//   4. TrustChain follow-ups: revocation watch, discovery lease, live renewal at 2/3 of life;
//   5. shutdown on SIGTERM/SIGINT: deregister, drain calls, stop followers, close the transport,
//      then the app's own `stop` (storage last, after the last call that could write to it).
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import {
  NodeIdentity,
  StoqTransport,
  hostOf,
  pemToDerList,
  transportOptionsFromConfig,
  type CertificateSource,
  type Ipv6Endpoint,
  type StoqConfig,
  type StoqConnection,
  type TransportIdentity,
} from '@stoq/core';
import { DnsSrvResolver, RpcClient, RpcServer, type Resolution, type Resolver } from '@stoq/rpc';
import { processMetrics } from './process-metrics';
import { ServiceError } from './errors';
import { LeaseKeeper } from './lease-keeper';
import { RenewalScheduler } from './renewal';
import { RevocationFollower } from './revocation-follower';
import { RevocationSet, rootListVerifier } from './revocation-set';
import { dnsServerOf, loadServiceConfig, type ServiceConfigSection, type ServiceSection } from './service-config';
import { TrustChainSource } from './trustchain-source';

export interface ServiceContext {
  readonly config: StoqConfig;
  readonly section: ServiceSection;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Add the app's methods here. */
  readonly rpc: RpcServer;
  /** Calls other services by name (DNS SRV through TrustChain). */
  readonly client: RpcClient;
  readonly transport: StoqTransport;
  identity(): NodeIdentity;
}

export interface ServiceHooks {
  /** Runs last at shutdown (close storage here). */
  stop?(): Promise<void> | void;
}

export interface ServiceDefinition<T = never> {
  /** The service name certificates carry, e.g. `caesar`. */
  service: string;
  configPath: string;
  /** The service's own config section (e.g. `[caesar]`), read with the config; its result is `setup`'s second argument. */
  section?: ServiceConfigSection<T>;
  /** Command-line overrides of the config. */
  overrides?: { dataDir?: string; bind?: string; joinToken?: string };
  /** Registers methods; may open storage and return how to close it. `own`: what `section.read` returned (undefined without `section`). */
  setup(ctx: ServiceContext, own: T | undefined): Promise<ServiceHooks | void> | ServiceHooks | void;
  /**
   * Issues the identity when no TrustChain is configured (stoq node's development CA). Without
   * it, a config lacking service.trustchain is an error.
   */
  localCa?: (dataDir: string, logger: Logger) => Promise<CertificateSource>;
  /** More roots (PEM) to trust besides the identity's own (stoq node's --trust-root); default: certificates.trust_root. */
  extraTrustRootsPem?: string;
  /** Install SIGTERM/SIGINT handlers that stop the service (default true). */
  handleSignals?: boolean;
  /** Default: pino JSON on stdout at logging.level. */
  logger?: Logger;
  /** Called for every authenticated connection accepted (for logs). */
  onConnection?: (conn: StoqConnection) => void;
}

export interface RunningService extends ServiceContext {
  readonly address: Ipv6Endpoint;
  /** The address published in DNS (null without TrustChain). */
  readonly advertised: Ipv6Endpoint | null;
  readonly revocations: RevocationSet;
  readonly renewal: RenewalScheduler | null;
  /** Ordered shutdown; resolves when everything is closed. Idempotent. */
  stop(reason?: string): Promise<void>;
  /** Resolves once the service has stopped (by signal or stop()). */
  readonly stopped: Promise<void>;
}

export async function runService<T = never>(def: ServiceDefinition<T>): Promise<RunningService> {
  const notes: Array<{ key: string; message: string }> = [];
  const { config, service: section, own, baseDir } = await loadServiceConfig(def.configPath, def.section, (key, message) => notes.push({ key, message }));
  if (def.overrides?.dataDir) config.node.dataDir = resolve(def.overrides.dataDir);
  if (def.overrides?.bind) config.transport.bind = def.overrides.bind;
  const dataDir = config.node.dataDir;
  const instance = config.node.name;
  const logger = def.logger ?? pino({ level: config.logging.level, base: { service: def.service, instance, host: hostname() } });
  for (const n of notes) logger.warn({ key: n.key, config: def.configPath }, n.message);

  const bindHost = hostOf(config.transport.bind);
  const advertiseHost = section.advertise ? hostOf(section.advertise) : bindHost === '::' ? '::1' : bindHost;
  let source: CertificateSource;
  if (section.trustchain) {
    source = trustChainSource(def, config, section, baseDir, logger);
  } else if (def.localCa) {
    source = await def.localCa(dataDir, logger);
  } else {
    throw new ServiceError('CONFIG_INVALID', `${def.configPath}: service.trustchain is not set; ${def.service} enrolls with TrustChain: set it to TrustChain's "[addr]:port"`);
  }
  const loadIdentity = (): Promise<NodeIdentity> =>
    NodeIdentity.loadOrCreate({
      dataDir,
      service: def.service,
      instance,
      ca: source,
      ipAddresses: [advertiseHost],
      lifetimeMs: config.certificates.lifetimeHours * 3_600_000,
      logger,
    });
  const identity = await loadIdentity();
  const rootDer = pemToDerList(identity.trustRootsPem, 'CERTIFICATE', 'trust roots').at(-1)!;
  const revocations = new RevocationSet(rootListVerifier(rootDer));

  const extraRoots = (def.extraTrustRootsPem ?? (config.certificates.trustRoot ? await readTrustRootFile(config.certificates.trustRoot, `certificates.trust_root in ${def.configPath}`) : '')).trim();
  const withRoots = (id: NodeIdentity): TransportIdentity =>
    extraRoots === '' ? id : { service: id.service, instance: id.instance, certChainPem: id.certChainPem, keyPem: id.keyPem, trustRootsPem: `${id.trustRootsPem.trimEnd()}\n${extraRoots}\n`, falconPublicKey: id.falconPublicKey, falconSecretKey: id.falconSecretKey };
  const transport = StoqTransport.listen({
    ...transportOptionsFromConfig(config),
    identity: withRoots(identity),
    logger,
    verifyPeer: (peer) => {
      const r = revocations.isRevoked(peer.fingerprint);
      if (r) throw new Error(`certificate ${r.serial} of ${peer.service}/${peer.instance} is revoked (reason ${r.reason}, revocation list version ${revocations.version})`);
    },
  });
  transport.on('auth-error', (err, remote) => logger.warn({ remote, code: err.code }, err.message));
  const rpc = new RpcServer({ service: def.service, logger, limits: { maxMessageBytes: config.performance.maxRpcMessageBytes } });
  const client = new RpcClient({
    // Identity is checked by service name (expectedService), so the TLS name is the service's
    // mesh name: an SRV target's address need not be in its certificate.
    connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
    resolver: meshResolver(section),
    limits: { maxMessageBytes: config.performance.maxRpcMessageBytes },
    logger,
  });

  let renewal: RenewalScheduler | null = null;
  const telemetry = processMetrics({ transport, certificateNotAfter: () => (renewal?.identity ?? identity).notAfter });
  rpc.addMetricSource(telemetry.read);
  const ctx: ServiceContext = { config, section, dataDir, logger, rpc, client, transport, identity: () => renewal?.identity ?? identity };
  let hooks: ServiceHooks;
  try {
    hooks = (await def.setup(ctx, own)) ?? {};
  } catch (err) {
    telemetry.close();
    client.close();
    rpc.close();
    await transport.close(0, 'start-up failed');
    throw err;
  }

  // Accept loop.
  const serving = (async () => {
    for (;;) {
      const conn = await transport.accept();
      if (!conn) return;
      try {
        def.onConnection?.(conn);
      } catch (err) {
        // A hook that throws must not end the accept loop (its rejection would end the process).
        logger.error({ err }, 'the service\'s onConnection hook threw; the connection is served anyway');
      }
      void rpc.serveConnection(conn);
    }
  })();

  const address = transport.localAddress;
  let follower: RevocationFollower | null = null;
  let lease: LeaseKeeper | null = null;
  let advertised: Ipv6Endpoint | null = null;
  const stopHooks: Array<() => Promise<void>> = [];
  try {
    if (section.trustchain) {
      follower = new RevocationFollower({
        rpc: client,
        set: revocations,
        logger,
        pollMs: section.revocationPollMs,
        // Every open connection with a revoked peer, in both directions: the ones it opened to
        // this service, and the ones this service (its client, NGauge's scrapes…) opened to it.
        onRevoked: (fps) => {
          for (const fp of fps) transport.closePeer(fp, 0, 'certificate revoked');
        },
      });
      await follower.start();
      renewal = new RenewalScheduler({ current: identity, reload: loadIdentity, install: (next) => transport.replaceIdentity(withRoots(next)), logger });
      renewal.start();
      advertised = section.advertise ?? `[${advertiseHost}]:${parseInt(address.slice(address.lastIndexOf(':') + 1), 10)}`;
      lease = new LeaseKeeper({ rpc: client, service: def.service, instance, advertise: advertised, leaseSeconds: section.leaseSeconds, priority: section.priority, weight: section.weight, logger });
      await lease.start();
    }
  } catch (err) {
    await follower?.stop();
    await renewal?.stop();
    client.close();
    rpc.close();
    await transport.close(0, 'start-up failed');
    await serving;
    telemetry.close();
    await hooks.stop?.();
    throw err;
  }
  logger.info({ address, advertised, fingerprint: identity.fingerprint, notAfter: identity.notAfter.toISOString(), dataDir, trustchain: section.trustchain }, `${def.service} serving`);

  let stopping: Promise<void> | null = null;
  let markStopped!: () => void;
  const stopped = new Promise<void>((r) => (markStopped = r));
  const stop = (reason = 'stop requested'): Promise<void> =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      await lease?.stop();
      const left = await rpc.drain(section.drainTimeoutMs);
      if (left > 0) logger.warn({ cancelled: left }, 'calls still running at the drain deadline were cancelled');
      await follower?.stop();
      await renewal?.stop();
      client.close();
      await transport.close(0, `${def.service} shutting down`);
      await serving;
      telemetry.close();
      for (const h of stopHooks) await h();
      await hooks.stop?.();
      logger.info('stopped');
      markStopped();
    })());
  if (def.handleSignals ?? true) {
    const onSignal = (sig: NodeJS.Signals): void => void stop(sig);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    stopHooks.push(async () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
  }
  return {
    ...ctx,
    address,
    advertised,
    revocations,
    get renewal() {
      return renewal;
    },
    stop,
    stopped,
  };
}

function trustChainSource(def: ServiceDefinition<unknown>, config: StoqConfig, section: ServiceSection, baseDir: string, logger: Logger): CertificateSource {
  const pin = config.certificates.rootFingerprint;
  return new TrustChainSource({
    trustchain: section.trustchain!,
    rootFingerprint: pin,
    requirePqKex: config.security.requirePqKex,
    logger,
    joinToken: async () => {
      const fromFlag = def.overrides?.joinToken ?? process.env.STOQ_JOIN_TOKEN;
      if (fromFlag) return fromFlag.trim();
      if (!section.joinTokenFile) return null;
      const file = isAbsolute(section.joinTokenFile) ? section.joinTokenFile : join(baseDir, section.joinTokenFile);
      try {
        return (await readFile(file, 'utf8')).trim();
      } catch (err) {
        throw new ServiceError('NO_JOIN_TOKEN', `cannot read service.join_token_file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      }
    },
  });
}

async function readTrustRootFile(path: string, what: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ServiceError('CONFIG_INVALID', `${what}: cannot read trust root ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`, { cause: err });
  }
  try {
    if (pemToDerList(pem, 'CERTIFICATE', 'trust root').length === 0) throw new Error('no CERTIFICATE block');
  } catch (err) {
    throw new ServiceError('CONFIG_INVALID', `${what}: ${path} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  return pem;
}

/** TrustChain by its configured address; every other service through TrustChain's DNS. */
function meshResolver(section: ServiceSection): Resolver {
  const dns = dnsServerOf(section);
  const srv = dns ? new DnsSrvResolver({ server: dns }) : null;
  return {
    async resolve(service: string, signal?: AbortSignal): Promise<Resolution> {
      if (service === 'trustchain' && section.trustchain) {
        return { targets: [{ endpoint: section.trustchain, expectedService: 'trustchain' }], ttlMs: Number.POSITIVE_INFINITY };
      }
      if (!srv) return { targets: [], ttlMs: 5000 };
      return srv.resolve(service, signal);
    },
  };
}

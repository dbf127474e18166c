// startTrustChain(): one TrustChain process. Wiring only; the logic is in ca/, core/, dns/,
// service/ and store/. In order:
//   1. state: the SQLite store (created on first start only), the root and CT key (Authority),
//      the CT log, the Issuer, and CT reconciliation after a crash;
//   2. identities self-issued from the root through the Issuer (recorded and CT-logged like any
//      certificate): TrustChain's own leaf in <data-dir>/identity/ and the admin identity the
//      CLI uses in <data-dir>/admin/identity/ (both reused across restarts, renewed at 2/3);
//   3. one RpcServer for service `trustchain` (CA, revocation, discovery and, via the seam
//      below, `trustchain/ct/*`: a method path's service is its first segment, so the CT
//      methods belong to this same server), a StoqTransport that also accepts certificate-less
//      enrolling clients, the accept loop;
//   4. the DNS server for `hypermesh.` with TrustChain's own SRV + AAAA;
//   5. close(): stop serving calls, then the transport, DNS, the CT log, the store.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  NodeIdentity,
  StoqTransport,
  createCsr,
  derToPem,
  hostOf,
  nativeFalcon,
  parseCsr,
  parseIpv6Endpoint,
  systemClock,
  type CertificateRequest,
  type CertificateSource,
  type Clock,
  type FalconScheme,
  type Ipv6Endpoint,
  type IssuedChain,
  type StoqConnection,
  type TimerHandle,
} from '@stoq/core';
import { CtLog } from '@stoq/ct-log';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { DnsSrvResolver, RpcClient, RpcServer } from '@stoq/rpc';
import { processMetrics, type GenesisSource } from '@stoq/service';
import { Authority, DATA_DIR_LAYOUT } from './ca/authority';
import { Issuer } from './ca/issuer';
import { TrustChainError } from './core/errors';
import { certificateNames } from './core/issuance-policy';
import { OWN_ADMIN } from './core/tokens';
import { DnsServer } from './dns/server';
import { EarnedIssuance } from './earned/earned-issuance';
import { ValidatorRotation } from './earned/validation-client';
import { Zone, type ZoneOptions } from './dns/zone';
import { ADMIN_SERVICE, addCaMethods, revokedCallerInterceptor } from './service/ca-service';
import { DiscoveryService, storedRegistrations } from './service/discovery-service';
import { trustChainMetrics } from './service/telemetry';
import { CaStore } from './store/ca-store';
import { addCtMethods, startCtHttpServer } from './ct';

export const TRUSTCHAIN_SERVICE = 'trustchain';
export const DEFAULT_INSTANCE = 'trustchain-1';
/** Where the admin identity lives: NodeIdentity files under <data-dir>/admin/identity/. */
export const ADMIN_DIR = 'admin';
export const ADMIN_INSTANCE = OWN_ADMIN.instance;
/** How long close() lets calls in progress finish. */
const DRAIN_TIMEOUT_MS = 2000;
/** A failed renewal of TrustChain's own identities is retried after this long. */
const RENEW_RETRY_MS = 60_000;
const MIN_RENEW_DELAY_MS = 250;

export interface StartTrustChainOptions {
  readonly dataDir: string;
  /** STOQ (QUIC) address, e.g. `[::1]:7440`; port 0 picks one. */
  readonly bind: Ipv6Endpoint;
  /** DNS (UDP + TCP) address, e.g. `[::1]:5354`. */
  readonly dnsBind: Ipv6Endpoint;
  readonly instance?: string;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Lifetime of issued leaves (ms); default 24 h. */
  readonly lifetimeMs?: number;
  readonly falcon?: FalconScheme;
  /** RFC 6962 HTTP read API of the CT log (see the CT wiring seam below); undefined: not served. */
  readonly ctHttpBind?: Ipv6Endpoint;
  /** Zone settings (TTLs, limits); the name server addresses default to the DNS bind address. */
  readonly zone?: ZoneOptions;
  /**
   * Further roots (DER) whose chains the CT log accepts in `trustchain/ct/add_chain`, beside
   * TrustChain's own root, as a public log accepts other CAs' certificates. They are trusted for
   * nothing else: not for enrollment, renewal or peer verification.
   */
  readonly ctExtraRoots?: readonly Uint8Array[];
  /**
   * The HyperMesh genesis whose validators approve earned certificates (issue_certificate):
   * `current()` is null until it exists (genesisFileSource of @stoq/service); absent = the earned path
   * answers NO_VALIDATOR_SET. The validators are found through TrustChain's own DNS.
   */
  readonly hypermeshGenesis?: GenesisSource;
  /** How long HyperMesh has to commit a certificate validation (ms). */
  readonly validationTimeoutMs?: number;
}

export interface RunningTrustChain {
  readonly stoqAddress: Ipv6Endpoint;
  readonly dnsAddress: Ipv6Endpoint;
  /** Where the CT log's RFC 6962 HTTP API listens, or null while it is not wired (see the seam). */
  readonly ctHttpAddress: Ipv6Endpoint | null;
  readonly rootFingerprint: string;
  readonly rpc: RpcServer;
  readonly authority: Authority;
  readonly store: CaStore;
  readonly ct: CtLog;
  readonly zone: Zone;
  readonly issuer: Issuer;
  readonly transport: StoqTransport;
  /** TrustChain's current own identity (renewed in place). */
  identity(): NodeIdentity;
  /** The admin identity the CLI uses. */
  adminIdentity(): NodeIdentity;
  /** Ordered shutdown; idempotent. */
  close(): Promise<void>;
}

/** Issues TrustChain's own identities from its root through the Issuer (recorded, CT-logged). */
export function localCertificateSource(issuer: Issuer, authority: Authority): CertificateSource {
  return {
    rootDer: authority.rootDer,
    async issue(req: CertificateRequest): Promise<IssuedChain> {
      const csr = parseCsr(createCsr({ service: req.service, instance: req.instance, tlsKey: req.tlsKey, falconPublicKey: req.falconPublicKey, ipAddresses: [...req.ipAddresses] }));
      const issued = await issuer.issueLocal(csr, certificateNames(csr, req.service));
      return { chainPem: issued.chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''), rootsPem: derToPem(authority.rootDer, 'CERTIFICATE') };
    },
  };
}

const usableHost = (h: string): string => (h === '::' ? '::1' : h);

export async function startTrustChain(opts: StartTrustChainOptions): Promise<RunningTrustChain> {
  const { dataDir, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const now = (): number => clock.now();
  const falcon = opts.falcon ?? nativeFalcon;
  const instance = opts.instance ?? DEFAULT_INSTANCE;
  const stoqHost = usableHost(hostOf(opts.bind));
  const dnsHost = usableHost(hostOf(opts.dnsBind));

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const dbPath = join(dataDir, DATA_DIR_LAYOUT.db);
  // A root without its database is partial state: every issued certificate and burned token
  // would be forgotten. Refuse instead of starting over.
  for (const part of [DATA_DIR_LAYOUT.ca, DATA_DIR_LAYOUT.intermediate]) {
    if (!existsSync(dbPath) && existsSync(join(dataDir, part))) {
      throw new TrustChainError('STATE_DAMAGED', `${dataDir} holds a CA (${part}/) but no ${DATA_DIR_LAYOUT.db}; restore the database from a backup`);
    }
  }
  const store = CaStore.open(dbPath, { create: true });
  const cleanup: Array<() => Promise<void> | void> = [() => store.close()];
  const unwind = async (): Promise<void> => {
    for (const c of cleanup.splice(0).reverse()) await c();
  };
  try {
    const authority = await Authority.open(dataDir, store, logger, falcon, now);
    const ct = await CtLog.openInDirectory({ dataDir: join(dataDir, DATA_DIR_LAYOUT.ct), signingKey: authority.logKey, falcon: authority.logFalcon, roots: [authority.rootDer, ...(opts.ctExtraRoots ?? [])], clock: now, logger });
    cleanup.push(() => ct.close());
    const issuer = new Issuer({ store, authority, ct, logger, now, falcon, ...(opts.lifetimeMs !== undefined ? { lifetimeMs: opts.lifetimeMs } : {}) });
    await issuer.reconcileCt();

    const source = localCertificateSource(issuer, authority);
    const adminDir = join(dataDir, ADMIN_DIR);
    mkdirSync(adminDir, { recursive: true, mode: 0o700 });
    const loadOwn = (): Promise<NodeIdentity> =>
      NodeIdentity.loadOrCreate({ dataDir, service: TRUSTCHAIN_SERVICE, instance, ca: source, ipAddresses: [stoqHost], now: new Date(now()), falcon, logger });
    const loadAdmin = (): Promise<NodeIdentity> =>
      NodeIdentity.loadOrCreate({ dataDir: adminDir, service: ADMIN_SERVICE, instance: ADMIN_INSTANCE, ca: source, ipAddresses: ['::1'], now: new Date(now()), falcon, logger });
    let identity = await loadOwn();
    let admin = await loadAdmin();

    const zoneOptions: ZoneOptions = { nameServerAddresses: [dnsHost], ...opts.zone };
    const zone = Zone.load(storedRegistrations(new Zone(zoneOptions), store, now()), now(), zoneOptions);
    const dns = await DnsServer.start({ zone, bind: opts.dnsBind, clock, logger });
    cleanup.push(() => dns.close());

    const rpc = new RpcServer({ service: TRUSTCHAIN_SERVICE, logger, clock, interceptors: [revokedCallerInterceptor(store)] });
    // The client to HyperMesh exists once the transport does (below); issuance waits for nothing
    // else, since calls are only served after that.
    let meshClient: ValidatorRotation | null = null;
    const genesis = opts.hypermeshGenesis;
    const earned = genesis
      ? new EarnedIssuance({
          issuer,
          validatorSet: () => genesis.current()?.validatorSet ?? null,
          verifier: falconSignatureVerifier(falcon),
          logger,
          ...(opts.validationTimeoutMs !== undefined ? { timeoutMs: opts.validationTimeoutMs } : {}),
          hypermesh: {
            validateCertificate: (request, timeoutMs) => {
              if (!meshClient) throw new TrustChainError('CONSENSUS_UNAVAILABLE', 'TrustChain is still starting');
              return meshClient.validateCertificate(request, timeoutMs);
            },
          },
        })
      : undefined;
    const revocations = addCaMethods(rpc, { store, authority, issuer, ct, dataDir, logger, clock, falcon, ...(earned ? { earned } : {}) });
    await revocations.start();
    const discovery = new DiscoveryService({ zone, store, clock, logger });
    discovery.addMethods(rpc);

    // ---------------------------------------------------------------- CT wiring seam
    // Certificate Transparency: the `trustchain/ct/*` methods on this same server (their service
    // is `trustchain`), and the RFC 6962 HTTP read API, closed before the CT log (cleanup runs
    // in reverse).
    addCtMethods(rpc, { log: ct, logger });
    const ctHttp = opts.ctHttpBind ? await startCtHttpServer({ log: ct, bind: opts.ctHttpBind, logger }) : null;
    if (ctHttp) cleanup.push(() => ctHttp.close());
    const ctHttpAddress: Ipv6Endpoint | null = ctHttp ? ctHttp.address : null;

    const transport = StoqTransport.listen({
      bind: opts.bind,
      identity,
      acceptAnonymousClients: true,
      logger,
      // New handshakes with a revoked certificate are refused; calls on connections opened
      // before the revocation are refused by revokedCallerInterceptor.
      verifyPeer: (peer) => {
        const row = store.certificateByFingerprint(peer.fingerprint);
        if (row?.revokedAt != null) throw new Error(`certificate ${row.serial} of ${peer.service}/${peer.instance} is revoked`);
      },
    });
    transport.on('auth-error', (err, remote) => logger.warn({ remote, code: err.code }, err.message));
    if (genesis) {
      const srv = new DnsSrvResolver({ server: dns.endpoint });
      const client = new RpcClient({
        connector: (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined }),
        resolver: srv,
        logger,
      });
      meshClient = new ValidatorRotation(client, srv, clock);
      cleanup.push(() => client.close());
      const g = genesis.current();
      if (g) logger.info({ chainId: g.chainId, validators: g.validators.length, genesis: g.sha256 }, 'earned certificates approved by this HyperMesh validator set');
      else logger.warn('the HyperMesh genesis does not exist yet: issue_certificate answers NO_VALIDATOR_SET until it does');
    }
    const telemetry = processMetrics({ transport, certificateNotAfter: () => identity.notAfter });
    cleanup.push(() => telemetry.close());
    rpc.addMetricSource(telemetry.read).addMetricSource(trustChainMetrics({ store, ct, dns, clock }));
    const serving = (async () => {
      for (;;) {
        const conn: StoqConnection | null = await transport.accept();
        if (!conn) return;
        void rpc.serveConnection(conn);
      }
    })();
    cleanup.push(async () => {
      // Watch streams end first (they would otherwise hold the drain to its deadline).
      await revocations.close();
      const left = await rpc.drain(DRAIN_TIMEOUT_MS);
      if (left > 0) logger.warn({ cancelled: left }, 'calls still running at the drain deadline were cancelled');
      await transport.close(0, 'TrustChain shutting down');
      await serving;
    });
    const stoqAddress = transport.localAddress;
    const dnsAddress = dns.endpoint;

    discovery.registerOwn({ service: TRUSTCHAIN_SERVICE, instance }, { address: stoqHost, port: parseIpv6Endpoint(stoqAddress).port });
    discovery.start();
    cleanup.push(() => discovery.close());

    // Renewal of both own identities at 2/3 of life; TrustChain's goes live in the transport.
    let renewTimer: TimerHandle | null = null;
    let closed = false;
    const scheduleRenewal = (delayMs?: number): void => {
      if (closed) return;
      const due = Math.min(identity.renewAt.getTime(), admin.renewAt.getTime());
      // At least MIN_RENEW_DELAY_MS: a timer firing a hair before the due time finds nothing to renew yet.
      renewTimer = clock.setTimeout(() => void renew(), Math.max(MIN_RENEW_DELAY_MS, delayMs ?? due - now()));
    };
    const renew = async (): Promise<void> => {
      try {
        const next = await loadOwn();
        if (next.reissued) {
          transport.replaceIdentity(next);
          logger.info({ fingerprint: next.fingerprint, notAfter: next.notAfter.toISOString() }, 'TrustChain identity renewed');
        }
        identity = next;
        admin = await loadAdmin();
        scheduleRenewal();
      } catch (err) {
        logger.error({ err }, 'renewing TrustChain’s own identity failed; retrying');
        scheduleRenewal(RENEW_RETRY_MS);
      }
    };
    scheduleRenewal();
    cleanup.push(() => {
      closed = true;
      if (renewTimer) clock.clearTimeout(renewTimer);
    });

    logger.info({ rootFingerprint: authority.fingerprint, stoq: stoqAddress, dns: dnsAddress, ctHttp: ctHttpAddress, dataDir, instance, identity: identity.fingerprint }, 'TrustChain serving');
    let closing: Promise<void> | null = null;
    return {
      stoqAddress,
      dnsAddress,
      ctHttpAddress,
      rootFingerprint: authority.fingerprint,
      rpc,
      authority,
      store,
      ct,
      zone,
      issuer,
      transport,
      identity: () => identity,
      adminIdentity: () => admin,
      close: () =>
        (closing ??= (async () => {
          await unwind();
          logger.info('TrustChain stopped');
        })()),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

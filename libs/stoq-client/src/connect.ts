// `connect('caesar')`: a typed client of any STOQ service, found by name. Only TrustChain's DNS
// is needed (given, `$STOQ_DNS`, or read from the `npm start` ecosystem folder found from the
// current directory up); the service is resolved through DNS SRV, and a connection is accepted
// only from an instance whose certificate names that service. The identity is one TrustChain
// issued (given as a directory, or the ecosystem's CLI identity; its admin identity when asked).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList, type CertificateSource, type Ipv6Endpoint } from '@stoq/core';
import { caesar, catalog, hypermesh, ngauge, trustchain } from '@stoq/protos';
import { DnsSrvResolver, RpcClient, StaticResolver, createStub, type Connector, type Resolver, type Stub } from '@stoq/rpc';
import { locateTrustChain, renewedIfDue, type RenewalOptions } from './identity-renewal';
import { TrustChainDnsQuerier } from './trustchain-dns';

/** Every service's generated methods, by STOQ service name. */
export const SERVICE_METHODS = {
  trustchain: trustchain.TrustChainMethods,
  'trustchain/ct': trustchain.CtMethods,
  caesar: caesar.CaesarMethods,
  hypermesh: hypermesh.ConsensusMethods,
  'hypermesh/assets': hypermesh.AssetsMethods,
  ngauge: ngauge.NGaugeMethods,
  catalog: catalog.CatalogMethods,
} as const;

export type ServiceName = keyof typeof SERVICE_METHODS;

/** A typed client: one function per method of the service, plus `close()`. */
export type ServiceClient<S extends ServiceName> = Stub<(typeof SERVICE_METHODS)[S]> & {
  /** The RPC client underneath (deadlines, metadata, other methods). */
  readonly rpc: RpcClient;
  close(): Promise<void>;
};

export interface ConnectOptions {
  /** TrustChain's DNS `[addr]:port`; default `$STOQ_DNS`, else the ecosystem's. */
  dns?: string;
  /**
   * Instead of `dns`: TrustChain's STOQ address `[addr]:port`; services are then resolved with
   * `trustchain/resolve_dns` over an authenticated connection to it (TrustChain-only setups with
   * no DNS port reachable). Default `$STOQ_TRUSTCHAIN`.
   */
  trustchain?: string;
  /** A directory holding an identity TrustChain issued (`identity/cert.pem` …); default `$STOQ_IDENTITY`, else the ecosystem's CLI identity (`.stoq/ecosystem/cli`, enrolled by the launcher). */
  identity?: string;
  /** Use the ecosystem's administrator identity instead (`.stoq/ecosystem/admin`, enrolled by the launcher with its own admin token; only when asked: it may do what clients may not). */
  admin?: boolean;
  /** Where to look for `.stoq/ecosystem` (and up from there); default the current directory. */
  from?: string;
}

export class ConnectError extends Error {
  constructor(
    readonly code: 'NO_DNS' | 'NO_IDENTITY' | 'UNKNOWN_SERVICE',
    message: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** An `npm start` ecosystem folder: where it is, TrustChain's DNS, the CLI and the admin identities. */
export interface Ecosystem {
  readonly dir: string;
  readonly dns: string;
  readonly cli: string;
  readonly admin: string;
}

/** The nearest `.stoq/ecosystem` from `from` upward that has TrustChain's serve.json. */
export function findEcosystem(from: string): Ecosystem | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const eco = join(dir, '.stoq', 'ecosystem');
    const serveJson = join(eco, 'trustchain', 'serve.json');
    if (existsSync(serveJson)) {
      const info = JSON.parse(readFileSync(serveJson, 'utf8')) as { dns?: unknown };
      if (typeof info.dns === 'string') return { dir: eco, dns: info.dns, cli: join(eco, 'cli'), admin: join(eco, 'admin') };
    }
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Loads an identity TrustChain issued, stored in `dir` (names from its certificate). Nothing is
 * issued, except with `renew`: a certificate past 2/3 of its lifetime is then renewed with
 * TrustChain first (best effort: a failed renewal leaves the still valid certificate in use).
 */
export async function storedIdentity(dir: string, opts: { renew?: RenewalOptions } = {}): Promise<NodeIdentity> {
  const certFile = join(dir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain);
  if (!existsSync(certFile)) throw new ConnectError('NO_IDENTITY', `${dir} holds no identity (${certFile} is missing): give an identity TrustChain issued`);
  const leaf = parseHybridCertificate(pemToDerList(readFileSync(certFile, 'utf8'), 'CERTIFICATE', certFile)[0]!);
  const service = leaf.dnsNames.find((n) => /^[^.]+\.hypermesh$/.test(n))?.split('.')[0] ?? leaf.commonName;
  const load = (ca: CertificateSource | null): Promise<NodeIdentity> =>
    NodeIdentity.loadOrCreate({ dataDir: dir, service, instance: leaf.commonName, ca, ...(leaf.ipAddresses.length > 0 ? { ipAddresses: [...leaf.ipAddresses] } : {}) });
  const identity = await load(null);
  return opts.renew ? renewedIfDue(identity, load, { ...opts.renew, dir }) : identity;
}

export async function connect<S extends ServiceName>(service: S, opts: ConnectOptions = {}): Promise<ServiceClient<S>> {
  const methods = SERVICE_METHODS[service];
  if (!methods) throw new ConnectError('UNKNOWN_SERVICE', `unknown service "${String(service)}"; known: ${Object.keys(SERVICE_METHODS).join(', ')}`);
  const eco = findEcosystem(opts.from ?? process.cwd());
  // Given options first, then the environment; DNS before TrustChain at each step (as `stoq call`).
  const envDns = process.env['STOQ_DNS'] || undefined;
  const tc = opts.dns ? undefined : (opts.trustchain ?? (envDns ? undefined : process.env['STOQ_TRUSTCHAIN'] || undefined));
  const dns = tc ? undefined : (opts.dns ?? envDns ?? eco?.dns);
  if (!dns && !tc) throw new ConnectError('NO_DNS', "no TrustChain DNS: pass { dns: '[::1]:5354' } or { trustchain: '[::1]:7440' }, set STOQ_DNS or STOQ_TRUSTCHAIN, or run inside a folder with an `npm start` ecosystem");
  if (opts.admin && (opts.identity !== undefined || !eco)) {
    throw new ConnectError('NO_IDENTITY', opts.identity !== undefined ? '{ admin: true } uses the ecosystem\'s administrator identity; it does not go with { identity }' : '{ admin: true } uses the administrator identity of an `npm start` ecosystem (.stoq/ecosystem/admin), and none was found from here; pass { identity: DIR } with an administrator\'s identity instead');
  }
  const identityDir = opts.admin ? eco!.admin : (opts.identity ?? (process.env['STOQ_IDENTITY'] || undefined) ?? eco?.cli);
  if (!identityDir) throw new ConnectError('NO_IDENTITY', 'no identity: pass { identity: DIR } or set STOQ_IDENTITY (a directory with an identity TrustChain issued)');
  // Renewed first when past 2/3 of its lifetime (a client identity renews when it is used).
  const identity = await storedIdentity(resolve(identityDir), { renew: { trustchain: locateTrustChain(tc ? { trustchain: tc } : { dns: dns! }) } });
  const transport = StoqTransport.create({ identity, bind: '[::]:0' });
  // The certificate must name the service (expectedService); the TLS name is its mesh name.
  const connector: Connector = (ep, o) => transport.connect(ep, { ...o, serverName: o.expectedService ? `${o.expectedService}.hypermesh` : undefined });
  const discovery = tc ? trustChainDiscovery(connector, tc as Ipv6Endpoint) : null;
  const rpc = new RpcClient({ connector, resolver: discovery?.resolver ?? new DnsSrvResolver({ server: dns as Ipv6Endpoint }) });
  const stub = createStub(rpc, methods) as Stub<(typeof SERVICE_METHODS)[S]>;
  return Object.assign(stub, {
    rpc,
    async close() {
      rpc.close();
      discovery?.close();
      await transport.close();
    },
  });
}

/** Discovery through TrustChain's resolve_dns; TrustChain itself is at its configured address. */
export function viaTrustChain(toTrustChain: RpcClient, address: Ipv6Endpoint): Resolver {
  const srv = new DnsSrvResolver({ querier: new TrustChainDnsQuerier(toTrustChain) });
  const self = new StaticResolver({ trustchain: [address] });
  return { resolve: (service, signal) => (service === 'trustchain' ? self.resolve(service) : srv.resolve(service, signal)) };
}

/**
 * A resolver over TrustChain at `address` (resolve_dns), with the RPC client it dials TrustChain
 * with (`connector`, one attempt per question: the caller's call retries); close() closes that client.
 */
export function trustChainDiscovery(connector: Connector, address: Ipv6Endpoint): { resolver: Resolver; close(): void } {
  const toTrustChain = new RpcClient({ connector, resolver: new StaticResolver({ trustchain: [address] }), retry: { maxAttempts: 1 } });
  return { resolver: viaTrustChain(toTrustChain, address), close: () => toTrustChain.close() };
}

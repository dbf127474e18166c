// A CLI session: the CLI identity, a client transport, one authenticated connection to the
// target, and an RPC client that uses exactly that connection.
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NODE_IDENTITY_FILES, NodeIdentity, StoqTransport, parseHybridCertificate, pemToDerList, type DialedConnection, type Ipv6Endpoint, type TransportIdentity } from '@stoq/core';
import { locateTrustChain, storedIdentity, trustChainDiscovery } from '@stoq/client';
import { DnsSrvResolver, RpcClient, StaticResolver } from '@stoq/rpc';
import { CliError } from './cli-error';
import { resolveDataDir, type DataDirChoice } from './data-dir';
import { devCaDir, loadCliIdentity } from './identity';
import { readTrustRoot, rootFingerprints, untrustedPeerError, untrustedPeerReason, withExtraRoot, type TrustedRoot } from './trust';

export interface ClientIdentityOptions {
  /** --data-dir, if given. */
  dataDir?: string;
  /** Service name in the CLI's certificate (default "cli"); the dev CA issues it on first use. */
  as?: string;
  /** --trust-root FILE: one more root (PEM) to trust. */
  trustRoot?: string;
  /**
   * --identity DIR: use the identity stored in DIR (a NodeIdentity directory's parent, e.g. a
   * node's data dir or TrustChain's <data-dir>/admin) instead of the development CA's.
   */
  identityDir?: string;
  /** --verbose: say which data dir is used. */
  verbose?: boolean;
  /** Where messages for the user go (default stderr). */
  note?: (line: string) => void;
  /**
   * Where TrustChain is found: an --identity certificate past 2/3 of its lifetime is then renewed
   * before use (the ecosystem's CLI and admin identities are used now and then, never by a
   * process that stays up to renew them).
   */
  renewVia?: Discovery;
}

/** The loaded identity plus what the CLI needs to explain trust problems. */
export interface ClientIdentity {
  identity: NodeIdentity;
  dataDir: DataDirChoice;
  trusted: TrustedRoot[];
  /** Identity for StoqTransport, with the extra --trust-root (if any) added to the trust roots. */
  transportIdentity: TransportIdentity;
}

export async function loadClientIdentity(opts: ClientIdentityOptions): Promise<ClientIdentity> {
  const note = opts.note ?? ((line: string) => process.stderr.write(`stoq: ${line}\n`));
  if (opts.identityDir !== undefined) return loadStoredIdentity(resolve(opts.identityDir), opts.trustRoot, opts.renewVia, note);
  const dataDir = await resolveDataDir({ flag: opts.dataDir });
  if (opts.verbose) note(`data dir ${dataDir.dir} (from ${dataDir.source})`);
  const as = opts.as ?? 'cli';
  const identity = await loadCliIdentity({
    dataDir: dataDir.dir,
    service: as,
    instance: as,
    onCaCreated: (dir, fp) =>
      note(`created a new development CA in ${dir} (root sha256:${fp}); only nodes using this data dir (${dataDir.source}) trust it`),
  });
  const trusted: TrustedRoot[] = rootFingerprints(identity.trustRootsPem).map((fingerprint) => ({
    fingerprint,
    from: `the development CA in ${devCaDir(dataDir.dir)}, data dir from ${dataDir.source}`,
  }));
  let extraRoot = '';
  if (opts.trustRoot !== undefined) {
    extraRoot = await readTrustRoot(opts.trustRoot, '--trust-root');
    for (const fingerprint of rootFingerprints(extraRoot)) trusted.push({ fingerprint, from: `--trust-root ${opts.trustRoot}` });
  }
  return { identity, dataDir, trusted, transportIdentity: withExtraRoot(identity, extraRoot) };
}

/** An identity issued elsewhere (TrustChain): names come from its certificate; nothing is issued. */
async function loadStoredIdentity(dir: string, trustRoot: string | undefined, renewVia: Discovery | undefined, note: (line: string) => void): Promise<ClientIdentity> {
  const certFile = join(dir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.certChain);
  try {
    await access(certFile);
  } catch (cause) {
    throw new CliError('FILE_UNREADABLE', `--identity ${dir}: cannot read ${certFile}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)} (expected a data dir holding identity/cert.pem, e.g. a node's data dir or TrustChain's <data-dir>/admin)`, { cause });
  }
  const renew = renewVia && {
    trustchain: locateTrustChain(renewVia),
    onRenewed: (notAfter: Date) => note(`renewed the certificate of ${dir} with TrustChain (valid until ${notAfter.toISOString()})`),
    onFailure: (err: Error) => note(`could not renew the certificate of ${dir} (${err.message}); using it until it expires`),
  };
  // An expired client certificate cannot be renewed (renewal needs a valid one): say what to do.
  const notAfter = parseHybridCertificate(pemToDerList(await readFile(certFile, 'utf8'), 'CERTIFICATE', certFile)[0]!).notAfter;
  if (Date.now() >= notAfter.getTime()) {
    throw new CliError(
      'IDENTITY_EXPIRED',
      `--identity ${dir}: its certificate expired at ${notAfter.toISOString()}. A client identity renews itself when used in the last third of its lifetime; this one was not used in time: restart \`npm start\` (it enrolls the ecosystem's cli and admin identities again) or enroll it with a new join token (\`stoq enroll\`)`,
    );
  }
  const identity = await storedIdentity(dir, renew ? { renew } : {});
  const trusted: TrustedRoot[] = rootFingerprints(identity.trustRootsPem).map((fingerprint) => ({ fingerprint, from: `--identity ${dir}` }));
  let extraRoot = '';
  if (trustRoot !== undefined) {
    extraRoot = await readTrustRoot(trustRoot, '--trust-root');
    for (const fingerprint of rootFingerprints(extraRoot)) trusted.push({ fingerprint, from: `--trust-root ${trustRoot}` });
  }
  return { identity, dataDir: { dir, source: '--identity' }, trusted, transportIdentity: withExtraRoot(identity, extraRoot) };
}

/** Where services are looked up: TrustChain's DNS server, or TrustChain itself over STOQ. */
export type Discovery = { dns: string } | { trustchain: string };

/**
 * The target of `service` found by name: DNS SRV at TrustChain's DNS, or the same records through
 * `trustchain/resolve_dns` on a connection to TrustChain made with `client`'s identity; best
 * priority first. The certificate must then name the service; the TLS name is `<service>.hypermesh`.
 */
export async function discoverTarget(service: string, via: Discovery, client: ClientIdentity): Promise<{ target: string; serverName: string }> {
  const where = 'dns' in via ? `DNS at ${via.dns}` : `TrustChain at ${via.trustchain}`;
  let found;
  if ('dns' in via) {
    try {
      found = await new DnsSrvResolver({ server: via.dns as Ipv6Endpoint }).resolve(service);
    } catch (cause) {
      throw new CliError('UNREACHABLE', `cannot look up service "${service}" in ${where}: ${(cause as Error).message}`, { cause });
    }
  } else {
    const transport = createClientTransport(client);
    const discovery = trustChainDiscovery((ep, o) => transport.connect(ep, { ...o, serverName: 'trustchain.hypermesh' }), via.trustchain as Ipv6Endpoint);
    try {
      found = await discovery.resolver.resolve(service);
    } catch (cause) {
      throw new CliError('UNREACHABLE', `cannot look up service "${service}" through ${where} (trustchain/resolve_dns): ${(cause as Error).message}`, { cause });
    } finally {
      discovery.close();
      await transport.close();
    }
  }
  const best = [...found.targets].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))[0];
  if (!best) throw new CliError('UNREACHABLE', `no instance of service "${service}" is registered in ${where} (_stoq._udp.${service}.hypermesh has no SRV records)`);
  return { target: best.endpoint, serverName: `${service}.hypermesh` };
}

export interface ConnectOptions {
  target: string;
  serverName?: string;
  expectedService?: string;
  connectTimeoutMs: number;
}

export interface Session {
  transport: StoqTransport;
  conn: DialedConnection;
  /** From the connect call to an authenticated connection (TLS + FALCON exchange). */
  handshakeMs: number;
  rpc: RpcClient;
  close(): Promise<void>;
}

/** A client endpoint for `client`; a fresh one holds no TLS session tickets. */
export function createClientTransport(client: ClientIdentity): StoqTransport {
  return StoqTransport.create({ identity: client.transportIdentity, bind: '[::]:0', zeroRtt: false });
}

/** Largest request or response message the CLI sends or accepts (bytes). */
const CLI_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Connects to the target on `shared` (left open by `close()`), or on a fresh client transport of
 * its own (closed by `close()`).
 */
export async function connectSession(client: ClientIdentity, opts: ConnectOptions, shared?: StoqTransport): Promise<Session> {
  const transport = shared ?? createClientTransport(client);
  try {
    const t0 = performance.now();
    const conn = await withTimeout(
      transport.connect(opts.target, { serverName: opts.serverName, expectedService: opts.expectedService }),
      opts.connectTimeoutMs,
      () => new CliError('UNREACHABLE', `no STOQ node answered at ${opts.target} within ${opts.connectTimeoutMs} ms`),
    );
    const handshakeMs = performance.now() - t0;
    const service = conn.peer.service;
    const rpc = new RpcClient({
      connector: async () => conn,
      resolver: new StaticResolver({ [service]: [opts.target] }),
      retry: { maxAttempts: 1 },
      // The node's performance.max_rpc_message_bytes is what decides; the CLI only keeps a
      // ceiling of its own (a call is the user's own request, not a stranger's).
      limits: { maxMessageBytes: CLI_MAX_MESSAGE_BYTES },
    });
    return {
      transport,
      conn,
      handshakeMs,
      rpc,
      async close() {
        rpc.close();
        conn.close(0, 'done');
        if (!shared) await transport.close(); // waits until the node was told we closed
      },
    };
  } catch (err) {
    if (!shared) void transport.close(); // nothing to drain after a failure; the command exits right away
    if (untrustedPeerReason(err) !== null) throw untrustedPeerError(err, opts.target, client.trusted, client.dataDir.dir);
    throw err;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

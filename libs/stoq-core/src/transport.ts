// StoqTransport: the TypeScript face of the STOQ transport. A thin I/O shell over the native
// QUIC engine that adds the post-quantum FALCON exchange (falcon-handshake.ts) and peer identity.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { AsyncQueue } from './async-queue';
import { QuicStoqConnection } from './connection';
import { StoqError } from './errors';
import {
  ALPN,
  CloseCode,
  EXPORTER_LABEL,
  EXPORTER_LENGTH,
  AUTH_ANONYMOUS,
  decodeAuthMessage,
  encodeAuthProof,
  signedTranscript,
  type Role,
} from './falcon-handshake';
import { parseHybridCertificate, peerNamesFromCertificate, verifyAltSignatureChain } from './identity/parse';
import {
  loadNative,
  type NativeConnection,
  type NativeEndpoint,
  type NativeEndpointOptions,
  type NativeEndpointStats,
} from './native-binding';
import { fromNativeError } from './native-error';
import { parseIpv6Endpoint } from './packet/ipv6';
import { pemToDerList } from './identity/pem';
import { RateLimitedLog } from './rate-limited-log';
import { DEFAULT_SEND_LIMITS, SendBudget, type SendLimits } from './send-budget';
import { QuicStoqStream } from './stream';
import type { DialedConnection, Ipv6Endpoint, PeerIdentity, StoqConnection } from './types';

/** What a node needs to take part in STOQ: its certificates, TLS key and FALCON key pair. */
export interface TransportIdentity {
  readonly service: string;
  readonly instance: string;
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly trustRootsPem: string;
  readonly falconPublicKey: Uint8Array;
  readonly falconSecretKey: Uint8Array;
}

/**
 * A node that has no certificate yet and dials only to enroll: it presents no certificate, and it
 * trusts either the given roots or the server chain whose root has the pinned SHA-256 (the
 * fingerprint an operator hands out with the join token, as `step ca bootstrap` does).
 */
export interface EnrollingIdentity {
  readonly enrolling: true;
  readonly trustRootsPem?: string;
  /** SHA-256 of the root certificate's DER, 64 hex digits (colons allowed). */
  readonly trustRootSha256?: string;
}

export interface StoqTransportOptions {
  /** Who this node is; an `EnrollingIdentity` only for a client-only transport. */
  identity: TransportIdentity | EnrollingIdentity;
  /**
   * Server: also accept clients with no certificate (enrolling nodes). Their connections have
   * `peer === null`; `verifyPeer` is not called for them. Default false.
   */
  acceptAnonymousClients?: boolean;
  /** Local IPv6 socket address. Default `[::]:0` (any port). IPv4 is refused. */
  bind?: Ipv6Endpoint;
  /** Accept incoming connections (server role). A transport can always dial out. */
  listen?: boolean;
  /**
   * How long `close()` waits for its connections' closing and draining periods (3 PTOs each:
   * at most about 3 s for a handshake with no RTT sample yet) before it stops waiting.
   * Default 3000.
   */
  closeDrainMs?: number;
  /** Refuse any TLS key exchange other than X25519MLKEM768. */
  requirePqKex?: boolean;
  /** Accept (server) or allow (client) 0-RTT early data on resumed connections. */
  zeroRtt?: boolean;
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  maxConcurrentStreams?: number;
  /**
   * Largest UDP payload (bytes, 1200..65527) path-MTU discovery may probe for and this endpoint
   * accepts. Default 4096. Discovery starts at 1200 and keeps only sizes the path carried, so a
   * high value is safe anywhere; it pays off on loopback (65536-byte MTU) and jumbo-frame links
   * (9000) in throughput, but probes sent during the FALCON exchange slow connection set-up
   * (about +1 ms at 9000, +2 ms at 16384 on loopback): see native/src/endpoint.rs.
   */
  maxUdpPayload?: number;
  /**
   * Path-MTU discovery (default true). false for an endpoint whose connections carry one request
   * each (an enrollment, a renewal): its probes, several KiB sent right after the handshake, cost
   * both sides CPU and never pay off; datagrams stay at 1200 bytes.
   */
  mtuDiscovery?: boolean;
  /**
   * Most connections held at once (authenticated or still in the FALCON exchange). Further
   * incoming connections are closed with CONNECTION_LIMIT. Default 10,000.
   */
  maxConnections?: number;
  /** Largest length-prefixed message `receiveMessage()` accepts. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Bounds on written bytes not yet taken by quinn: per stream, per connection, for the whole
   * transport, and per event-loop turn before writes yield to I/O (send-budget.ts). Defaults:
   * `DEFAULT_SEND_LIMITS`.
   */
  sendLimits?: Partial<SendLimits>;
  /**
   * QUIC flow-control windows (bytes). `sendWindow`: most unacknowledged bytes quinn buffers per
   * connection (default 8 MiB). `streamReceiveWindow` / `receiveWindow`: most bytes a peer may
   * send ahead of our reading, per stream (default 2 MiB) and per connection (default 16 MiB).
   */
  sendWindow?: number;
  streamReceiveWindow?: number;
  receiveWindow?: number;
  /** How long the FALCON exchange may take after TLS before the connection is dropped. Default 10 s. */
  authTimeoutMs?: number;
  /**
   * Extra check on an authenticated peer (after TLS and FALCON). Throw to refuse it; the
   * connection is then closed with PEER_REJECTED and the message as reason.
   */
  verifyPeer?: (peer: PeerIdentity, chainDer: readonly Uint8Array[]) => void | Promise<void>;
  logger?: Logger;
}

export interface ConnectOptions {
  /** Name checked against the server certificate SAN. Default: the endpoint's IPv6 literal. */
  serverName?: string;
  /** Refuse the connection unless the server's certificate names this service. */
  expectedService?: string;
  /** Use 0-RTT if a resumption ticket exists. Only for idempotent early data. */
  zeroRtt?: boolean;
}

export interface TransportStats extends NativeEndpointStats {
  authenticatedConnections: number;
  authFailures: number;
  /** Incoming connections closed at once because `maxConnections` were open. */
  refusedConnections: number;
  /** Written bytes waiting below quinn across all connections (bounded by sendLimits.totalBytes). */
  queuedSendBytes: number;
}

export interface StoqTransportEvents {
  'auth-error': [error: StoqError, remoteAddress: string];
  /** An incoming TLS handshake was refused (untrusted issuer, no client certificate, no PQ group, wrong ALPN...). */
  'handshake-refused': [reason: string, remoteAddress: string];
}

const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024;
const VERIFIED_CHAIN_CACHE = 1024;
const DEFAULT_MAX_CONNECTIONS = 10_000;
/** See `StoqTransportOptions.closeDrainMs`. */
const DEFAULT_CLOSE_DRAIN_MS = 3000;
/** Refusals of one kind are logged at most once per this interval, with the count since. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
const DEFAULT_SEND_WINDOW = 8 * 1024 * 1024;
const DEFAULT_STREAM_RECEIVE_WINDOW = 2 * 1024 * 1024;
const DEFAULT_RECEIVE_WINDOW = 16 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

export class StoqTransport extends EventEmitter<StoqTransportEvents> {
  private readonly incoming = new AsyncQueue<QuicStoqConnection>();
  /** Empty for an enrolling client with a pinned root (found in the server's chain instead). */
  private readonly trustedRootsDer: Uint8Array[];
  private identityNow: TransportIdentity | EnrollingIdentity;
  private readonly log: Logger;
  private readonly live = new Set<QuicStoqConnection>();
  /** FALCON-verified peer chains (key: SHA-256 over the chain), least recently used first. */
  private readonly verifiedChains = new Map<string, PeerIdentity>();
  private authenticated = 0;
  private authFailures = 0;
  private refused = 0;
  private closing = false;
  private readonly sendBudget: SendBudget;
  private readonly refusalLog: RateLimitedLog;

  private constructor(
    private readonly endpoint: NativeEndpoint,
    private readonly opts: StoqTransportOptions,
  ) {
    super();
    this.identityNow = opts.identity;
    this.trustedRootsDer = opts.identity.trustRootsPem === undefined
      ? []
      : pemToDerList(opts.identity.trustRootsPem, 'CERTIFICATE', 'identity.trustRootsPem');
    this.log = opts.logger ?? pino({ enabled: false });
    this.sendBudget = new SendBudget({ ...DEFAULT_SEND_LIMITS, ...opts.sendLimits });
    this.refusalLog = new RateLimitedLog(this.log, REFUSAL_LOG_INTERVAL_MS);
    if (opts.listen) {
      void this.acceptLoop();
      void this.refusalLoop();
    }
  }

  /** Bind an endpoint. With `listen: true` it accepts connections; see `accept()`. */
  static create(opts: StoqTransportOptions): StoqTransport {
    const id = opts.identity;
    if (isEnrolling(id)) {
      if (opts.listen) throw new StoqError('CONFIG_INVALID', 'an enrolling identity (no certificate yet) can only dial; enroll first, then listen');
      if ((id.trustRootsPem === undefined) === (id.trustRootSha256 === undefined)) {
        throw new StoqError('CONFIG_INVALID', 'an enrolling identity needs exactly one of trustRootsPem and trustRootSha256');
      }
    }
    if (id.trustRootsPem !== undefined) pemToDerList(id.trustRootsPem, 'CERTIFICATE', 'identity.trustRootsPem'); // TLS_CONFIG if none
    const drain = opts.closeDrainMs;
    if (drain !== undefined && (!Number.isInteger(drain) || drain < 0 || drain > 86_400_000)) {
      throw new StoqError('CONFIG_INVALID', `closeDrainMs ${drain} must be an integer number of milliseconds in 0..86400000`);
    }
    const native = loadNative();
    let endpoint: NativeEndpoint;
    const bindOptions: NativeEndpointOptions = {
      bind: opts.bind ?? '[::]:0',
      acceptIncoming: opts.listen ?? false,
      tls: {
        ...(isEnrolling(id) ? {} : { certChainPem: id.certChainPem, keyPem: id.keyPem }),
        ...(id.trustRootsPem !== undefined ? { trustRootsPem: id.trustRootsPem } : {}),
        ...(isEnrolling(id) && id.trustRootSha256 !== undefined ? { trustRootSha256: id.trustRootSha256 } : {}),
        acceptAnonymousClients: opts.acceptAnonymousClients ?? false,
        alpn: [ALPN],
        requirePqKex: opts.requirePqKex ?? false,
      },
      idleTimeoutMs: opts.idleTimeoutMs,
      keepAliveMs: opts.keepAliveMs,
      maxConcurrentBidiStreams: opts.maxConcurrentStreams,
      enableZeroRtt: opts.zeroRtt ?? false,
      sendWindow: opts.sendWindow ?? DEFAULT_SEND_WINDOW,
      streamReceiveWindow: opts.streamReceiveWindow ?? DEFAULT_STREAM_RECEIVE_WINDOW,
      receiveWindow: opts.receiveWindow ?? DEFAULT_RECEIVE_WINDOW,
      maxUdpPayload: opts.maxUdpPayload,
      ...(opts.mtuDiscovery !== undefined ? { mtuDiscovery: opts.mtuDiscovery } : {}),
      // connect() need not wait for the server's HANDSHAKE_DONE: the FALCON exchange that
      // follows proves the server accepted our certificate (a refusal closes the connection
      // with the server's TLS alert, reported as HANDSHAKE_FAILED), and no application data
      // flows before it completes.
      waitForConfirmation: false,
    };
    try {
      endpoint = native.QuicEndpoint.bind(bindOptions);
    } catch (err) {
      throw fromNativeError(err);
    }
    return new StoqTransport(endpoint, opts);
  }

  /** Shorthand for `create({ ...opts, listen: true })`. */
  static listen(opts: StoqTransportOptions): StoqTransport {
    return StoqTransport.create({ ...opts, listen: true });
  }

  get localAddress(): Ipv6Endpoint {
    return this.endpoint.localAddr;
  }

  get identity(): TransportIdentity | EnrollingIdentity {
    return this.identityNow;
  }

  /**
   * Take a renewed identity (new certificate, possibly new TLS and FALCON keys) without a
   * restart: handshakes from now on present it, as server and as client; open connections keep
   * working with what they authenticated. Service, instance and trust roots must stay the same.
   */
  replaceIdentity(next: TransportIdentity): void {
    const now = this.identityNow;
    if (isEnrolling(now)) throw new StoqError('CONFIG_INVALID', 'an enrolling transport has no identity to replace; create a new transport with the enrolled identity');
    if (next.service !== now.service || next.instance !== now.instance) {
      throw new StoqError('CONFIG_INVALID', `a renewed identity must keep service/instance ${now.service}/${now.instance}, got ${next.service}/${next.instance}`);
    }
    if (next.trustRootsPem !== now.trustRootsPem) throw new StoqError('CONFIG_INVALID', 'a renewed identity must keep the same trust roots');
    try {
      this.endpoint.replaceIdentity(next.certChainPem, next.keyPem);
    } catch (err) {
      throw fromNativeError(err);
    }
    this.identityNow = next;
    this.log.info({ service: next.service, instance: next.instance }, 'identity replaced; new handshakes use the new certificate');
  }

  /** Next authenticated incoming connection, or null once the transport is closed. */
  accept(): Promise<StoqConnection | null> {
    return this.incoming.pull();
  }

  /** Dial a STOQ peer; resolves once TLS and the FALCON exchange have passed (or at once for 0-RTT). */
  async connect(endpoint: Ipv6Endpoint, options: ConnectOptions = {}): Promise<DialedConnection> {
    const serverName = options.serverName ?? hostOf(endpoint);
    let native: NativeConnection;
    try {
      native = await this.endpoint.connect(endpoint, serverName, options.zeroRtt ?? false);
    } catch (err) {
      throw fromNativeError(err);
    }
    const early = native.isZeroRtt;
    const conn = new QuicStoqConnection(native, this.maxMessageBytes, this.sendBudget.connection(), async (c) => {
      // The auth stream must be stream 0: open it before the caller can open any early-data stream.
      const authStream = c.openAuthStream();
      await native.handshakeComplete();
      if (early) c.markZeroRttAccepted(await native.zeroRttAccepted());
      return this.authenticateAsClient(c, authStream, options.expectedService);
    });
    this.track(conn);
    if (!early) await conn.ready;
    return conn as DialedConnection;
  }

  /** Move to a new local socket; open connections migrate with it (QUIC connection migration). */
  rebind(bind: Ipv6Endpoint): void {
    try {
      this.endpoint.rebind(bind);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  falconSign(message: Uint8Array): Uint8Array {
    const id = this.identityNow;
    if (isEnrolling(id)) throw new StoqError('CONFIG_INVALID', 'an enrolling transport has no FALCON key to sign with');
    return loadNative().falconSign(Buffer.from(id.falconSecretKey), Buffer.from(message));
  }

  falconVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return loadNative().falconVerify(Buffer.from(publicKey), Buffer.from(message), Buffer.from(signature));
  }

  stats(): TransportStats {
    return {
      ...this.endpoint.stats(),
      authenticatedConnections: this.authenticated,
      authFailures: this.authFailures,
      refusedConnections: this.refused,
      queuedSendBytes: this.sendBudget.queuedBytes,
    };
  }

  /**
   * Closes every open connection, accepted or dialed, whose authenticated peer presented the
   * certificate with SHA-256 `fingerprint` (lowercase hex), e.g. once it is revoked; returns how
   * many. A connection still authenticating is left to `verifyPeer`.
   */
  closePeer(fingerprint: string, code = 0, reason = 'peer refused'): number {
    let closed = 0;
    for (const conn of [...this.live]) {
      let peer: PeerIdentity | null;
      try {
        peer = conn.peer;
      } catch {
        continue; // not authenticated yet
      }
      if (peer?.fingerprint !== fingerprint) continue;
      conn.close(code, reason);
      closed++;
    }
    return closed;
  }

  /**
   * Close every connection and the endpoint; resolves once their closing periods are over, or
   * after `closeDrainMs`. The peers were told at once (CONNECTION_CLOSE); the wait only lets a
   * lost close frame be sent again. It is bounded because one connection can keep the endpoint
   * busy until its idle timeout: a client that gave up during the handshake, before this endpoint
   * accepted it (a monitor's scrape of a just-restarted service, stopped in the same second),
   * made a clean stop end by SIGKILL. RFC 9000 §10.2 allows ending those periods early; here the
   * process usually exits next. One that goes on keeps the UDP socket bound until that last
   * connection times out, so binding the same port again fails until then.
   */
  async close(code = 0, reason = 'transport closed'): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.incoming.end();
    this.endpoint.close(code, reason);
    const drainMs = this.opts.closeDrainMs ?? DEFAULT_CLOSE_DRAIN_MS;
    if (!(await this.endpoint.waitIdle(drainMs))) {
      this.log.warn({ drainMs }, 'closed without waiting longer for connections still closing or draining');
    }
  }

  private get maxMessageBytes(): number {
    return this.opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  }

  private track(conn: QuicStoqConnection): void {
    this.live.add(conn);
    void conn.closed.then(() => this.live.delete(conn));
  }

  private async acceptLoop(): Promise<void> {
    for (;;) {
      let native: NativeConnection | null;
      try {
        native = await this.endpoint.accept();
      } catch (err) {
        this.log.error({ err: fromNativeError(err) }, 'accept failed');
        continue;
      }
      if (!native) break;
      const limit = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
      if (this.live.size >= limit) {
        // Cheap on purpose: no per-refusal log line (a flood would be one line per packet burst).
        this.refused++;
        native.close(CloseCode.CONNECTION_LIMIT, `connection limit of ${limit} reached`);
        this.refusalLog.record('connection-limit', 'connections refused: connection limit reached', { limit, lastRemote: native.remoteAddr });
        continue;
      }
      const conn = new QuicStoqConnection(native, this.maxMessageBytes, this.sendBudget.connection(), (c) => this.authenticateAsServer(c));
      this.track(conn);
      conn.ready.then(
        () => {
          if (!this.incoming.push(conn)) conn.close(CloseCode.NORMAL, 'transport closed');
        },
        () => undefined, // counted and reported by authenticateAsServer
      );
    }
    this.incoming.end();
  }

  /**
   * TLS-level refusals happen inside quinn, before any connection reaches JS: the native side
   * queues them (bounded), and each is logged here, rate-limited per reason, so the refusing
   * side reports it too (the refused side's connect() rejects with the TLS alert).
   */
  private async refusalLoop(): Promise<void> {
    for (;;) {
      let refusal: { remote: string; reason: string } | null;
      try {
        refusal = await this.endpoint.nextRefusal();
      } catch (err) {
        this.log.error({ err: fromNativeError(err) }, 'reading handshake refusals failed');
        return;
      }
      if (!refusal) return;
      this.refusalLog.record(`tls:${refusal.reason}`, 'incoming handshake refused', { remote: refusal.remote, reason: refusal.reason });
      this.emit('handshake-refused', refusal.reason, refusal.remote);
    }
  }

  private async authenticateAsServer(conn: QuicStoqConnection): Promise<PeerIdentity | null> {
    const native = conn.native;
    return this.withAuthTimeout(native, 'client', async () => {
      // Only a server that accepts anonymous clients lets a certless TLS handshake through.
      const anonymous = native.peerCertificates().length === 0 && this.opts.acceptAnonymousClients === true;
      const peer = anonymous ? null : this.checkCertificates(native, 'client');
      const exporter = native.exportKeyingMaterial(EXPORTER_LABEL, EMPTY, EXPORTER_LENGTH);
      // Signed while the client's proof is on its way; sent only after that proof verifies.
      const ownProof = encodeAuthProof(this.falconSign(signedTranscript('server', exporter)));
      const stream = await conn.acceptAuthStream();
      if (!stream) throw await this.closedError(native, 'client');
      const proof = await this.receiveAuth(native, stream, 'client');
      if (peer === null) {
        if (proof.kind !== 'anonymous') throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', 'client presented no certificate but did not announce itself as anonymous');
      } else {
        if (proof.kind === 'anonymous') throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', 'client presented a certificate but sent AUTH_ANONYMOUS instead of its FALCON proof');
        if (proof.kind !== 'proof') throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', 'client sent AUTH_OK before its FALCON proof');
        this.checkProof(native, peer, 'client', exporter, proof.signature);
        await this.runVerifyPeerHook(native, peer);
      }
      await stream.sendMessage(ownProof);
      const ok = await this.receiveAuth(native, stream, 'client').catch(async (err: unknown) => {
        // A client that verified our proof has what it needs and may close at once (a one-shot
        // `stoq ping`): its AUTH_OK and its close can overtake each other. A normal close here
        // is the peer leaving, not a failed authentication.
        const info = await native.closed();
        if (info.kind === 'peer' && info.code === CloseCode.NORMAL) {
          throw new StoqError('CONNECTION_LOST', 'client closed the connection right after the FALCON exchange', { details: { leftAfterAuth: true } });
        }
        throw err;
      });
      if (ok.kind !== 'ok') throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', 'client did not confirm the FALCON exchange');
      this.authenticated++;
      this.log.debug({ peer: peer?.instance ?? 'anonymous', remote: native.remoteAddr, group: native.kexGroup }, 'peer authenticated');
      return peer;
    });
  }

  private async authenticateAsClient(conn: QuicStoqConnection, stream: QuicStoqStream, expectedService?: string): Promise<PeerIdentity> {
    const native = conn.native;
    return this.withAuthTimeout(native, 'server', async () => {
      const peer = this.checkCertificates(native, 'server');
      if (expectedService !== undefined && peer.service !== expectedService) {
        throw this.reject(native, CloseCode.PEER_REJECTED, 'PEER_REJECTED', `expected service "${expectedService}" but the server's certificate names "${peer.service}"`);
      }
      const exporter = native.exportKeyingMaterial(EXPORTER_LABEL, EMPTY, EXPORTER_LENGTH);
      await stream.sendMessage(isEnrolling(this.identityNow)
        ? Uint8Array.of(AUTH_ANONYMOUS)
        : encodeAuthProof(this.falconSign(signedTranscript('client', exporter))));
      const proof = await this.receiveAuth(native, stream, 'server');
      if (proof.kind !== 'proof') throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', 'server sent AUTH_OK instead of its FALCON proof');
      this.checkProof(native, peer, 'server', exporter, proof.signature);
      await this.runVerifyPeerHook(native, peer);
      await stream.sendMessage(Uint8Array.of(0x02));
      stream.finish();
      this.authenticated++;
      return peer;
    });
  }

  /** TLS already verified the classical chain; here: the FALCON alt-signature chain and names. */
  private checkCertificates(native: NativeConnection, role: Role): PeerIdentity {
    const chain = native.peerCertificates().map((b) => new Uint8Array(b));
    if (chain.length === 0) throw this.reject(native, CloseCode.PEER_REJECTED, 'PEER_REJECTED', `${role} presented no certificate`);
    // The same peer presents the same chain on every connection during its certificate's life:
    // the FALCON chain check and X.509 parsing (milliseconds) are done once per distinct chain.
    const key = chainKey(chain);
    const cached = this.verifiedChains.get(key);
    if (cached) {
      this.verifiedChains.delete(key); // refresh LRU position
      this.verifiedChains.set(key, cached);
      return cached;
    }
    try {
      verifyAltSignatureChain(chain, this.rootsFor(chain));
    } catch (err) {
      throw this.reject(native, CloseCode.FALCON_REJECTED, 'FALCON_REJECTED', `${role} certificate chain failed the FALCON check: ${(err as Error).message}`);
    }
    const leaf = chain[0]!;
    const parsed = parseHybridCertificate(leaf);
    const names = peerNamesFromCertificate(leaf);
    const peer: PeerIdentity = {
      service: names.service,
      instance: names.instance,
      certificateDer: leaf,
      fingerprint: parsed.fingerprintSha256,
      falconPublicKey: parsed.falconPublicKey,
    };
    this.verifiedChains.set(key, peer);
    if (this.verifiedChains.size > VERIFIED_CHAIN_CACHE) this.verifiedChains.delete(this.verifiedChains.keys().next().value!);
    return peer;
  }

  /** The trusted roots for a presented chain: configured ones, or the chain's pinned root. */
  private rootsFor(chain: readonly Uint8Array[]): readonly Uint8Array[] {
    const id = this.identityNow;
    if (!isEnrolling(id) || id.trustRootSha256 === undefined) return this.trustedRootsDer;
    // TLS already refused a chain without the pinned root; pick it out for the FALCON check.
    const pin = id.trustRootSha256.replace(/:/g, '').toLowerCase();
    return chain.filter((der) => createHash('sha256').update(der).digest('hex') === pin);
  }

  private checkProof(native: NativeConnection, peer: PeerIdentity, role: Role, exporter: Buffer, signature: Uint8Array): void {
    if (!this.falconVerify(peer.falconPublicKey, signedTranscript(role, exporter), signature)) {
      throw this.reject(native, CloseCode.FALCON_REJECTED, 'FALCON_REJECTED', `${role} FALCON signature does not verify against the FALCON key in its certificate`);
    }
  }

  private async runVerifyPeerHook(native: NativeConnection, peer: PeerIdentity): Promise<void> {
    if (!this.opts.verifyPeer) return;
    const chain = native.peerCertificates().map((b) => new Uint8Array(b));
    try {
      await this.opts.verifyPeer(peer, chain);
    } catch (err) {
      throw this.reject(native, CloseCode.PEER_REJECTED, 'PEER_REJECTED', `peer ${peer.instance} refused: ${(err as Error).message}`);
    }
  }

  private async receiveAuth(native: NativeConnection, stream: QuicStoqStream, from: Role) {
    let frame: Uint8Array | null;
    try {
      frame = await stream.receiveMessage();
    } catch (err) {
      if (err instanceof StoqError && err.code.startsWith('FRAME_')) {
        throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', `malformed FALCON handshake frame from ${from}: ${err.message}`);
      }
      throw await this.closedError(native, from);
    }
    if (frame === null) throw await this.closedError(native, from);
    try {
      return decodeAuthMessage(frame);
    } catch (err) {
      throw this.reject(native, CloseCode.AUTH_PROTOCOL, 'HANDSHAKE_FAILED', `${(err as Error).message} from ${from}`);
    }
  }

  /** Close the connection telling the peer why, and build the local error. */
  private reject(native: NativeConnection, closeCode: number, code: StoqError['code'], message: string): StoqError {
    native.close(closeCode, message.slice(0, 200));
    return new StoqError(code, message);
  }

  /** The peer went away mid-exchange: explain with its close code and reason. */
  private async closedError(native: NativeConnection, peer: Role): Promise<StoqError> {
    const info = await native.closed();
    if (info.kind === 'peer' && info.code === CloseCode.FALCON_REJECTED) {
      return new StoqError('FALCON_REJECTED', `${peer} rejected our FALCON proof: ${info.reason}`);
    }
    if (info.kind === 'peer' && info.code === CloseCode.CONNECTION_LIMIT) {
      return new StoqError('CONNECTION_LOST', `${peer} refused the connection: ${info.reason}`);
    }
    if (info.kind === 'peer' && info.code === CloseCode.PEER_REJECTED) {
      return new StoqError('PEER_REJECTED', `${peer} refused us: ${info.reason}`);
    }
    if (info.kind === 'transport-error') {
      return new StoqError('HANDSHAKE_FAILED', `connection to ${peer} failed during the handshake: ${info.reason || `transport error ${info.code}`}`);
    }
    return new StoqError('HANDSHAKE_FAILED', `${peer} closed the connection during the FALCON exchange (${info.kind}, code ${info.code}${info.reason ? `: ${info.reason}` : ''})`);
  }

  private async withAuthTimeout<T>(native: NativeConnection, peer: Role, run: () => Promise<T>): Promise<T> {
    const ms = this.opts.authTimeoutMs ?? 10_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      native.close(CloseCode.AUTH_TIMEOUT, `FALCON exchange not completed within ${ms} ms`);
    }, ms);
    try {
      return await run();
    } catch (err) {
      let e = timedOut
        ? new StoqError('TIMEOUT', `${peer} did not complete the FALCON exchange within ${ms} ms`)
        : err instanceof StoqError ? err : fromNativeError(err);
      // The connection died under us (e.g. the server's TLS alert arrived after our handshake
      // completed): explain with the close reason rather than a bare write failure.
      if (e.details?.['leftAfterAuth'] === true) {
        this.log.debug({ remote: native.remoteAddr }, e.message);
        throw e;
      }
      if (e.code === 'CONNECTION_LOST') e = await this.closedError(native, peer);
      this.authFailures++;
      this.log.warn({ remote: native.remoteAddr, code: e.code, err: e.message }, `${peer} authentication failed`);
      this.emit('auth-error', e, native.remoteAddr);
      native.close(CloseCode.AUTH_PROTOCOL, e.message.slice(0, 200)); // no-op if already closed
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

function isEnrolling(id: TransportIdentity | EnrollingIdentity): id is EnrollingIdentity {
  return 'enrolling' in id && id.enrolling === true;
}

function chainKey(chain: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const der of chain) h.update(der);
  return h.digest('hex');
}

/** `[::1]:4433` -> `::1` (IPV4_REFUSED / INVALID_ADDRESS for anything else). */
export function hostOf(endpoint: Ipv6Endpoint): string {
  return parseIpv6Endpoint(endpoint).address;
}

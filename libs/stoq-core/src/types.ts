// The public shapes of the STOQ transport. Everything above stoq-core (stoq-rpc, the services)
// codes against these interfaces, never against the native addon directly.

/** An IPv6 socket address written as `[addr]:port`, e.g. `[::1]:4433`. */
export type Ipv6Endpoint = string;

/** Who is on the other end, as proven by the TLS certificate chain and the FALCON exchange. */
export interface PeerIdentity {
  /** Service name from the certificate (e.g. `caesar`); the CN / first DNS SAN label. */
  readonly service: string;
  /** Instance name from the certificate (e.g. `caesar-1`), or the service name when absent. */
  readonly instance: string;
  /** DER of the peer's leaf certificate. */
  readonly certificateDer: Uint8Array;
  /** SHA-256 fingerprint of the leaf certificate, lowercase hex. */
  readonly fingerprint: string;
  /** The FALCON-1024 public key the peer proved possession of. */
  readonly falconPublicKey: Uint8Array;
}

/**
 * One bidirectional QUIC stream. Reads and writes are whole-chunk async calls; `write` resolves
 * while what the transport has not yet accepted stays within a window (the backpressure signal).
 */
export interface StoqStream {
  /** Identifies the stream within its connection (not the QUIC stream id). */
  readonly id: number;
  /**
   * Send bytes (copied before this returns). Resolves at once while at most a window of written
   * bytes is unconfirmed by QUIC flow control, else once enough is.
   */
  write(data: Uint8Array): Promise<void>;
  /** Gracefully end our sending side (FIN). */
  finish(): void;
  /** Next chunk of bytes (at most `maxLength`), or `null` once the peer finished its side. */
  read(maxLength?: number): Promise<Uint8Array | null>;
  /** Abruptly end our sending side with an application error code. */
  reset(code: number): void;
  /** Ask the peer to stop sending, with an application error code. */
  stopSending(code: number): void;
  /** Send one length-prefixed message (varint length + bytes). */
  sendMessage(message: Uint8Array): Promise<void>;
  /** Receive one length-prefixed message, or `null` at a clean end of stream. */
  receiveMessage(): Promise<Uint8Array | null>;
}

export interface ConnectionStats {
  rttMs: number;
  cwnd: number;
  bytesSent: number;
  bytesReceived: number;
  packetsSent: number;
  packetsReceived: number;
  lostPackets: number;
}

export interface CloseInfo {
  /** Who or what ended the connection. */
  reason: 'local' | 'peer' | 'timeout' | 'reset' | 'transport-error' | 'endpoint-closed';
  code: number;
  message: string;
}

/** An authenticated STOQ connection: TLS and the FALCON exchange have both passed. */
export interface StoqConnection {
  readonly remoteAddress: Ipv6Endpoint;
  /**
   * Who the peer proved to be. `null` only on a server with `acceptAnonymousClients`, for a
   * client that presented no certificate (an enrolling node): it proved nothing about itself,
   * while it did verify the server's certificate and FALCON proof.
   */
  readonly peer: PeerIdentity | null;
  /** Negotiated TLS key-exchange group, e.g. `X25519MLKEM768`. */
  readonly keyExchangeGroup: string;
  /** Whether this connection was resumed with 0-RTT early data accepted by the server. */
  readonly zeroRtt: boolean;
  /**
   * Resolves once TLS and the FALCON exchange have both passed. Always already resolved for
   * connections returned by `connect()` without 0-RTT and by `accept()`.
   */
  readonly ready: Promise<void>;
  /** Open a stream; waits for `ready` unless `early` asks for 0-RTT (idempotent data only). */
  openStream(options?: { early?: boolean }): Promise<StoqStream>;
  /** Next stream the peer opened, or `null` once the connection is closed. */
  acceptStream(): Promise<StoqStream | null>;
  sendDatagram(data: Uint8Array): void;
  receiveDatagram(): Promise<Uint8Array | null>;
  stats(): ConnectionStats;
  close(code?: number, reason?: string): void;
  readonly closed: Promise<CloseInfo>;
}

/** A connection we dialed: the server always proves who it is. */
export type DialedConnection = StoqConnection & { readonly peer: PeerIdentity };

// Typed view of the @stoq/native addon (see native/README.md). Loaded lazily so that pure parts
// of stoq-core (codecs, config) work even before the Rust addon has been built.

export interface NativeTlsOptions {
  /** Absent (with keyPem) only on a client-only endpoint that enrolls. */
  certChainPem?: string;
  keyPem?: string;
  /** One of trustRootsPem / trustRootSha256 (client-only: the pinned root's SHA-256, hex). */
  trustRootsPem?: string;
  trustRootSha256?: string;
  /** Server: also accept clients that present no certificate. */
  acceptAnonymousClients?: boolean;
  alpn?: string[];
  requirePqKex?: boolean;
}

export interface NativeEndpointOptions {
  bind: string;
  tls: NativeTlsOptions;
  acceptIncoming: boolean;
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  maxConcurrentBidiStreams?: number;
  enableZeroRtt?: boolean;
  /** Ceiling for QUIC MTU discovery (UDP payload bytes, 1200..65527). */
  maxUdpPayload?: number;
  /** Path-MTU discovery (default true). */
  mtuDiscovery?: boolean;
  /** connect() resolves only once the server confirmed the handshake (default true). */
  waitForConfirmation?: boolean;
  receiveWindow?: number;
  streamReceiveWindow?: number;
  sendWindow?: number;
}

export interface NativeConnectionStats {
  rttMs: number;
  cwnd: number;
  bytesSent: number;
  bytesReceived: number;
  packetsSent: number;
  packetsReceived: number;
  lostPackets: number;
  lostBytes: number;
  congestionEvents: number;
}

export interface NativeEndpointStats {
  openConnections: number;
  acceptedConnections: number;
  dialedConnections: number;
  handshakeFailures: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface NativeCloseInfo {
  kind: string;
  code: number;
  reason: string;
}

/** One delivery of stream events, flattened: [kind, key, value, kind, key, value, ...]. */
/** `[kind, key, value, ...]`; ERROR and CLOSED values are Errors with a native `code`. */
export type NativeStreamEvents = Array<number | Buffer | Error | null>;

export interface NativeConnection {
  readonly remoteAddr: string;
  readonly stableId: number;
  readonly kexGroup: string | null;
  readonly alpn: string | null;
  readonly isZeroRtt: boolean;
  readonly maxDatagramSize: number | null;
  zeroRttAccepted(): Promise<boolean>;
  handshakeComplete(): Promise<void>;
  peerCertificates(): Buffer[];
  exportKeyingMaterial(label: string, context: Buffer, length: number): Buffer;
  /** Starts the native stream mux; every stream event arrives through `onEvents` (see stream-mux.ts). */
  startStreams(onEvents: (events: NativeStreamEvents) => void): void;
  /**
   * Stream operations in one call, `[kind, key, arg, length]` each, payloads concatenated in
   * `data` (kinds: stream-mux.ts `OpKind`). The addon's single-operation calls are not used here.
   */
  streamOps(ops: Float64Array, data: Uint8Array): void;
  sendDatagram(data: Buffer): void;
  readDatagram(): Promise<Buffer | null>;
  stats(): NativeConnectionStats;
  close(code: number, reason: string): void;
  closed(): Promise<NativeCloseInfo>;
}

export interface NativeEndpoint {
  readonly localAddr: string;
  accept(): Promise<NativeConnection | null>;
  /** Next refused incoming handshake (remote address, reason); null once closed. */
  nextRefusal(): Promise<{ remote: string; reason: string } | null>;
  connect(addr: string, serverName: string, zeroRtt?: boolean): Promise<NativeConnection>;
  replaceIdentity(certChainPem: string, keyPem: string): void;
  rebind(addr: string): void;
  stats(): NativeEndpointStats;
  close(code: number, reason: string): void;
  /** true once idle; false if `timeoutMs` passed first. */
  waitIdle(timeoutMs?: number): Promise<boolean>;
}

export interface NativeEcdsaSigner {
  readonly curve: string;
  sign(data: Buffer): Buffer;
}

export interface NativeAddon {
  QuicEndpoint: { bind(opts: NativeEndpointOptions): NativeEndpoint };
  EcdsaSigner: { fromPkcs8(der: Buffer): NativeEcdsaSigner };
  ecdsaVerify(curve: string, publicKey: Buffer, data: Buffer, signature: Buffer): boolean;
  falconKeypair(): { publicKey: Buffer; secretKey: Buffer };
  falconSign(secretKey: Buffer, message: Buffer): Buffer;
  /** The stream mux's event and operation numbers by name (checked against stream-mux.ts in a test). */
  streamMuxCodes(): { events: Record<string, number>; ops: Record<string, number> };
  /** Every code the addon puts in front of an error message. */
  errorCodes(): string[];
  falconVerify(publicKey: Buffer, message: Buffer, signature: Buffer): boolean;
  sha256(data: Buffer): Buffer;
  sha256Batch(items: Buffer[], prefix?: number): Buffer;
}

let addon: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (addon) return addon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require('@stoq/native') as NativeAddon;
  } catch (err) {
    throw new Error(
      `the native addon @stoq/native is not built or failed to load (run \`npm run build\`): ${(err as Error).message}`,
    );
  }
  return addon;
}

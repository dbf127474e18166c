// StoqConnection over a native QUIC connection. Created by StoqTransport once the peer is
// authenticated (or, for 0-RTT client connections, before — see `ready`).
import { StoqError } from './errors';
import { fromNativeError } from './native-error';
import type { ConnectionBudget } from './send-budget';
import { StreamMux } from './stream-mux';
import type { QuicStoqStream } from './stream';
import type { NativeCloseInfo, NativeConnection } from './native-binding';
import type { CloseInfo, ConnectionStats, PeerIdentity, StoqConnection, StoqStream } from './types';

export interface OpenStreamOptions {
  /** Send on this stream as 0-RTT early data, before the handshake completes. Idempotent data only. */
  early?: boolean;
}

export class QuicStoqConnection implements StoqConnection {
  private peerIdentity: PeerIdentity | null = null;
  private authenticated = false;
  private zeroRttAccepted = false;
  readonly closed: Promise<CloseInfo>;
  /** Resolves when TLS and the FALCON exchange have both passed; rejects if either fails. */
  readonly ready: Promise<void>;
  private readonly mux: StreamMux;

  constructor(
    readonly native: NativeConnection,
    maxMessageBytes: number,
    budget: ConnectionBudget,
    authenticate: (conn: QuicStoqConnection) => Promise<PeerIdentity | null>,
  ) {
    this.mux = new StreamMux(native, maxMessageBytes, budget);
    this.closed = native.closed().then(toCloseInfo);
    this.ready = authenticate(this).then((peer) => {
      this.peerIdentity = peer;
      this.authenticated = true;
    });
    // A 0-RTT caller may never await `ready`; keep the rejection from going unhandled.
    this.ready.catch(() => undefined);
  }

  get remoteAddress(): string {
    return this.native.remoteAddr;
  }

  get peer(): PeerIdentity | null {
    if (!this.authenticated) {
      throw new StoqError('HANDSHAKE_FAILED', 'the peer is not authenticated yet: await connection.ready first');
    }
    return this.peerIdentity;
  }

  get keyExchangeGroup(): string {
    return this.native.kexGroup ?? 'unknown';
  }

  get zeroRtt(): boolean {
    return this.zeroRttAccepted;
  }

  /** @internal set by the transport once the server's answer to our early data is known. */
  markZeroRttAccepted(accepted: boolean): void {
    this.zeroRttAccepted = accepted;
  }

  async openStream(options: OpenStreamOptions = {}): Promise<StoqStream> {
    if (!options.early) await this.ready;
    return this.mux.open();
  }

  /**
   * @internal the FALCON exchange stream, before authentication. Opened on the wire at once, so
   * it is QUIC stream 0 whatever early-data streams follow.
   */
  openAuthStream(): QuicStoqStream {
    return this.mux.open(true);
  }

  /** @internal the peer's FALCON exchange stream (its first), or null if the connection ended. */
  acceptAuthStream(): Promise<QuicStoqStream | null> {
    return this.mux.accept();
  }

  async acceptStream(): Promise<StoqStream | null> {
    await this.ready;
    return this.mux.accept();
  }

  sendDatagram(data: Uint8Array): void {
    if (!this.authenticated) throw new StoqError('HANDSHAKE_FAILED', 'datagrams flow only after authentication');
    try {
      this.native.sendDatagram(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  async receiveDatagram(): Promise<Uint8Array | null> {
    await this.ready;
    try {
      return await this.native.readDatagram();
    } catch (err) {
      const e = fromNativeError(err);
      if (e.code === 'CONNECTION_LOST' || e.code === 'ENDPOINT_CLOSED') return null;
      throw e;
    }
  }

  stats(): ConnectionStats {
    const s = this.native.stats();
    return {
      rttMs: s.rttMs,
      cwnd: s.cwnd,
      bytesSent: s.bytesSent,
      bytesReceived: s.bytesReceived,
      packetsSent: s.packetsSent,
      packetsReceived: s.packetsReceived,
      lostPackets: s.lostPackets,
    };
  }

  close(code = 0, reason = ''): void {
    this.native.close(code, reason);
  }
}

function toCloseInfo(info: NativeCloseInfo): CloseInfo {
  const known: ReadonlyArray<CloseInfo['reason']> = ['local', 'peer', 'timeout', 'reset', 'transport-error', 'endpoint-closed'];
  const reason = (known as readonly string[]).includes(info.kind) ? (info.kind as CloseInfo['reason']) : 'transport-error';
  return { reason, code: info.code, message: info.reason };
}

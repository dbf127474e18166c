// An in-memory StoqConnection pair for RPC tests (test code only). It keeps the transport
// semantics the RPC layer relies on: bounded per-direction buffers (write() resolves only when
// the reader has room: backpressure), FIN (read() -> null after the buffered bytes), RESET_STREAM
// (the peer's read() rejects at once with STREAM_RESET and the code), STOP_SENDING (the peer's
// write() rejects), and connection close failing every stream.
import { StoqError } from '@stoq/core';
import type { CloseInfo, ConnectionStats, PeerIdentity, StoqConnection, StoqStream } from '@stoq/core';
import type { RpcConnection } from '../../src/connection';

const HIGH_WATER = 64 * 1024;

type Waiter = () => void;

/** One direction of a stream. */
class Pipe {
  chunks: Uint8Array[] = [];
  bytes = 0;
  finished = false;
  resetCode: number | null = null;
  stopCode: number | null = null;
  failure: StoqError | null = null;
  private readers: Waiter[] = [];
  private writers: Waiter[] = [];

  wakeReaders(): void {
    const r = this.readers;
    this.readers = [];
    for (const w of r) w();
  }
  wakeWriters(): void {
    const w = this.writers;
    this.writers = [];
    for (const x of w) x();
  }
  waitReadable(): Promise<void> {
    return new Promise((resolve) => this.readers.push(resolve));
  }
  waitWritable(): Promise<void> {
    return new Promise((resolve) => this.writers.push(resolve));
  }
}

export class MemoryStream implements StoqStream {
  constructor(
    readonly id: number,
    private readonly inbound: Pipe,
    private readonly outbound: Pipe,
    private readonly counters: { sent: number; received: number },
  ) {}

  async write(data: Uint8Array): Promise<void> {
    const out = this.outbound;
    this.checkWritable();
    if (out.finished) throw new StoqError('INVALID_ARGUMENT', 'write after finish');
    out.chunks.push(Uint8Array.from(data));
    out.bytes += data.length;
    this.counters.sent += data.length;
    out.wakeReaders();
    while (out.bytes > HIGH_WATER) {
      await out.waitWritable();
      this.checkWritable();
    }
  }

  private checkWritable(): void {
    const out = this.outbound;
    if (out.failure) throw out.failure;
    if (out.stopCode !== null) throw new StoqError('STREAM_RESET', `peer stopped sending with code ${out.stopCode}`, { details: { code: out.stopCode } });
    if (out.resetCode !== null) throw new StoqError('INVALID_ARGUMENT', 'write after reset');
  }

  finish(): void {
    const out = this.outbound;
    if (out.finished || out.resetCode !== null || out.failure) return;
    out.finished = true;
    out.wakeReaders();
  }

  async read(maxLength = 64 * 1024): Promise<Uint8Array | null> {
    const inb = this.inbound;
    for (;;) {
      if (inb.failure) throw inb.failure;
      if (inb.stopCode !== null) throw new StoqError('INVALID_ARGUMENT', 'read after stopSending');
      if (inb.resetCode !== null) throw new StoqError('STREAM_RESET', `stream reset by peer with code ${inb.resetCode}`, { details: { code: inb.resetCode } });
      if (inb.chunks.length > 0) {
        let chunk = inb.chunks[0]!;
        if (chunk.length > maxLength) {
          inb.chunks[0] = chunk.subarray(maxLength);
          chunk = chunk.subarray(0, maxLength);
        } else inb.chunks.shift();
        inb.bytes -= chunk.length;
        this.counters.received += chunk.length;
        if (inb.bytes <= HIGH_WATER) inb.wakeWriters();
        return chunk;
      }
      if (inb.finished) return null;
      await inb.waitReadable();
    }
  }

  reset(code: number): void {
    const out = this.outbound;
    if (out.resetCode !== null || out.failure) return;
    out.resetCode = code;
    out.chunks = [];
    out.bytes = 0;
    out.wakeReaders();
    out.wakeWriters();
  }

  stopSending(code: number): void {
    const inb = this.inbound;
    if (inb.stopCode !== null) return;
    inb.stopCode = code;
    inb.chunks = [];
    inb.bytes = 0;
    inb.wakeWriters();
    inb.wakeReaders();
  }

  async sendMessage(): Promise<void> {
    throw new Error('MemoryStream.sendMessage is not used by the RPC layer');
  }
  async receiveMessage(): Promise<Uint8Array | null> {
    throw new Error('MemoryStream.receiveMessage is not used by the RPC layer');
  }

  /** Test helper: fail both directions (connection loss). */
  fail(err: StoqError): void {
    for (const p of [this.inbound, this.outbound]) {
      p.failure ??= err;
      p.wakeReaders();
      p.wakeWriters();
    }
  }
}

class Queue<T> {
  private items: T[] = [];
  private waiters: Array<(v: T | null) => void> = [];
  closed = false;
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  shift(): Promise<T | null> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(null);
  }
}

export class MemoryConnection implements RpcConnection {
  remote!: MemoryConnection;
  readonly keyExchangeGroup = 'memory';
  readonly incoming = new Queue<MemoryStream>();
  readonly datagrams = new Queue<Uint8Array>();
  readonly streams = new Set<MemoryStream>();
  readonly counters = { sent: 0, received: 0 };
  private nextId: number;
  private closeInfo: CloseInfo | null = null;
  private resolveClosed!: (info: CloseInfo) => void;
  readonly closed: Promise<CloseInfo> = new Promise((r) => (this.resolveClosed = r));
  /** Streams opened so far (tests assert on it). */
  opened = 0;

  constructor(
    readonly remoteAddress: string,
    readonly peer: PeerIdentity | null,
    readonly zeroRtt: boolean,
    isClient: boolean,
  ) {
    this.nextId = isClient ? 0 : 1;
  }

  readonly ready: Promise<void> = Promise.resolve();
  /** Streams opened as 0-RTT early data (tests assert only idempotent calls use it). */
  earlyStreams = 0;

  async openStream(options?: { early?: boolean }): Promise<StoqStream> {
    if (options?.early) this.earlyStreams += 1;
    if (this.closeInfo) throw new StoqError('CONNECTION_LOST', `connection closed: ${this.closeInfo.message}`);
    const ab = new Pipe();
    const ba = new Pipe();
    const id = this.nextId;
    this.nextId += 4;
    const local = new MemoryStream(id, ba, ab, this.counters);
    const remote = new MemoryStream(id, ab, ba, this.remote.counters);
    this.streams.add(local);
    this.remote.streams.add(remote);
    this.opened += 1;
    this.remote.incoming.push(remote);
    return local;
  }

  acceptStream(): Promise<StoqStream | null> {
    return this.incoming.shift();
  }

  sendDatagram(data: Uint8Array): void {
    if (!this.closeInfo) this.remote.datagrams.push(Uint8Array.from(data));
  }

  receiveDatagram(): Promise<Uint8Array | null> {
    return this.datagrams.shift();
  }

  stats(): ConnectionStats {
    return { rttMs: 0, cwnd: 0, bytesSent: this.counters.sent, bytesReceived: this.counters.received, packetsSent: 0, packetsReceived: 0, lostPackets: 0 };
  }

  close(code = 0, reason = 'closed'): void {
    this.shutdown({ reason: 'local', code, message: reason });
    this.remote.shutdown({ reason: 'peer', code, message: reason });
  }

  private shutdown(info: CloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    const err = new StoqError('CONNECTION_LOST', `connection closed (${info.reason}): ${info.message}`);
    for (const s of this.streams) s.fail(err);
    this.incoming.close();
    this.datagrams.close();
    this.resolveClosed(info);
  }

  get isClosed(): boolean {
    return this.closeInfo !== null;
  }
}

export function testPeer(service: string, instance = `${service}-1`): PeerIdentity {
  return {
    service,
    instance,
    certificateDer: new Uint8Array([0x30, 0x00]),
    fingerprint: `fp-${instance}`,
    falconPublicKey: new Uint8Array(0),
  };
}

/**
 * A connected pair. `clientPeer` is who the server sees (null = unauthenticated caller);
 * `serverPeer` is who the client sees.
 */
export function memoryConnectionPair(opts: {
  clientPeer: PeerIdentity | null;
  serverPeer: PeerIdentity;
  serverAddress?: string;
  zeroRtt?: boolean;
}): { client: MemoryConnection & StoqConnection; server: MemoryConnection } {
  const client = new MemoryConnection(opts.serverAddress ?? '[::1]:4433', opts.serverPeer, opts.zeroRtt ?? false, true);
  const server = new MemoryConnection('[::1]:50000', opts.clientPeer, opts.zeroRtt ?? false, false);
  client.remote = server;
  server.remote = client;
  return { client: client as MemoryConnection & StoqConnection, server };
}

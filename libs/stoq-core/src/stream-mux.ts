// StreamMux: the JS side of the native stream mux (native/src/stream_mux.rs). Every stream of a
// connection is driven by one native task; operations go down as plain calls that only queue,
// and what happened comes back as one event batch per delivery. This class routes each batch
// to the streams' objects and hands peer-opened streams to accept().
import { AsyncQueue } from './async-queue';
import type { StoqError } from './errors';
import { fromNativeError } from './native-error';
import type { ConnectionBudget } from './send-budget';
import { QuicStoqStream } from './stream';
import type { NativeConnection, NativeStreamEvents } from './native-binding';

/**
 * Event kinds, as numbered by the native mux (native/README.md, "Streams: the stream mux").
 * Checked against the addon's own table (`streamMuxCodes()`) by test/stream-mux-codes.test.ts.
 */
export const EventKind = { INCOMING: 0, DATA: 1, FIN: 2, DATA_FIN: 3, RESET: 4, STOPPED: 5, SENT: 6, ERROR: 7, CLOSED: 8 } as const;
const { INCOMING, DATA, FIN, DATA_FIN, RESET, STOPPED, SENT, ERROR, CLOSED } = EventKind;

/** Operation kinds of the native `streamOps` (checked like EventKind). */
export const OpKind = { OPEN: 0, SEND: 1, RESET: 2, STOP: 3, PAUSE: 4 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

const EMPTY = new Uint8Array(0);

export class StreamMux {
  private readonly streams = new Map<number, QuicStoqStream>();
  private readonly incoming = new AsyncQueue<QuicStoqStream>();
  /** Keys of streams we open: even, increasing (odd keys name the peer's streams). */
  private nextKey = 0;
  private closedError: StoqError | null = null;
  /** Streams holding small writes for the end of this tick (see QuicStoqStream.write). */
  private toFlush: QuicStoqStream[] = [];
  /** Operations of this tick, `[kind, key, arg, length]` each (native `streamOps`), and their bytes. */
  private ops: number[] = [];
  private opData: Uint8Array[] = [];
  private opBytes = 0;
  private endOfTickQueued = false;
  private readonly endOfTick = (): void => {
    this.endOfTickQueued = false;
    this.flushNow();
  };

  constructor(
    readonly native: NativeConnection,
    private readonly maxMessageBytes: number,
    /** This connection's share of the transport's send budget (send-budget.ts). */
    readonly budget: ConnectionBudget,
  ) {
    native.startStreams((events) => this.route(events));
  }

  /**
   * A new stream of ours. It reaches the wire with its first write (or at once with `eager`,
   * which fixes its QUIC stream id before any later stream's).
   */
  open(eager = false): QuicStoqStream {
    const key = this.nextKey;
    this.nextKey += 2;
    const stream = new QuicStoqStream(this, key, this.maxMessageBytes, false, this.budget);
    if (this.closedError) {
      stream.onError(this.closedError);
      return stream;
    }
    this.streams.set(key, stream);
    if (eager) stream.openNow();
    return stream;
  }

  /** Next stream the peer opened, or null once the connection has ended. */
  accept(): Promise<QuicStoqStream | null> {
    return this.incoming.pull();
  }

  /** @internal `stream` holds writes: flush them once the current tick's work is done. */
  flushLater(stream: QuicStoqStream): void {
    this.toFlush.push(stream);
    this.queueEndOfTick();
  }

  /**
   * @internal queues one stream operation (kinds as in the native `streamOps`). Operations go
   * down in one native call at the end of the tick: one crossing and one wake-up of the mux
   * task for everything the tick's calls did.
   */
  op(kind: OpKind, key: number, arg: number, data?: Uint8Array): void {
    const len = data === undefined ? 0 : data.length;
    this.ops.push(kind, key, arg, len);
    if (len > 0) {
      this.opData.push(data!);
      this.opBytes += len;
    }
    this.queueEndOfTick();
  }

  /** Sends held writes and queued operations to the native mux now (order kept). */
  flushNow(): void {
    if (this.toFlush.length > 0) {
      const streams = this.toFlush;
      this.toFlush = [];
      for (const s of streams) s.flush(false);
    }
    if (this.ops.length === 0) return;
    const ops = Float64Array.from(this.ops);
    const parts = this.opData;
    const data = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.opBytes);
    this.ops = [];
    this.opData = [];
    this.opBytes = 0;
    this.native.streamOps(ops, data);
  }

  private queueEndOfTick(): void {
    if (this.endOfTickQueued) return;
    this.endOfTickQueued = true;
    process.nextTick(this.endOfTick);
  }

  /** @internal a stream is done on both sides: later events for it carry nothing it needs. */
  forget(key: number): void {
    this.streams.delete(key);
  }

  private route(events: NativeStreamEvents): void {
    for (let i = 0; i < events.length; i += 3) {
      const kind = events[i] as number;
      const key = events[i + 1] as number;
      const value = events[i + 2];
      if (kind === INCOMING) {
        const stream = new QuicStoqStream(this, key, this.maxMessageBytes, true, this.budget);
        this.streams.set(key, stream);
        if (!this.incoming.push(stream)) stream.abandon();
        continue;
      }
      if (kind === CLOSED) {
        this.onClosed(value as Error);
        continue;
      }
      const stream = this.streams.get(key);
      if (stream === undefined) continue;
      switch (kind) {
        case DATA:
          stream.onData(value as Buffer, false);
          break;
        case DATA_FIN:
          stream.onData(value as Buffer, true);
          break;
        case FIN:
          stream.onFin();
          break;
        case RESET:
          stream.onReset(value as number);
          break;
        case STOPPED:
          stream.onStopped(value as number);
          break;
        case SENT:
          stream.onSent(value as number);
          break;
        case ERROR:
          stream.onError(fromNativeError(value));
          break;
      }
    }
  }

  private onClosed(reason: Error): void {
    const err = fromNativeError(reason);
    this.closedError = err;
    this.incoming.end();
    const open = [...this.streams.values()];
    this.streams.clear();
    for (const s of open) s.onError(err);
  }
}

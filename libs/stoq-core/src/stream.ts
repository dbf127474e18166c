// QuicStoqStream: one bidirectional QUIC stream, as seen through the connection's StreamMux, plus
// length-prefixed message framing. Received bytes arrive as events and wait here until read;
// writes are handed to the native mux at once and resolve while the bytes still unconfirmed by
// quinn stay within a window (quinn's flow control is what confirms them, via SENT events).
import { StoqError } from './errors';
import { encodeFrame, FrameDecoder } from './frame';
import type { BudgetWaiter, ConnectionBudget } from './send-budget';
import { OpKind, type StreamMux } from './stream-mux';
import type { StoqStream } from './types';

/** Read size for stream chunks: large enough for bulk transfer, small enough to stay fair. */
export const DEFAULT_READ_CHUNK = 256 * 1024;
/**
 * Writes below this size are copied and held until the end of the current tick, so that the
 * frames a call produces in one go (or a burst of small stream messages) cross into the native
 * mux as one operation; finish() joins them with the FIN. Larger writes go down at once.
 */
const COALESCE_BELOW = 64 * 1024;
/** Received bytes held here before the stream is paused (QUIC flow control then holds the peer). */
const READ_PAUSE_AT = 1024 * 1024;
/** Paused streams resume once the held bytes fall below this. */
const READ_RESUME_AT = 256 * 1024;

const EMPTY = Buffer.alloc(0);
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Why a side of the stream ended. Built only if somebody asks: the normal end of every RPC stops
 * or resets a side, and constructing an Error (stack trace) per call is measurable.
 */
type Failure = StoqError | (() => StoqError);

function materialize(f: Failure): StoqError {
  return typeof f === 'function' ? f() : f;
}

/**
 * The error for a stream side that ended by reset or stop. Built without a stack trace: it
 * would point into the event router rather than at the caller, and the server's own read loop
 * meets one at the end of every call (it stops reading once it has answered).
 */
function streamEnd(code: 'STREAM_RESET' | 'STREAM_STOPPED', message: string, appCode: number): StoqError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new StoqError(code, message, { details: { code: appCode } });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

interface Reader {
  max: number;
  resolve(chunk: Buffer | null): void;
  reject(err: StoqError): void;
}

interface CreditWaiter {
  resolve(): void;
  reject(err: StoqError): void;
}

export class QuicStoqStream implements StoqStream, BudgetWaiter {
  /** For receiveMessage(); created on first use (RPC streams decode frames themselves). */
  private decoder: FrameDecoder | null = null;
  // receive side
  private readonly chunks: Buffer[] = [];
  private held = 0;
  private paused = false;
  /** FIN received: once `chunks` is empty, reads yield null. */
  private ended = false;
  private recvFailure: Failure | null = null;
  /** No more receive events matter (FIN seen, reset, stopped, failed). */
  private recvDone = false;
  private readers: Reader[] = [];
  private messagesEnded = false;
  // send side
  private opened: boolean;
  private sendDone = false;
  private sendFailure: Failure | null = null;
  /** Bytes handed to the native mux that quinn has not taken yet (counted in `budget` too). */
  private unconfirmed = 0;
  private creditWaiters: CreditWaiter[] = [];
  /** Queued in the transport budget's waiters (blocked by a connection or node limit). */
  private waitingForBudget = false;
  /** Small writes held until the end of the tick (copies: callers may reuse their buffers). */
  private heldOut: Buffer[] = [];
  private flushQueued = false;

  constructor(
    private readonly mux: StreamMux,
    /** Key of this stream in its connection's mux (even: ours, odd: the peer's). */
    readonly id: number,
    private readonly maxMessageBytes: number,
    incoming: boolean,
    private readonly budget: ConnectionBudget,
  ) {
    this.opened = incoming;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.sendFailure) return Promise.reject(this.sendError());
    if (this.sendDone) return Promise.reject(new StoqError('STREAM_CLOSED', 'the stream was already finished or reset'));
    if (data.length < COALESCE_BELOW) {
      this.heldOut.push(Buffer.from(data));
      if (!this.flushQueued) {
        this.flushQueued = true;
        this.mux.flushLater(this);
      }
    } else {
      // Large: handed down now (the native side copies it), so the caller may reuse it at once.
      this.flush(false);
      this.submit(data, false);
      this.mux.flushNow();
    }
    this.unconfirmed += data.length;
    this.budget.add(data.length);
    if (this.unconfirmed <= this.budget.limits.streamWindow && this.budget.hasRoom()) {
      // Within every limit: go on, unless this turn of the event loop has written its share.
      return this.budget.parent.turn.charge(data.length) ?? RESOLVED;
    }
    const wait = new Promise<void>((resolve, reject) => this.creditWaiters.push({ resolve, reject }));
    if (this.unconfirmed <= this.budget.limits.streamWindow) this.queueForBudget();
    return wait;
  }

  finish(): void {
    if (this.sendDone) return;
    this.flush(true);
    this.endSend(null);
  }

  read(maxLength = DEFAULT_READ_CHUNK): Promise<Buffer | null> {
    if (this.readers.length === 0) {
      if (this.chunks.length > 0) return Promise.resolve(this.take(maxLength));
      if (this.recvFailure) return Promise.reject(this.recvError());
      if (this.ended) return Promise.resolve(null);
    }
    return new Promise<Buffer | null>((resolve, reject) => this.readers.push({ max: maxLength, resolve, reject }));
  }

  reset(code: number): void {
    if (this.sendDone) return;
    this.heldOut = []; // abandoned, like anything quinn has not delivered yet
    // Even a stream whose bytes never left (all held, then reset in the same tick) goes on the
    // wire: the peer must see the reset to answer it, or our read side would wait forever.
    if (!this.opened) this.openNow();
    this.mux.op(OpKind.RESET, this.id, code);
    this.endSend(() => streamEnd('STREAM_RESET', `stream was reset locally with code ${code}`, code));
  }

  stopSending(code: number): void {
    if (this.recvDone) return;
    if (!this.opened) this.openNow();
    this.mux.op(OpKind.STOP, this.id, code);
    this.chunks.length = 0;
    this.held = 0;
    this.endRecv(() => streamEnd('STREAM_STOPPED', `reading was stopped locally with code ${code}`, code));
  }

  async sendMessage(message: Uint8Array): Promise<void> {
    await this.write(encodeFrame(message));
  }

  async receiveMessage(): Promise<Uint8Array | null> {
    const decoder = (this.decoder ??= new FrameDecoder({ maxFrameLength: this.maxMessageBytes }));
    for (;;) {
      const frame = decoder.next();
      if (frame) return frame;
      if (this.messagesEnded) {
        decoder.end(); // throws FRAME_TRUNCATED if a partial frame is left
        return null;
      }
      const chunk = await this.read();
      if (chunk === null) this.messagesEnded = true;
      else decoder.push(chunk);
    }
  }

  /** @internal sends the held small writes (and FIN with `fin`) as one operation. */
  flush(fin: boolean): void {
    this.flushQueued = false;
    const held = this.heldOut;
    if (held.length === 0 && !fin) return;
    this.heldOut = [];
    if (this.sendDone) return;
    this.submit(held.length === 0 ? EMPTY : held.length === 1 ? held[0]! : Buffer.concat(held), fin);
  }

  /** @internal puts the stream on the wire now, fixing its QUIC stream id. */
  openNow(): void {
    this.mux.op(OpKind.OPEN, this.id, 0);
    this.opened = true;
  }

  /** @internal an incoming stream nobody will accept: refuse both directions. */
  abandon(): void {
    this.stopSending(0);
    this.reset(0);
  }

  // ---- events from the mux ----

  /** @internal */
  onData(data: Buffer, fin: boolean): void {
    if (this.recvDone) return;
    const reader = this.readers.shift();
    if (reader !== undefined) {
      if (data.length > reader.max) {
        this.chunks.push(data.subarray(reader.max));
        this.held += data.length - reader.max;
        data = data.subarray(0, reader.max);
      }
      reader.resolve(data);
    } else {
      this.chunks.push(data);
      this.held += data.length;
    }
    if (fin) this.onFin();
    else if (!this.paused && this.held > READ_PAUSE_AT) {
      this.paused = true;
      this.mux.op(OpKind.PAUSE, this.id, 1);
    }
    this.serveReaders();
  }

  /** @internal */
  onFin(): void {
    if (this.recvDone) return;
    this.ended = true;
    this.endRecv(null);
  }

  /** @internal */
  onReset(code: number): void {
    this.endRecv(() => streamEnd('STREAM_RESET', `peer reset the stream with code ${code}`, code));
  }

  /** @internal */
  onStopped(code: number): void {
    this.endSend(() => streamEnd('STREAM_STOPPED', `peer stopped the stream with code ${code}`, code));
  }

  /** @internal */
  onSent(bytes: number): void {
    this.release(bytes);
    if (this.creditWaiters.length > 0 && this.unconfirmed <= this.budget.limits.streamWindow) {
      if (this.budget.hasRoom()) this.resolveWaiters();
      else this.queueForBudget();
    }
    this.maybeForget();
  }

  /** @internal (BudgetWaiter) room appeared in the connection or node budget. */
  retry(): boolean {
    if (this.creditWaiters.length > 0 && this.unconfirmed <= this.budget.limits.streamWindow) {
      if (!this.budget.hasRoom()) return false;
      this.resolveWaiters();
    }
    this.waitingForBudget = false;
    return true;
  }

  /** @internal bytes handed down that quinn has not taken yet (0 once all were sent or dropped). */
  get queuedBytes(): number {
    return this.unconfirmed;
  }

  /** @internal the stream (or its connection) failed: both directions end with `err`. */
  onError(err: StoqError): void {
    this.endRecv(err);
    this.endSend(err);
    // Also after a normal finish: nothing more will reach quinn on a failed stream.
    this.release(this.unconfirmed);
    this.maybeForget();
  }

  // ---- internals ----

  private release(bytes: number): void {
    const n = Math.min(bytes, this.unconfirmed);
    this.unconfirmed -= n;
    this.budget.remove(n);
  }

  private resolveWaiters(): void {
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private queueForBudget(): void {
    if (this.waitingForBudget) return;
    this.waitingForBudget = true;
    this.budget.parent.wait(this);
  }

  /**
   * Both sides are over and no written byte is still on its way into quinn: the mux can drop
   * the stream. (Until then its SENT events still return budget.)
   */
  private maybeForget(): void {
    if (this.recvDone && this.sendDone && this.unconfirmed === 0) this.mux.forget(this.id);
  }

  private submit(data: Uint8Array, fin: boolean): void {
    this.mux.op(this.opened ? OpKind.SEND : OpKind.OPEN, this.id, fin ? 1 : 0, data);
    this.opened = true;
  }

  /** Hands out up to `max` bytes of the oldest held chunk. */
  private take(max: number): Buffer {
    let chunk = this.chunks[0]!;
    if (chunk.length > max) {
      this.chunks[0] = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    } else {
      this.chunks.shift();
    }
    this.held -= chunk.length;
    if (this.paused && this.held < READ_RESUME_AT && !this.recvDone) {
      this.paused = false;
      this.mux.op(OpKind.PAUSE, this.id, 0);
    }
    return chunk;
  }

  private serveReaders(): void {
    while (this.readers.length > 0) {
      if (this.chunks.length > 0) {
        const r = this.readers.shift()!;
        r.resolve(this.take(r.max));
      } else if (this.recvFailure) {
        this.readers.shift()!.reject(this.recvError());
      } else if (this.ended) {
        this.readers.shift()!.resolve(null);
      } else {
        return;
      }
    }
  }

  private recvError(): StoqError {
    const err = materialize(this.recvFailure!);
    this.recvFailure = err;
    return err;
  }

  private sendError(): StoqError {
    const err = materialize(this.sendFailure!);
    this.sendFailure = err;
    return err;
  }

  /** The receive side is over: FIN (err null), reset, stop or failure. */
  private endRecv(why: Failure | null): void {
    if (this.recvDone) return;
    this.recvDone = true;
    this.recvFailure = why;
    this.serveReaders();
    this.maybeForget();
  }

  /** The send side is over: FIN queued (err null), reset, stopped by the peer or failure. */
  private endSend(why: Failure | null): void {
    if (this.sendDone) return;
    this.sendDone = true;
    this.sendFailure = why;
    // Reset, stopped or failed: quinn drops what it had not taken, so it no longer counts.
    if (why !== null) this.release(this.unconfirmed);
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) {
      if (why) w.reject(this.sendError());
      else w.resolve();
    }
    this.maybeForget();
  }
}

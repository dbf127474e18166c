// The I/O shell of one server-side call: binds a ServerCallSequencer to a StoqStream, runs the
// interceptor chain and the handler, and ends the stream with exactly one trailer (or a reset
// when the caller cancelled).
import { AsyncQueue, isStoqError, type StoqStream } from '@stoq/core';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock';
import { StreamCode, type RpcConnection } from '../connection';
import { RpcError, type Metadata } from '../rpc-error';
import { Status } from '../status';
import { FrameWriter } from '../io/frame-writer';
import { ServerCallSequencer, type ServerInboundEvent } from '../wire/call-sequencer';
import { encodeMessageFrame, encodeTrailerFrame, type RequestHeaderFields } from '../wire/frame-codec';
import type { MethodDefinition } from '../method';
import type { CallContext, Interceptor, RegisteredMethod, ServerCall, ServerLimits } from './types';

/** Received messages buffered ahead of a slow handler before the read loop pauses. */
const INBOUND_QUEUE_LIMIT = 16;
const READ_CHUNK = 256 * 1024;

export interface ServerCallEnv {
  readonly service: string;
  readonly limits: ServerLimits;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly interceptors: readonly Interceptor[];
  lookup(path: string): RegisteredMethod | undefined;
}

/**
 * The call's cancellation. Its AbortSignal is created only when someone asks for it: most
 * handlers never look, and an AbortController per call is measurable at high call rates.
 */
class CallAbort {
  private controller: AbortController | null = null;
  private why: RpcError | undefined;

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.why !== undefined) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  /** Why the call was aborted (the first reason given), or undefined. */
  get reason(): RpcError | undefined {
    return this.why;
  }

  abort(reason: RpcError): void {
    if (this.why !== undefined) return;
    this.why = reason;
    this.controller?.abort(reason);
  }
}

export class ServerCallRunner {
  private readonly abort = new CallAbort();
  private readonly writer: FrameWriter;
  private readonly events = new AsyncQueue<ServerInboundEvent>();
  private readonly sequencer: ServerCallSequencer;
  private finished = false;
  private timer: TimerHandle | null = null;
  private deadline: number | undefined;
  /** A single-response call's response frame, sent in one write with the OK trailer. */
  private heldResponse: Uint8Array | null = null;

  constructor(
    private readonly env: ServerCallEnv,
    private readonly conn: RpcConnection,
    private readonly stream: StoqStream,
  ) {
    this.writer = new FrameWriter(stream);
    this.sequencer = new ServerCallSequencer(env.limits, (path) => env.lookup(path)?.def.kind);
  }

  /**
   * The trailer (or reset) has been handed to the stream: the call holds no handler any more and
   * the caller may already be reading its answer, though writing it can still be under way.
   */
  get answered(): boolean {
    return this.finished;
  }

  /** Cancels the call from outside (connection closed, server shutting down). */
  cancel(reason: string): void {
    this.onCancelled(new RpcError(Status.CANCELLED, reason));
  }

  /** Runs the call to its trailer (or reset). The read loop may outlive it by one pending read. */
  async run(): Promise<void> {
    void this.pump(); // never rejects: it reports through the event queue and the trailer
    this.timer = this.env.clock.setTimeout(
      () => this.failWith(new RpcError(Status.DEADLINE_EXCEEDED, `no request header within ${this.env.limits.headerTimeoutMs} ms`)),
      this.env.limits.headerTimeoutMs,
    );
    let first: IteratorResult<ServerInboundEvent>;
    try {
      first = await this.events.next();
    } catch {
      return; // the read loop already answered (protocol error) or saw a cancellation
    }
    this.clearTimer();
    if (first.done || first.value.type !== 'header') return;
    await this.dispatch(first.value.header);
  }

  private async dispatch(header: RequestHeaderFields): Promise<void> {
    const method = this.env.lookup(header.path);
    const startedAt = this.env.clock.now();
    if (!method) {
      this.env.logger.info({ path: header.path, code: 'UNIMPLEMENTED', peer: peerLabel(this.conn) }, 'rpc call to unknown method');
      await this.sendTrailer(Status.UNIMPLEMENTED, `unknown method "${header.path}" on service "${this.env.service}"`, {});
      return;
    }
    const deadline = header.timeoutMs === undefined ? undefined : startedAt + header.timeoutMs;
    this.deadline = deadline;
    if (header.timeoutMs !== undefined) {
      this.timer = this.env.clock.setTimeout(
        () => this.failWith(new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${header.timeoutMs} ms exceeded`)),
        header.timeoutMs,
      );
    }
    const conn = this.conn;
    const abort = this.abort;
    const ctx: CallContext = {
      path: header.path,
      kind: method.def.kind,
      peer: conn.peer,
      // Looked up only when used (a native call; the address can change with migration).
      get remoteAddress() {
        return conn.remoteAddress;
      },
      metadata: header.metadata,
      deadline,
      get signal() {
        return abort.signal;
      },
      idempotencyKey: header.idempotencyKey === '' ? undefined : header.idempotencyKey,
      logger: this.env.logger,
      trailerMetadata: {},
    };
    const call: ServerCall = {
      method,
      ctx,
      startedAt,
      get abortReason() {
        return abort.reason;
      },
    };
    const chain = this.env.interceptors;
    const invoke = (i: number): Promise<void> =>
      i < chain.length ? chain[i]!(call, () => invoke(i + 1)) : this.invokeHandler(method, ctx);
    try {
      await invoke(0);
      await this.sendTrailer(Status.OK, '', ctx.trailerMetadata);
    } catch (err) {
      if (err instanceof RpcError) {
        await this.sendTrailer(err.code, err.message, { ...ctx.trailerMetadata, ...err.metadata });
      } else {
        // Internal details stay in the log (the logging interceptor recorded the error).
        await this.sendTrailer(Status.INTERNAL, 'internal error', ctx.trailerMetadata);
      }
    }
  }

  private async invokeHandler(method: RegisteredMethod, ctx: CallContext): Promise<void> {
    const def = method.def;
    const handler = method.handler as unknown as (input: unknown, ctx: CallContext) => unknown;
    switch (def.kind) {
      case 'unary': {
        const req = await this.singleRequest(def);
        const res = await handler(req, ctx);
        this.sendResponse(def, res);
        return;
      }
      case 'server_streaming': {
        const req = await this.singleRequest(def);
        await this.sendAll(def, handler(req, ctx) as AsyncIterable<unknown>);
        return;
      }
      case 'client_streaming': {
        const res = await handler(this.requests(def), ctx);
        this.sendResponse(def, res);
        return;
      }
      case 'bidi_streaming':
        await this.sendAll(def, handler(this.requests(def), ctx) as AsyncIterable<unknown>);
        return;
    }
  }

  private decodeRequest(def: MethodDefinition<unknown, unknown>, data: Uint8Array): unknown {
    try {
      return def.requestType.decode(data);
    } catch (err) {
      throw new RpcError(Status.INVALID_ARGUMENT, `request is not a valid ${def.requestType.fullName.replace(/^\./, '')}: ${(err as Error).message}`);
    }
  }

  private async singleRequest(def: MethodDefinition<unknown, unknown>): Promise<unknown> {
    const ev = await this.events.next();
    if (ev.done || ev.value.type !== 'message') {
      throw new RpcError(Status.INVALID_ARGUMENT, `${def.kind} call needs exactly one request message, got none`);
    }
    return this.decodeRequest(def, ev.value.data);
  }

  private async *requests(def: MethodDefinition<unknown, unknown>): AsyncGenerator<unknown> {
    for (;;) {
      const ev = await this.events.next();
      if (ev.done || ev.value.type === 'half_close') return;
      if (ev.value.type === 'message') yield this.decodeRequest(def, ev.value.data);
    }
  }

  private encodeResponse(def: MethodDefinition<unknown, unknown>, res: unknown): Uint8Array {
    let bytes: Uint8Array;
    try {
      const err = def.responseType.verify(res as Record<string, unknown>);
      if (err) throw new Error(err);
      bytes = def.responseType.encode(res as Record<string, unknown>).finish();
    } catch (err) {
      this.env.logger.error({ path: def.path, err }, 'handler returned a response that does not match its type');
      throw new RpcError(Status.INTERNAL, 'internal error');
    }
    if (bytes.length > this.env.limits.maxMessageBytes) {
      throw new RpcError(Status.RESOURCE_EXHAUSTED, `response message is ${bytes.length} bytes, limit is ${this.env.limits.maxMessageBytes}`);
    }
    return bytes;
  }

  /**
   * Holds the only response of a unary or client-streaming call until the trailer, so both go
   * out in one transport write (the caller needs both anyway; an error trailer replaces it).
   */
  private sendResponse(def: MethodDefinition<unknown, unknown>, res: unknown): void {
    const frame = encodeMessageFrame(this.encodeResponse(def, res));
    if (this.finished) return;
    this.heldResponse = frame;
  }

  private async sendAll(def: MethodDefinition<unknown, unknown>, responses: AsyncIterable<unknown> | Iterable<unknown>): Promise<void> {
    for await (const res of responses) {
      if (this.finished) return; // deadline passed or cancelled: stop pulling from the handler
      await this.writeOrCancel(encodeMessageFrame(this.encodeResponse(def, res)));
    }
  }

  private async writeOrCancel(frame: Uint8Array): Promise<void> {
    try {
      await this.writer.send(frame);
    } catch {
      // The caller stopped reading (STOP_SENDING) or the connection went away.
      const reason = new RpcError(Status.CANCELLED, 'caller stopped reading the response');
      this.onCancelled(reason);
      throw reason;
    }
  }

  /** Reads the stream until FIN, feeding the sequencer; runs for the whole call. */
  private async pump(): Promise<void> {
    try {
      for (;;) {
        let chunk: Uint8Array | null;
        try {
          chunk = await this.stream.read(READ_CHUNK);
        } catch (err) {
          if (!this.finished) this.onCancelled(this.cancelReason(err));
          return;
        }
        if (this.finished && chunk === null) return;
        const evs = chunk === null ? this.sequencer.end() : this.sequencer.push(chunk);
        for (const ev of evs) this.events.push(ev);
        if (chunk === null) {
          this.events.end();
          return;
        }
        await this.events.waitForSpace(INBOUND_QUEUE_LIMIT);
      }
    } catch (err) {
      // Protocol violation: answer with its status and stop reading.
      const rpcErr = err instanceof RpcError ? err : new RpcError(Status.INVALID_ARGUMENT, String(err));
      this.events.fail(rpcErr);
      this.failWith(rpcErr, StreamCode.PROTOCOL_ERROR);
    }
  }

  /** Why the caller's side went away: its reset code says whether its deadline passed. */
  private cancelReason(err: unknown): RpcError {
    const code = isStoqError(err) ? (err.details?.['code'] as number | undefined) : undefined;
    const pastDeadline = this.deadline !== undefined && this.env.clock.now() >= this.deadline;
    if (code === StreamCode.DEADLINE_EXCEEDED || pastDeadline) return new RpcError(Status.DEADLINE_EXCEEDED, 'caller abandoned the call at its deadline');
    if (isStoqError(err, 'STREAM_RESET')) return new RpcError(Status.CANCELLED, 'caller cancelled the call');
    return new RpcError(Status.CANCELLED, `call cancelled: ${(err as Error).message}`);
  }

  /** Ends the call now with `err` (deadline, protocol error) and aborts the handler. */
  private failWith(err: RpcError, stopCode: number = StreamCode.NO_ERROR): void {
    if (this.finished) return;
    this.abort.abort(err);
    this.events.fail(err);
    void this.sendTrailer(err.code, err.message, {}, stopCode);
  }

  private onCancelled(reason: RpcError): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimer();
    this.abort.abort(reason);
    this.events.fail(reason);
    this.stream.reset(StreamCode.CANCELLED);
    this.stream.stopSending(StreamCode.CANCELLED);
  }

  private async sendTrailer(code: Status, message: string, metadata: Metadata, stopCode: number = StreamCode.NO_ERROR): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.clearTimer();
    const trailer = encodeTrailerFrame({ code, message, metadata });
    const response = code === Status.OK ? this.heldResponse : null;
    this.heldResponse = null;
    try {
      await this.writer.send(response === null ? trailer : concatFrames(response, trailer));
      await this.writer.flush();
      this.stream.finish();
    } catch {
      this.stream.reset(StreamCode.CANCELLED);
    }
    // We need no more request bytes (not even the caller's FIN); this also ends our read loop.
    this.stream.stopSending(stopCode);
    if (code !== Status.OK) this.abort.abort(new RpcError(code, message));
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.env.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

function concatFrames(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function peerLabel(conn: Pick<RpcConnection, 'peer'>): string {
  return conn.peer ? `${conn.peer.service}/${conn.peer.instance}` : 'unauthenticated';
}


// The I/O shell of one client-side call attempt on one stream: writes HEADER, MESSAGE*,
// HALF_CLOSE; reads MESSAGE* and the TRAILER through a ClientCallSequencer; cancels with
// RESET_STREAM + STOP_SENDING (code CANCELLED). The caller's FIN is sent after the trailer.
import { AsyncQueue, isStoqError, type StoqStream } from '@stoq/core';
import { StreamCode } from '../connection';
import { FrameWriter } from '../io/frame-writer';
import type { MethodKind } from '../method';
import { RpcError, type Metadata } from '../rpc-error';
import { Status } from '../status';
import { ClientCallSequencer, type WireLimits } from '../wire/call-sequencer';
import {
  encodeHalfCloseFrame,
  encodeHeaderFrame,
  encodeMessageFrame,
  type RequestHeaderFields,
} from '../wire/frame-codec';

const INBOUND_QUEUE_LIMIT = 16;
const READ_CHUNK = 256 * 1024;

export interface CallResult {
  readonly trailerMetadata: Metadata;
}

export class ClientCall {
  /** Response message bytes in order; ends at an OK trailer, fails with the call's RpcError. */
  readonly responses = new AsyncQueue<Uint8Array>();
  /** Settles with the trailer: resolves on OK, rejects with RpcError otherwise. */
  readonly result: Promise<CallResult>;
  /** True once any response frame arrived (the server has seen the request). */
  receivedAny = false;
  private readonly writer: FrameWriter;
  private readonly sequencer: ClientCallSequencer;
  private settled = false;
  private resolveResult!: (r: CallResult) => void;
  private rejectResult!: (e: RpcError) => void;
  private readonly onAbort: () => void;

  constructor(
    private readonly stream: StoqStream,
    kind: MethodKind,
    limits: WireLimits,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.writer = new FrameWriter(stream);
    this.sequencer = new ClientCallSequencer(kind, limits);
    this.result = new Promise<CallResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.result.catch(() => undefined); // observed through responses or awaited by the caller
    this.onAbort = () => {
      const reason = signal?.reason instanceof RpcError ? signal.reason : new RpcError(Status.CANCELLED, 'call cancelled');
      this.cancel(reason);
    };
    if (signal?.aborted) queueMicrotask(this.onAbort);
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    void this.pump();
  }

  /** Sends the header, and for single-request kinds the request and half-close in the same write. */
  async start(header: RequestHeaderFields, onlyRequest?: Uint8Array): Promise<void> {
    const head = encodeHeaderFrame(header);
    if (onlyRequest === undefined) return this.write(head);
    const msg = encodeMessageFrame(onlyRequest);
    const close = encodeHalfCloseFrame();
    const all = new Uint8Array(head.length + msg.length + close.length);
    all.set(head, 0);
    all.set(msg, head.length);
    all.set(close, head.length + msg.length);
    return this.write(all);
  }

  send(message: Uint8Array): Promise<void> {
    return this.write(encodeMessageFrame(message));
  }

  async halfClose(): Promise<void> {
    await this.write(encodeHalfCloseFrame());
    await this.flush();
  }

  /**
   * Abandons the call: RESET_STREAM and STOP_SENDING with CANCELLED (or DEADLINE_EXCEEDED when
   * that is the reason); fails it with `reason`.
   */
  cancel(reason: RpcError): void {
    if (this.settled) return;
    const code = reason.code === Status.DEADLINE_EXCEEDED ? StreamCode.DEADLINE_EXCEEDED : StreamCode.CANCELLED;
    this.stream.reset(code);
    this.stream.stopSending(code);
    this.settle(reason);
  }

  private async write(bytes: Uint8Array): Promise<void> {
    if (this.settled) return this.afterSettled();
    try {
      await this.writer.send(bytes);
    } catch {
      // The server stopped reading: it has answered or is about to; report its answer.
      return this.afterSettled();
    }
  }

  private async flush(): Promise<void> {
    try {
      await this.writer.flush();
    } catch {
      return this.afterSettled();
    }
  }

  /** Once the call is over, writing is pointless: surface the outcome (error, or nothing). */
  private async afterSettled(): Promise<void> {
    await this.result;
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        let chunk: Uint8Array | null;
        try {
          chunk = await this.stream.read(READ_CHUNK);
        } catch (err) {
          this.settle(transportError(err));
          return;
        }
        if (this.settled) return;
        const events = chunk === null ? this.sequencer.end() : this.sequencer.push(chunk);
        for (const ev of events) {
          this.receivedAny = true;
          if (ev.type === 'message') this.responses.push(ev.data);
          else {
            const t = ev.trailer;
            this.settle(t.code === Status.OK ? null : new RpcError(t.code, t.message, t.metadata), t.metadata);
            return;
          }
        }
        if (chunk === null) return;
        await this.responses.waitForSpace(INBOUND_QUEUE_LIMIT);
      }
    } catch (err) {
      const rpcErr = err instanceof RpcError ? err : new RpcError(Status.INTERNAL, String(err));
      this.stream.reset(StreamCode.PROTOCOL_ERROR);
      this.stream.stopSending(StreamCode.PROTOCOL_ERROR);
      this.settle(rpcErr);
    }
  }

  private settle(error: RpcError | null, trailerMetadata: Metadata = {}): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (error === null) {
      this.responses.end();
      this.resolveResult({ trailerMetadata });
    } else {
      this.responses.fail(error);
      this.rejectResult(error);
    }
    // Our FIN: the call is over, the stream can be released (a no-op after a reset).
    void this.writer.flush().then(
      () => {
        try {
          this.stream.finish();
        } catch {
          // already reset or finished
        }
      },
      () => undefined,
    );
  }
}

/** A failed read: the server reset the stream, or the connection is gone. */
function transportError(err: unknown): RpcError {
  if (isStoqError(err, 'STREAM_RESET')) {
    const code = (err.details?.['code'] as number | undefined) ?? -1;
    if (code === StreamCode.CANCELLED) return new RpcError(Status.CANCELLED, 'server cancelled the call');
    return new RpcError(Status.UNAVAILABLE, `stream reset by server: ${err.message}`);
  }
  return new RpcError(Status.UNAVAILABLE, `connection failed: ${err instanceof Error ? err.message : String(err)}`);
}

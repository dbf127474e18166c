// Sans-I/O sequencing of the frames one side receives on an RPC stream. Bytes go in (any
// split), validated events come out; every violation is an RpcError naming what was wrong.
// No I/O, no clocks: the server and client shells drive these with stream reads.
import { FrameDecoder, isStoqError } from '@stoq/core';
import { clientStreams, serverStreams, type MethodKind } from '../method';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import { decodeFramePayload, type RequestHeaderFields, type TrailerFields } from './frame-codec';

export interface WireLimits {
  /** Largest encoded request header frame payload. */
  maxHeaderBytes: number;
  /** Largest application message (the encoded request or response). */
  maxMessageBytes: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxMessageBytes: 4 * 1024 * 1024,
});

/** Bytes a MESSAGE frame adds around its message: tag + protobuf varint length. */
const MESSAGE_ENVELOPE = 1 + 10;

export type ServerInboundEvent =
  | { readonly type: 'header'; readonly header: RequestHeaderFields }
  | { readonly type: 'message'; readonly data: Uint8Array }
  | { readonly type: 'half_close' };

export type ClientInboundEvent =
  | { readonly type: 'message'; readonly data: Uint8Array }
  | { readonly type: 'trailer'; readonly trailer: TrailerFields };

function decoderFor(limits: WireLimits): FrameDecoder {
  return new FrameDecoder({ maxFrameLength: frameLimit(limits) });
}

/** Largest frame payload after the request header: a message frame or a trailer. */
function frameLimit(limits: WireLimits): number {
  return Math.max(limits.maxHeaderBytes, limits.maxMessageBytes + MESSAGE_ENVELOPE);
}

/**
 * Turns stoq-core framing errors into the RPC status the peer should see. An oversized frame
 * after the header is a message over the limit: say so in message bytes, not frame bytes.
 */
function framingError(err: unknown, tooLarge: Status, malformed: Status, side: string, messageLimit?: number): RpcError {
  if (err instanceof RpcError) return err;
  if (isStoqError(err, 'FRAME_TOO_LARGE')) {
    const length = err.details?.['length'];
    if (messageLimit !== undefined && typeof length === 'number') {
      return new RpcError(tooLarge, `${side}: a message frame of ${length} bytes is over the message limit of ${messageLimit} bytes`);
    }
    return new RpcError(tooLarge, `${side}: ${err.message}`);
  }
  if (isStoqError(err)) return new RpcError(malformed, `${side}: ${err.message}`);
  return new RpcError(malformed, `${side}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Pushes `chunk` into `decoder` and maps every frame it completes through `onFrame`. */
function framesOf<E>(decoder: FrameDecoder, chunk: Uint8Array, onFrame: (payload: Uint8Array) => E): E[] {
  decoder.push(chunk);
  const events: E[] = [];
  for (let p = decoder.next(); p !== null; p = decoder.next()) events.push(onFrame(p));
  return events;
}

/**
 * What a server receives: HEADER, then MESSAGE* (exactly one for unary and server-streaming),
 * then HALF_CLOSE (or FIN, taken as an implicit half-close). Nothing may follow HALF_CLOSE but FIN.
 */
export class ServerCallSequencer {
  private readonly decoder: FrameDecoder;
  private state: 'header' | 'messages' | 'closed' | 'ended' | 'failed' = 'header';
  private kind: MethodKind | null = null;
  private messages = 0;

  /**
   * @param kindOf the routing table: the kind of the method at a path (undefined = unknown
   *   path, whose calls the shell rejects; no per-kind count rule is applied then).
   */
  constructor(
    private readonly limits: WireLimits = DEFAULT_WIRE_LIMITS,
    private readonly kindOf: (path: string) => MethodKind | undefined = () => undefined,
  ) {
    // The first frame must be the header: a length prefix beyond the header limit is refused as
    // soon as it arrives, not after the header timeout (a stream must not hold server state
    // for seconds on the strength of a promise of 4 MiB).
    this.decoder = new FrameDecoder({ maxFrameLength: limits.maxHeaderBytes });
  }

  get halfClosed(): boolean {
    return this.state === 'closed' || this.state === 'ended';
  }

  /** Feeds received bytes; returns the events they complete. Throws RpcError on a violation. */
  push(chunk: Uint8Array): ServerInboundEvent[] {
    this.guard();
    try {
      return framesOf(this.decoder, chunk, (p) => this.onFrame(p));
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** The caller's FIN. Returns remaining events; throws if the request is incomplete. */
  end(): ServerInboundEvent[] {
    this.guard();
    const events: ServerInboundEvent[] = [];
    try {
      for (const p of this.decoder.end()) events.push(this.onFrame(p));
      if (this.state === 'header') throw new RpcError(Status.INVALID_ARGUMENT, 'stream ended before a request header');
      if (this.state === 'messages') {
        this.checkCount();
        events.push({ type: 'half_close' });
      }
      this.state = 'ended';
    } catch (err) {
      throw this.fail(err);
    }
    return events;
  }

  private onFrame(payload: Uint8Array): ServerInboundEvent {
    if (this.state === 'header') {
      if (payload.length > this.limits.maxHeaderBytes) {
        throw new RpcError(Status.RESOURCE_EXHAUSTED, `request header is ${payload.length} bytes, limit is ${this.limits.maxHeaderBytes}`);
      }
      const f = decodeFramePayload(payload);
      if (f.kind !== 'header') throw new RpcError(Status.INVALID_ARGUMENT, `expected a request header first, got a ${f.kind} frame`);
      this.state = 'messages';
      this.decoder.setMaxFrameLength(frameLimit(this.limits));
      this.kind = this.kindOf(f.header.path) ?? null;
      return { type: 'header', header: f.header };
    }
    const f = decodeFramePayload(payload);
    if (this.state === 'closed' || this.state === 'ended') {
      throw new RpcError(Status.INVALID_ARGUMENT, `${f.kind} frame after half-close`);
    }
    if (f.kind === 'message') {
      if (f.data.length > this.limits.maxMessageBytes) {
        throw new RpcError(Status.RESOURCE_EXHAUSTED, `request message is ${f.data.length} bytes, limit is ${this.limits.maxMessageBytes}`);
      }
      this.messages += 1;
      if (this.kind !== null && !clientStreams(this.kind) && this.messages > 1) {
        throw new RpcError(Status.INVALID_ARGUMENT, `${this.kind} call got more than one request message`);
      }
      return { type: 'message', data: f.data };
    }
    if (f.kind === 'half_close') {
      this.checkCount();
      this.state = 'closed';
      return { type: 'half_close' };
    }
    throw new RpcError(Status.INVALID_ARGUMENT, `a caller may not send a ${f.kind} frame after the header`);
  }

  private checkCount(): void {
    if (this.kind !== null && !clientStreams(this.kind) && this.messages !== 1) {
      throw new RpcError(Status.INVALID_ARGUMENT, `${this.kind} call needs exactly one request message, got ${this.messages}`);
    }
  }

  private guard(): void {
    if (this.state === 'failed') throw new RpcError(Status.INVALID_ARGUMENT, 'stream already failed a protocol check');
    if (this.state === 'ended') throw new RpcError(Status.INVALID_ARGUMENT, 'stream already ended');
  }

  private fail(err: unknown): RpcError {
    const header = this.state === 'header';
    this.state = 'failed';
    return framingError(err, Status.RESOURCE_EXHAUSTED, Status.INVALID_ARGUMENT, header ? 'request header' : 'request stream', header ? undefined : this.limits.maxMessageBytes);
  }
}

/**
 * What a client receives: MESSAGE* then exactly one TRAILER, then FIN. Unary and
 * client-streaming calls carry exactly one message before an OK trailer. Violations by the
 * server are reported as INTERNAL (oversize messages as RESOURCE_EXHAUSTED).
 */
export class ClientCallSequencer {
  private readonly decoder: FrameDecoder;
  private state: 'messages' | 'done' | 'failed' = 'messages';
  private messages = 0;

  constructor(
    private readonly kind: MethodKind,
    private readonly limits: WireLimits = DEFAULT_WIRE_LIMITS,
  ) {
    this.decoder = decoderFor(limits);
  }

  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Uint8Array): ClientInboundEvent[] {
    this.guard();
    try {
      return framesOf(this.decoder, chunk, (p) => this.onFrame(p));
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** The server's FIN. Throws unless a trailer was received. */
  end(): ClientInboundEvent[] {
    this.guard();
    const events: ClientInboundEvent[] = [];
    try {
      for (const p of this.decoder.end()) events.push(this.onFrame(p));
      if (this.state !== 'done') throw new RpcError(Status.INTERNAL, 'response stream ended without a trailer');
    } catch (err) {
      throw this.fail(err);
    }
    return events;
  }

  private onFrame(payload: Uint8Array): ClientInboundEvent {
    let f;
    try {
      f = decodeFramePayload(payload);
    } catch (err) {
      throw new RpcError(Status.INTERNAL, `response stream: ${(err as Error).message}`);
    }
    if (this.state === 'done') throw new RpcError(Status.INTERNAL, `response stream: ${f.kind} frame after the trailer`);
    if (f.kind === 'message') {
      if (f.data.length > this.limits.maxMessageBytes) {
        throw new RpcError(Status.RESOURCE_EXHAUSTED, `response message is ${f.data.length} bytes, limit is ${this.limits.maxMessageBytes}`);
      }
      this.messages += 1;
      if (!serverStreams(this.kind) && this.messages > 1) {
        throw new RpcError(Status.INTERNAL, `response stream: ${this.kind} call got more than one response message`);
      }
      return { type: 'message', data: f.data };
    }
    if (f.kind === 'trailer') {
      if (f.trailer.code === Status.OK && !serverStreams(this.kind) && this.messages !== 1) {
        throw new RpcError(Status.INTERNAL, `response stream: ${this.kind} call ended OK with ${this.messages} response messages`);
      }
      this.state = 'done';
      return { type: 'trailer', trailer: f.trailer };
    }
    throw new RpcError(Status.INTERNAL, `response stream: a server may not send a ${f.kind} frame`);
  }

  private guard(): void {
    if (this.state === 'failed') throw new RpcError(Status.INTERNAL, 'response stream already failed a protocol check');
  }

  private fail(err: unknown): RpcError {
    this.state = 'failed';
    return framingError(err, Status.RESOURCE_EXHAUSTED, Status.INTERNAL, 'response stream', this.limits.maxMessageBytes);
  }
}

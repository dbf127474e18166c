import type { PeerIdentity } from '@stoq/core';
import type { Logger } from 'pino';
import type { MethodDefinition, MethodKind } from '../method';
import { RpcError, type Metadata } from '../rpc-error';
import { Status } from '../status';

/**
 * Who may call a method: a list of service names (from the caller's certificate),
 * 'any-authenticated', or 'unauthenticated' (anyone, including connections without a
 * certificate). An empty list denies everyone: the default.
 */
export type Authorization = readonly string[] | 'any-authenticated' | 'unauthenticated';

export interface CallContext {
  readonly path: string;
  readonly kind: MethodKind;
  /** The authenticated caller, or null on an unauthenticated connection. */
  readonly peer: PeerIdentity | null;
  readonly remoteAddress: string;
  readonly metadata: Readonly<Metadata>;
  /** Absolute deadline on the server's clock (ms), or undefined; pass it on to downstream calls. */
  readonly deadline: number | undefined;
  /** Aborted when the caller cancels, the deadline passes or the connection drops; reason is an RpcError. */
  readonly signal: AbortSignal;
  readonly idempotencyKey: string | undefined;
  readonly logger: Logger;
  /** Metadata to send in the trailer (handlers may add entries). */
  readonly trailerMetadata: Metadata;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res> | Res;
export type ServerStreamingHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res> | Iterable<Res>;
export type ClientStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res> | Res;
export type BidiStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => AsyncIterable<Res> | Iterable<Res>;

export type HandlerFor<Req, Res, K extends MethodKind> = K extends 'unary'
  ? UnaryHandler<Req, Res>
  : K extends 'server_streaming'
    ? ServerStreamingHandler<Req, Res>
    : K extends 'client_streaming'
      ? ClientStreamingHandler<Req, Res>
      : BidiStreamingHandler<Req, Res>;

export interface MethodOptions {
  /** Who may call. Default: [] (nobody). */
  authorize?: Authorization;
}

export interface RegisteredMethod {
  readonly def: MethodDefinition<unknown, unknown>;
  readonly handler: (...args: never[]) => unknown;
  readonly authorize: Authorization;
  readonly builtin: boolean;
}

/** What an interceptor sees of a call. */
export interface ServerCall {
  readonly method: RegisteredMethod;
  readonly ctx: CallContext;
  /** Server clock time the header arrived (ms). */
  readonly startedAt: number;
  /** Why the call was aborted (cancelled, deadline, ...), or undefined; reading it creates no signal. */
  readonly abortReason: RpcError | undefined;
}

/**
 * Middleware around a call: `next()` runs the rest of the chain and the handler, settling when
 * the handler has finished (for streaming calls, after its last response). Throw an RpcError to
 * reject the call.
 */
export type Interceptor = (call: ServerCall, next: () => Promise<void>) => Promise<void>;

export interface ServerLimits {
  /** Largest request/response message in bytes. Default 4 MiB. */
  maxMessageBytes: number;
  /** Largest encoded request header in bytes. Default 16 KiB. */
  maxHeaderBytes: number;
  /** Calls in progress per connection; further streams get RESOURCE_EXHAUSTED. Default 100. */
  maxConcurrentStreams: number;
  /** How long a new stream may take to deliver its header. Default 10 s. */
  headerTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxConcurrentStreams: 100,
  headerTimeoutMs: 10_000,
});

/** The status a call ended with, given what its handler chain threw (or not). */
export function outcomeStatus(call: ServerCall, err: unknown): Status {
  if (call.abortReason !== undefined) return call.abortReason.code;
  if (err === undefined) return Status.OK;
  return err instanceof RpcError ? err.code : Status.INTERNAL;
}

// RpcClient: the public face of the client. It holds the call API (unary, the three streaming
// kinds, typed by method definition or callable by path) and composes the layers a call goes
// through, each in its own module, in the order grpc-js layers its calls:
//   call-scope.ts       deadline + cancellation shared by every layer of one call
//   request-header.ts   metadata check, idempotency key, timeout sent in the header
//   retrying-call.ts    reruns idempotent unary attempts on UNAVAILABLE with backoff
//   call-attempt.ts     one attempt: pick a target, take its connection, open a stream
//   service-targets.ts  resolving: service → targets, TTL cache, stale answer on failure
//   target-set.ts       load balancing + outlier ejection (pure)
//   connection-pool.ts  one multiplexed connection per target (dial, 0-RTT, close)
//   identity-check.ts   the peer's certificate must name the expected service
//   health-checker.ts   background `<service>/health` probes feeding ejection
//   client-call.ts      the I/O shell of one call on one stream
import type { Ipv6Endpoint } from '@stoq/core';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from '../clock';
import type { MethodDefinition, MethodKind } from '../method';
import { RpcError, type Metadata } from '../rpc-error';
import { Status } from '../status';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/call-sequencer';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './backoff';
import { AttemptOpener } from './call-attempt';
import { CallScope } from './call-scope';
import type { ClientCall } from './client-call';
import { ConnectionPool, type Connector } from './connection-pool';
import { HealthChecker } from './health-checker';
import { decodeResponse, encodeRequest } from './message-codec';
import { idempotencyKeyFor, validateMetadata, type RequestHeaderBase } from './request-header';
import type { Resolver } from './resolver';
import { withRetries, type RetryContext } from './retrying-call';
import { ServiceDirectory } from './service-targets';
import { DEFAULT_EJECTION_POLICY, type EjectionPolicy } from './target-set';

export type { Connector, ConnectOptions } from './connection-pool';

export interface RpcClientOptions {
  /** Opens STOQ connections, e.g. `(ep, o) => transport.connect(ep, o)`. */
  connector: Connector;
  resolver: Resolver;
  retry?: Partial<RetryPolicy>;
  ejection?: Partial<EjectionPolicy>;
  /** Limits on what the client accepts (response size). */
  limits?: Partial<WireLimits>;
  /** Probe every target's `<service>/health` this often (ms); 0 = off (the default). */
  healthCheckIntervalMs?: number;
  healthCheckTimeoutMs?: number;
  /** Applied when a call gives neither deadline nor timeoutMs. Default: none. */
  defaultTimeoutMs?: number;
  /** Methods callable by path string (typed definitions can be passed directly instead). */
  methods?: Iterable<MethodDefinition<unknown, unknown>> | Readonly<Record<string, MethodDefinition<unknown, unknown>>>;
  clock?: Clock;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
  logger?: Logger;
}

export interface CallOptions {
  /** Absolute deadline on the client's clock (ms), e.g. a handler's `ctx.deadline`. */
  deadline?: number;
  /** Relative timeout (ms); the earlier of this and `deadline` applies. */
  timeoutMs?: number;
  signal?: AbortSignal;
  metadata?: Metadata;
  /** Key sent with the request and kept across retries; default: generated for idempotent methods. */
  idempotencyKey?: string;
  /** Send to this target (of the method's service) instead of load balancing. */
  target?: Ipv6Endpoint;
}

type AnyDef = MethodDefinition<unknown, unknown>;
type MethodRef<Req, Res, K extends MethodKind> = MethodDefinition<Req, Res, K> | string;

export class RpcClient {
  private readonly limits: WireLimits;
  private readonly clock: Clock;
  private readonly defaultTimeoutMs: number | undefined;
  private readonly retry: RetryContext;
  private readonly services: ServiceDirectory;
  private readonly pool: ConnectionPool;
  private readonly attempts: AttemptOpener;
  private readonly health: HealthChecker;
  private readonly methods = new Map<string, AnyDef>();
  private closed = false;

  constructor(opts: RpcClientOptions) {
    const policy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    if (!(policy.maxAttempts >= 1)) throw new TypeError('retry.maxAttempts must be at least 1');
    this.limits = { ...DEFAULT_WIRE_LIMITS, ...opts.limits };
    this.clock = opts.clock ?? systemClock;
    const logger = opts.logger ?? pino({ level: 'silent' });
    this.defaultTimeoutMs = opts.defaultTimeoutMs;
    const isClosed = (): boolean => this.closed;
    this.retry = { policy, clock: this.clock, random: opts.random ?? Math.random, logger, isClosed };
    this.services = new ServiceDirectory(opts.resolver, { ...DEFAULT_EJECTION_POLICY, ...opts.ejection }, this.clock, logger);
    this.pool = new ConnectionPool(opts.connector);
    this.attempts = new AttemptOpener(this.services, this.pool, this.clock, this.limits, isClosed);
    this.health = new HealthChecker(this.services, this.attempts, this.clock, opts.healthCheckTimeoutMs ?? 1_000);
    const defs = opts.methods === undefined ? [] : Symbol.iterator in opts.methods ? [...(opts.methods as Iterable<AnyDef>)] : Object.values(opts.methods as Record<string, AnyDef>);
    for (const d of defs) this.addMethod(d);
    const healthIntervalMs = opts.healthCheckIntervalMs ?? 0;
    if (healthIntervalMs > 0) this.health.start(healthIntervalMs);
  }

  /** Makes a definition callable by its path string. */
  addMethod(def: MethodDefinition<unknown, unknown> | AnyDef): this {
    this.methods.set(def.path, def as AnyDef);
    return this;
  }

  /** Unary call. */
  async call<Req, Res>(method: MethodRef<Req, Res, 'unary'>, request: Req, options: CallOptions = {}): Promise<Res> {
    const def = this.definition(method, 'unary');
    const requestBytes = encodeRequest(def, request, this.limits.maxMessageBytes);
    return this.withScope(def, options, (scope, header) =>
      withRetries(this.retry, def, scope, async () => {
        const call = await this.attempts.open(def, scope, options.target);
        await call.start({ ...header(), path: def.path }, requestBytes);
        const first = await call.responses.next();
        await call.result;
        if (first.done) throw new RpcError(Status.INTERNAL, 'unary call ended without a response');
        return decodeResponse(def, first.value) as Res;
      }),
    );
  }

  /** Server-streaming call: the responses as an async iterable (breaking out cancels the call). */
  serverStream<Req, Res>(method: MethodRef<Req, Res, 'server_streaming'>, request: Req, options: CallOptions = {}): AsyncIterable<Res> {
    const def = this.definition(method, 'server_streaming');
    const requestBytes = encodeRequest(def, request, this.limits.maxMessageBytes);
    return this.streamingCall<Res>(def, options, async (call, header) => call.start(header, requestBytes));
  }

  /** Client-streaming call: sends every request, then returns the single response. */
  async clientStream<Req, Res>(
    method: MethodRef<Req, Res, 'client_streaming'>,
    requests: AsyncIterable<Req> | Iterable<Req>,
    options: CallOptions = {},
  ): Promise<Res> {
    const def = this.definition(method, 'client_streaming');
    return this.withScope(def, options, async (scope, header) => {
      const call = await this.attempts.open(def, scope, options.target);
      const sending = this.sendAll(call, def, header, requests);
      // If the call fails while requests are still being sent, the failure is reported through
      // `responses`/`result`; the send's own rejection must not go unhandled meanwhile.
      sending.catch(() => undefined);
      const first = await call.responses.next();
      await call.result;
      await sending;
      if (first.done) throw new RpcError(Status.INTERNAL, 'client-streaming call ended without a response');
      return decodeResponse(def, first.value) as Res;
    });
  }

  /** Bidirectional streaming: requests are sent as they are produced; responses arrive as they come. */
  bidi<Req, Res>(method: MethodRef<Req, Res, 'bidi_streaming'>, requests: AsyncIterable<Req> | Iterable<Req>, options: CallOptions = {}): AsyncIterable<Res> {
    const def = this.definition(method, 'bidi_streaming');
    return this.streamingCall<Res>(def, options, (call, header) => this.sendAll(call, def, () => header, requests));
  }

  /** Probes `<service>/health` on every known target now; ejects the failing, readmits the healthy. */
  async checkHealth(): Promise<void> {
    await this.health.checkAll();
  }

  /** Whether a target is currently ejected (for tests and diagnostics). */
  isEjected(service: string, endpoint: Ipv6Endpoint): boolean {
    return this.services.isEjected(service, endpoint);
  }

  /** Closes pooled connections and stops health checks; later calls fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    this.health.stop();
    this.pool.close();
  }

  // ---- internals ----

  private definition(method: string | AnyDef | MethodDefinition<unknown, unknown, MethodKind>, kind: MethodKind): AnyDef {
    const def = typeof method === 'string' ? this.methods.get(method) : (method as AnyDef);
    if (!def) throw new RpcError(Status.UNIMPLEMENTED, `method "${String(method)}" is not known to this client (pass its definition or add it with addMethod)`);
    if (def.kind !== kind) throw new RpcError(Status.INVALID_ARGUMENT, `${def.path} is a ${def.kind} method, not ${kind}`);
    return def;
  }

  private async withScope<T>(def: AnyDef, options: CallOptions, body: (scope: CallScope, header: () => RequestHeaderBase) => Promise<T>): Promise<T> {
    const scope = CallScope.of(this.clock, options, this.defaultTimeoutMs);
    const key = idempotencyKeyFor(def, options.idempotencyKey);
    validateMetadata(options.metadata ?? {});
    try {
      return await body(scope, () => ({ timeoutMs: scope.remainingMs(), metadata: options.metadata ?? {}, idempotencyKey: key }));
    } catch (err) {
      throw scope.failure(err);
    } finally {
      scope.dispose();
    }
  }

  private streamingCall<Res>(
    def: AnyDef,
    options: CallOptions,
    start: (call: ClientCall, header: RequestHeaderBase & { path: string }) => Promise<void>,
  ): AsyncIterable<Res> {
    const client = this;
    return {
      [Symbol.asyncIterator]: async function* () {
        validateMetadata(options.metadata ?? {});
        const scope = CallScope.of(client.clock, options, client.defaultTimeoutMs);
        let call: ClientCall | null = null;
        let done = false;
        try {
          call = await client.attempts.open(def, scope, options.target);
          const header = { path: def.path, timeoutMs: scope.remainingMs(), metadata: options.metadata ?? {}, idempotencyKey: idempotencyKeyFor(def, options.idempotencyKey) };
          const sending = start(call, header);
          sending.catch(() => undefined);
          for (;;) {
            const r = await call.responses.next();
            if (r.done) break;
            yield decodeResponse(def, r.value) as Res;
          }
          await call.result;
          await sending;
          done = true;
        } catch (err) {
          throw scope.failure(err);
        } finally {
          // Leaving the loop early (break/return/throw in the consumer) cancels the call.
          if (!done && call !== null) call.cancel(new RpcError(Status.CANCELLED, 'response stream abandoned by the caller'));
          scope.dispose();
        }
      },
    };
  }

  private async sendAll(
    call: ClientCall,
    def: AnyDef,
    header: () => RequestHeaderBase,
    requests: AsyncIterable<unknown> | Iterable<unknown>,
  ): Promise<void> {
    await call.start({ ...header(), path: def.path });
    for await (const req of requests) await call.send(encodeRequest(def, req, this.limits.maxMessageBytes));
    await call.halfClose();
  }
}

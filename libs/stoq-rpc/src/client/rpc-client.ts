// RpcClient: resolves a service to targets, balances calls across them with outlier ejection,
// pools one multiplexed connection per target, checks each target's certificate identity,
// applies deadlines and cancellation, and retries idempotent calls on UNAVAILABLE.
import { randomUUID } from 'node:crypto';
import { isStoqError, type Ipv6Endpoint, type StoqConnection } from '@stoq/core';
import pino, { type Logger } from 'pino';
import { delay, systemClock, type Clock, type TimerHandle } from '../clock';
import { serviceOfPath, type MethodDefinition, type MethodKind } from '../method';
import { HealthRequestType, HealthResponseType, HealthResponse_ServingStatus } from '../proto/rpc';
import { RpcError, type Metadata } from '../rpc-error';
import { Status } from '../status';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/call-sequencer';
import { MAX_METADATA_KEY, MAX_TIMEOUT_MS } from '../wire/frame-codec';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from './backoff';
import { ClientCall } from './client-call';
import type { ResolvedTarget, Resolver } from './resolver';
import { DEFAULT_EJECTION_POLICY, TargetSet, type EjectionPolicy } from './target-set';

export interface ConnectOptions {
  /** The transport refuses a server whose certificate does not name this service. */
  expectedService?: string;
  /** Send early data (0-RTT) if a resumption ticket exists: only for idempotent calls. */
  zeroRtt?: boolean;
}

export type Connector = (endpoint: Ipv6Endpoint, options: ConnectOptions) => Promise<StoqConnection>;

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

interface ServiceState {
  readonly targets: TargetSet;
  expiresAt: number;
  resolving: Promise<void> | null;
}

interface PooledConnection {
  readonly promise: Promise<StoqConnection>;
  conn: StoqConnection | null;
}

/**
 * Per-call cancellation: the user's signal and the deadline, combined. A call with neither
 * cannot be aborted, and gets no AbortController (one per call is measurable at high rates).
 */
class CallScope {
  private readonly controller: AbortController | null;
  private timer: TimerHandle | null = null;
  private readonly onUserAbort: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    readonly deadline: number | undefined,
    private readonly userSignal: AbortSignal | undefined,
  ) {
    if (deadline === undefined && userSignal === undefined) {
      this.controller = null;
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    if (userSignal !== undefined) {
      const onUserAbort = (): void => controller.abort(new RpcError(Status.CANCELLED, 'call cancelled by the caller'));
      this.onUserAbort = onUserAbort;
      if (userSignal.aborted) onUserAbort();
      else userSignal.addEventListener('abort', onUserAbort, { once: true });
    }
    if (deadline !== undefined && !controller.signal.aborted) {
      const ms = deadline - clock.now();
      const exceeded = (): void => controller.abort(new RpcError(Status.DEADLINE_EXCEEDED, 'deadline exceeded'));
      if (ms <= 0) exceeded();
      else this.timer = clock.setTimeout(exceeded, ms);
    }
  }

  /** Aborts when the call must stop; undefined for a call that cannot be aborted. */
  get signal(): AbortSignal | undefined {
    return this.controller?.signal;
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  /** Why the scope aborted (an RpcError), once `aborted`. */
  get reason(): unknown {
    return this.controller?.signal.reason;
  }

  /** Rejects with the abort reason if the scope is aborted. */
  check(): void {
    if (this.aborted) throw this.reason;
  }

  /** Remaining time in ms for the request header, or undefined. */
  remainingMs(): number | undefined {
    if (this.deadline === undefined) return undefined;
    return Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(this.deadline - this.clock.now())));
  }

  /** Waits for `p` unless the scope aborts first. */
  race<T>(p: Promise<T>): Promise<T> {
    const signal = this.controller?.signal;
    if (signal === undefined) return p;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    if (this.onUserAbort !== null) this.userSignal?.removeEventListener('abort', this.onUserAbort);
  }
}

export class RpcClient {
  private readonly connector: Connector;
  private readonly resolver: Resolver;
  private readonly retry: RetryPolicy;
  private readonly ejection: EjectionPolicy;
  private readonly limits: WireLimits;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly defaultTimeoutMs: number | undefined;
  private readonly healthIntervalMs: number;
  private readonly healthTimeoutMs: number;
  private readonly services = new Map<string, ServiceState>();
  private readonly pool = new Map<string, PooledConnection>();
  private readonly methods = new Map<string, AnyDef>();
  private healthTimer: TimerHandle | null = null;
  private closed = false;

  constructor(opts: RpcClientOptions) {
    this.connector = opts.connector;
    this.resolver = opts.resolver;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    if (!(this.retry.maxAttempts >= 1)) throw new TypeError('retry.maxAttempts must be at least 1');
    this.ejection = { ...DEFAULT_EJECTION_POLICY, ...opts.ejection };
    this.limits = { ...DEFAULT_WIRE_LIMITS, ...opts.limits };
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.defaultTimeoutMs = opts.defaultTimeoutMs;
    this.healthIntervalMs = opts.healthCheckIntervalMs ?? 0;
    this.healthTimeoutMs = opts.healthCheckTimeoutMs ?? 1_000;
    const defs = opts.methods === undefined ? [] : Symbol.iterator in opts.methods ? [...(opts.methods as Iterable<AnyDef>)] : Object.values(opts.methods as Record<string, AnyDef>);
    for (const d of defs) this.addMethod(d);
    if (this.healthIntervalMs > 0) this.scheduleHealthChecks();
  }

  /** Makes a definition callable by its path string. */
  addMethod(def: MethodDefinition<unknown, unknown> | AnyDef): this {
    this.methods.set(def.path, def as AnyDef);
    return this;
  }

  /** Unary call. */
  async call<Req, Res>(method: MethodRef<Req, Res, 'unary'>, request: Req, options: CallOptions = {}): Promise<Res> {
    const def = this.definition(method, 'unary');
    const requestBytes = this.encodeRequest(def, request);
    return this.withScope(def, options, async (scope, header) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const call = await this.openCall(def, scope, options.target);
          await call.start({ ...header(), path: def.path }, requestBytes);
          const first = await call.responses.next();
          await call.result;
          if (first.done) throw new RpcError(Status.INTERNAL, 'unary call ended without a response');
          return this.decodeResponse(def, first.value) as Res;
        } catch (err) {
          const delayMs = this.retryDelay(def, err, attempt, scope);
          if (delayMs === null) throw err;
          this.logger.debug({ path: def.path, attempt, delayMs, err: (err as Error).message }, 'retrying rpc');
          if (delayMs > 0) await delay(this.clock, delayMs, scope.signal);
        }
      }
    });
  }

  /** Server-streaming call: the responses as an async iterable (breaking out cancels the call). */
  serverStream<Req, Res>(method: MethodRef<Req, Res, 'server_streaming'>, request: Req, options: CallOptions = {}): AsyncIterable<Res> {
    const def = this.definition(method, 'server_streaming');
    const requestBytes = this.encodeRequest(def, request);
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
      const call = await this.openCall(def, scope, options.target);
      const sending = this.sendAll(call, def, header, requests);
      const first = await call.responses.next();
      await call.result;
      await sending;
      if (first.done) throw new RpcError(Status.INTERNAL, 'client-streaming call ended without a response');
      return this.decodeResponse(def, first.value) as Res;
    });
  }

  /** Bidirectional streaming: requests are sent as they are produced; responses arrive as they come. */
  bidi<Req, Res>(method: MethodRef<Req, Res, 'bidi_streaming'>, requests: AsyncIterable<Req> | Iterable<Req>, options: CallOptions = {}): AsyncIterable<Res> {
    const def = this.definition(method, 'bidi_streaming');
    return this.streamingCall<Res>(def, options, (call, header) => this.sendAll(call, def, () => header, requests));
  }

  /** Probes `<service>/health` on every known target now; ejects the failing, readmits the healthy. */
  async checkHealth(): Promise<void> {
    const probes: Promise<void>[] = [];
    for (const [service, state] of this.services) {
      for (const s of state.targets.all()) probes.push(this.probe(service, state.targets, s.target));
    }
    await Promise.all(probes);
  }

  /** Whether a target is currently ejected (for tests and diagnostics). */
  isEjected(service: string, endpoint: Ipv6Endpoint): boolean {
    return this.services.get(service)?.targets.isEjected(endpoint, this.clock.now()) ?? false;
  }

  /** Closes pooled connections and stops health checks; later calls fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    if (this.healthTimer !== null) this.clock.clearTimeout(this.healthTimer);
    for (const p of this.pool.values()) p.conn?.close(0, 'client closed');
    this.pool.clear();
  }

  // ---- internals ----

  private definition(method: string | AnyDef | MethodDefinition<unknown, unknown, MethodKind>, kind: MethodKind): AnyDef {
    const def = typeof method === 'string' ? this.methods.get(method) : (method as AnyDef);
    if (!def) throw new RpcError(Status.UNIMPLEMENTED, `method "${String(method)}" is not known to this client (pass its definition or add it with addMethod)`);
    if (def.kind !== kind) throw new RpcError(Status.INVALID_ARGUMENT, `${def.path} is a ${def.kind} method, not ${kind}`);
    return def;
  }

  private encodeRequest(def: AnyDef, request: unknown): Uint8Array {
    const problem = def.requestType.verify(request as Record<string, unknown>);
    if (problem) throw new RpcError(Status.INVALID_ARGUMENT, `request for ${def.path} is not a valid ${def.requestType.name}: ${problem}`);
    const bytes = def.requestType.encode(request as Record<string, unknown>).finish();
    if (bytes.length > this.limits.maxMessageBytes) {
      throw new RpcError(Status.RESOURCE_EXHAUSTED, `request is ${bytes.length} bytes, limit is ${this.limits.maxMessageBytes}`);
    }
    return bytes;
  }

  private decodeResponse(def: AnyDef, bytes: Uint8Array): unknown {
    try {
      return def.responseType.decode(bytes);
    } catch (err) {
      throw new RpcError(Status.INTERNAL, `response is not a valid ${def.responseType.name}: ${(err as Error).message}`);
    }
  }

  private async withScope<T>(def: AnyDef, options: CallOptions, body: (scope: CallScope, header: () => HeaderBase) => Promise<T>): Promise<T> {
    const scope = this.scope(options);
    const key = idempotencyKeyFor(def, options);
    validateMetadata(options.metadata ?? {});
    try {
      return await body(scope, () => ({ timeoutMs: scope.remainingMs(), metadata: options.metadata ?? {}, idempotencyKey: key }));
    } catch (err) {
      // Whatever went wrong while the scope was aborted is reported as the abort reason.
      if (scope.aborted && scope.reason instanceof RpcError) throw scope.reason;
      throw err;
    } finally {
      scope.dispose();
    }
  }

  private scope(options: CallOptions): CallScope {
    const now = this.clock.now();
    const timeoutMs = options.timeoutMs ?? (options.deadline === undefined ? this.defaultTimeoutMs : undefined);
    const candidates = [options.deadline, timeoutMs === undefined ? undefined : now + timeoutMs].filter((d): d is number => d !== undefined);
    return new CallScope(this.clock, candidates.length > 0 ? Math.min(...candidates) : undefined, options.signal);
  }

  private streamingCall<Res>(
    def: AnyDef,
    options: CallOptions,
    start: (call: ClientCall, header: HeaderBase & { path: string }) => Promise<void>,
  ): AsyncIterable<Res> {
    const client = this;
    return {
      [Symbol.asyncIterator]: async function* () {
        validateMetadata(options.metadata ?? {});
        const scope = client.scope(options);
        let call: ClientCall | null = null;
        let done = false;
        try {
          call = await client.openCall(def, scope, options.target);
          const header = { path: def.path, timeoutMs: scope.remainingMs(), metadata: options.metadata ?? {}, idempotencyKey: idempotencyKeyFor(def, options) };
          const sending = start(call, header);
          sending.catch(() => undefined);
          for (;;) {
            const r = await call.responses.next();
            if (r.done) break;
            yield client.decodeResponse(def, r.value) as Res;
          }
          await call.result;
          await sending;
          done = true;
        } catch (err) {
          if (scope.aborted && scope.reason instanceof RpcError) throw scope.reason;
          throw err;
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
    header: () => HeaderBase,
    requests: AsyncIterable<unknown> | Iterable<unknown>,
  ): Promise<void> {
    await call.start({ ...header(), path: def.path });
    for await (const req of requests) await call.send(this.encodeRequest(def, req));
    await call.halfClose();
  }

  private retryDelay(def: AnyDef, err: unknown, attempt: number, scope: CallScope): number | null {
    if (!def.idempotent || !(err instanceof RpcError) || err.code !== Status.UNAVAILABLE) return null;
    if (attempt >= this.retry.maxAttempts || scope.aborted || this.closed) return null;
    const ms = backoffDelay(this.retry, attempt, this.random);
    if (scope.deadline !== undefined && this.clock.now() + ms >= scope.deadline) return null;
    return ms;
  }

  /** Picks a target, gets its pooled connection and opens a stream: one call attempt. */
  private async openCall(def: AnyDef, scope: CallScope, pinned?: Ipv6Endpoint): Promise<ClientCall> {
    scope.check();
    if (this.closed) throw new RpcError(Status.UNAVAILABLE, 'client is closed');
    const service = serviceOfPath(def.path);
    // Fast paths: a fresh resolver answer and an established pooled connection need no await.
    const known = this.services.get(service);
    const state = known !== undefined && this.clock.now() < known.expiresAt ? known : await scope.race(this.serviceState(service));
    const target = pinned !== undefined ? state.targets.all().find((s) => s.target.endpoint === pinned)?.target : state.targets.pick(this.clock.now());
    if (!target) {
      throw new RpcError(Status.UNAVAILABLE, pinned !== undefined ? `${pinned} is not a target of service "${service}"` : `no targets for service "${service}"`);
    }
    const call = await this.openOn(target, def, scope, state.targets);
    void call.result.then(
      () => state.targets.reportSuccess(target.endpoint),
      (err: RpcError) => {
        if (err.code === Status.UNAVAILABLE) state.targets.reportFailure(target.endpoint, this.clock.now());
        else state.targets.reportSuccess(target.endpoint);
      },
    );
    return call;
  }

  private async openOn(target: ResolvedTarget, def: AnyDef, scope: CallScope, targets: TargetSet, report = true): Promise<ClientCall> {
    let conn: StoqConnection;
    try {
      conn = this.pool.get(target.endpoint)?.conn ?? (await scope.race(this.connection(target, def.idempotent)));
    } catch (err) {
      if (scope.aborted) throw scope.reason;
      if (report) targets.reportFailure(target.endpoint, this.clock.now());
      throw err;
    }
    let stream;
    try {
      // Only idempotent calls may ride in 0-RTT early data (it can be replayed).
      stream = await scope.race(def.idempotent ? conn.openStream({ early: true }) : conn.openStream());
    } catch (err) {
      if (scope.aborted) throw scope.reason;
      this.dropConnection(target.endpoint, conn);
      if (report) targets.reportFailure(target.endpoint, this.clock.now());
      throw new RpcError(Status.UNAVAILABLE, `cannot open a stream to ${target.endpoint}: ${(err as Error).message}`);
    }
    return new ClientCall(stream, def.kind, this.limits, scope.signal);
  }

  private async serviceState(service: string): Promise<ServiceState> {
    let state = this.services.get(service);
    if (!state) {
      state = { targets: new TargetSet(this.ejection), expiresAt: Number.NEGATIVE_INFINITY, resolving: null };
      this.services.set(service, state);
    }
    if (this.clock.now() >= state.expiresAt) {
      const s = state;
      s.resolving ??= this.resolver
        .resolve(service)
        .then(
          (res) => {
            s.targets.update(res.targets);
            s.expiresAt = this.clock.now() + res.ttlMs;
          },
          (err: unknown) => {
            // Keep serving from a stale answer if there is one.
            if (s.targets.size === 0) throw new RpcError(Status.UNAVAILABLE, `cannot resolve service "${service}": ${(err as Error).message}`);
            this.logger.warn({ service, err }, 'resolver failed; using stale targets');
          },
        )
        .finally(() => {
          s.resolving = null;
        });
      await s.resolving;
    }
    return state;
  }

  /**
   * The pooled connection to `target` (one per target, multiplexed). The first call to a
   * target dials it; an idempotent first call asks for 0-RTT. Early data is only ever used by
   * idempotent calls: the others' streams wait for the handshake (see openOn).
   */
  private connection(target: ResolvedTarget, idempotent: boolean): Promise<StoqConnection> {
    const pooled = this.pool.get(target.endpoint);
    if (pooled) return pooled.promise;
    return this.dial(target, target.endpoint, idempotent);
  }

  private dial(target: ResolvedTarget, key: string, zeroRtt: boolean): Promise<StoqConnection> {
    const entry: PooledConnection = {
      conn: null,
      promise: (async () => {
        let conn: StoqConnection;
        try {
          conn = await this.connector(target.endpoint, { expectedService: target.expectedService, zeroRtt });
        } catch (err) {
          // The transport itself refused the server's identity: not a reachability problem.
          const code = isStoqError(err, 'PEER_REJECTED') || isStoqError(err, 'FALCON_REJECTED') ? Status.UNAUTHENTICATED : Status.UNAVAILABLE;
          throw new RpcError(code, `cannot connect to ${target.endpoint}: ${(err as Error).message}`);
        }
        // With 0-RTT the handshake (and the peer's identity proof) completes later: check then.
        if (zeroRtt) {
          void conn.ready.then(
            () => checkIdentity(conn, target),
            () => undefined,
          ).catch(() => undefined);
        } else {
          await conn.ready;
          checkIdentity(conn, target);
        }
        return conn;
      })(),
    };
    this.pool.set(key, entry);
    entry.promise.then(
      (conn) => {
        entry.conn = conn;
        void conn.closed.then(() => {
          if (this.pool.get(key) === entry) this.pool.delete(key);
        });
        if (this.closed) conn.close(0, 'client closed');
      },
      () => {
        if (this.pool.get(key) === entry) this.pool.delete(key);
      },
    );
    return entry.promise;
  }

  private dropConnection(endpoint: string, conn: StoqConnection): void {
    if (this.pool.get(endpoint)?.conn === conn) this.pool.delete(endpoint);
    conn.close(0, 'stream open failed');
  }

  private async probe(service: string, targets: TargetSet, target: ResolvedTarget): Promise<void> {
    const def: AnyDef = {
      path: `${service}/health`,
      kind: 'unary',
      requestType: HealthRequestType,
      responseType: HealthResponseType,
      idempotent: true,
    };
    try {
      const res = (await this.callPinned(def, target, targets)) as { status?: number };
      if (res.status === HealthResponse_ServingStatus.SERVING) targets.reportSuccess(target.endpoint);
      else targets.reportFailure(target.endpoint, this.clock.now());
    } catch {
      targets.reportFailure(target.endpoint, this.clock.now());
    }
  }

  /** One attempt of a unary call on a given target, outside load balancing (health probes). */
  private async callPinned(def: AnyDef, target: ResolvedTarget, targets: TargetSet): Promise<unknown> {
    const scope = new CallScope(this.clock, this.clock.now() + this.healthTimeoutMs, undefined);
    try {
      const call = await this.openOn(target, def, scope, targets, false);
      await call.start({ path: def.path, timeoutMs: scope.remainingMs(), metadata: {}, idempotencyKey: '' }, new Uint8Array(0));
      const first = await call.responses.next();
      await call.result;
      if (first.done) throw new RpcError(Status.INTERNAL, 'no health response');
      return this.decodeResponse(def, first.value);
    } finally {
      scope.dispose();
    }
  }

  private scheduleHealthChecks(): void {
    if (this.closed) return;
    this.healthTimer = this.clock.setTimeout(() => {
      void this.checkHealth().finally(() => this.scheduleHealthChecks());
    }, this.healthIntervalMs);
  }
}

interface HeaderBase {
  timeoutMs: number | undefined;
  metadata: Metadata;
  idempotencyKey: string;
}

/** Refuses (and closes) a connection whose certificate names another service. */
function checkIdentity(conn: StoqConnection, target: ResolvedTarget): void {
  const presented = (conn.peer as StoqConnection['peer'] | null)?.service;
  if (presented !== target.expectedService) {
    conn.close(0, 'unexpected service identity');
    throw new RpcError(
      Status.UNAUTHENTICATED,
      `target ${target.endpoint} presented a certificate for service "${presented ?? '(none)'}", expected "${target.expectedService}"`,
    );
  }
}

function idempotencyKeyFor(def: AnyDef, options: CallOptions): string {
  return options.idempotencyKey ?? (def.idempotent ? randomUUID() : '');
}

function validateMetadata(md: Metadata): void {
  for (const k of Object.keys(md)) {
    if (k.length > MAX_METADATA_KEY || !/^[a-z0-9][a-z0-9._-]*$/.test(k)) {
      throw new RpcError(Status.INVALID_ARGUMENT, `metadata key "${k}" must be lowercase [a-z0-9._-], at most ${MAX_METADATA_KEY} chars`);
    }
  }
}

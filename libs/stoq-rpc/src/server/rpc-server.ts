// RpcServer: a method registry plus the per-connection accept loop. Every server answers the
// built-ins `<service>/health`, `<service>/metrics` and `<service>/_methods`.
import * as protobuf from 'protobufjs';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from '../clock';
import { StreamCode, type RpcConnection } from '../connection';
import { defineMethod, isValidPath, serviceOfPath, type MethodDefinition, type MethodKind } from '../method';
import { RpcMetrics } from '../metrics';
import {
  HealthRequestType,
  HealthResponseType,
  HealthResponse_ServingStatus,
  MethodsRequestType,
  MethodsResponseType,
  MetricsRequestType,
  MetricsResponseType,
  type HealthRequest,
  type HealthResponse,
  type MethodsRequest,
  type MethodsResponse,
  type MetricsRequest,
  type MetricsResponse,
} from '../proto/rpc';
import { Status } from '../status';
import { encodeTrailerFrame } from '../wire/frame-codec';
import { authorizationInterceptor, loggingInterceptor, metricsInterceptor } from './interceptors';
import { ServerCallRunner } from './server-call';
import {
  DEFAULT_SERVER_LIMITS,
  type Authorization,
  type HandlerFor,
  type Interceptor,
  type MethodOptions,
  type RegisteredMethod,
  type ServerLimits,
} from './types';

export interface RpcServerOptions {
  /** The service this server answers for; every method path starts with `<service>/`. */
  service: string;
  /** Call logs go here (one line per call). Default: a silent logger. */
  logger?: Logger;
  limits?: Partial<ServerLimits>;
  clock?: Clock;
  /** Extra interceptors, run after logging, metrics and authorization (outermost first). */
  interceptors?: Interceptor[];
  /** Who may call the built-ins (health, metrics, _methods). Default 'any-authenticated'. */
  builtinAuthorize?: Authorization;
}

export const BUILTIN_METHODS = ['health', 'metrics', '_methods'] as const;

/** One service metric in `<service>/metrics` (rpc.proto ServiceMetric). */
export interface ServiceMetricSample {
  /** Prometheus metric name, with its unit and `_total` for counters. */
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** `<service>/health`, the built-in every RpcServer answers (for clients that probe or monitor). */
export function healthMethod(service: string): MethodDefinition<HealthRequest, HealthResponse, 'unary'> {
  return defineMethod<HealthRequest, HealthResponse, 'unary'>({
    path: `${service}/health`, kind: 'unary', requestType: HealthRequestType, responseType: HealthResponseType, idempotent: true,
  });
}

/** `<service>/metrics`, the built-in per-method counters and latency histograms. */
export function metricsMethod(service: string): MethodDefinition<MetricsRequest, MetricsResponse, 'unary'> {
  return defineMethod<MetricsRequest, MetricsResponse, 'unary'>({
    path: `${service}/metrics`, kind: 'unary', requestType: MetricsRequestType, responseType: MetricsResponseType, idempotent: true,
  });
}

export class RpcServer {
  readonly service: string;
  readonly limits: ServerLimits;
  readonly metrics = new RpcMetrics();
  private readonly metricSources: Array<() => readonly ServiceMetricSample[]> = [];
  private readonly methods = new Map<string, RegisteredMethod>();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly interceptors: Interceptor[];
  private readonly connections = new Set<{ conn: RpcConnection; calls: Set<ServerCallRunner> }>();
  private serving: HealthResponse_ServingStatus = HealthResponse_ServingStatus.SERVING;
  private closed = false;
  private draining = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(opts: RpcServerOptions) {
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(opts.service)) throw new TypeError(`invalid service name "${opts.service}"`);
    this.service = opts.service;
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...opts.limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`limit ${k} must be a positive integer, got ${String(v)}`);
    }
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.clock = opts.clock ?? systemClock;
    this.interceptors = [
      loggingInterceptor(this.clock, new Set([`${this.service}/health`, `${this.service}/metrics`])),
      metricsInterceptor(this.metrics, this.clock),
      authorizationInterceptor,
      ...(opts.interceptors ?? []),
    ];
    this.addBuiltins(opts.builtinAuthorize ?? 'any-authenticated');
  }

  /**
   * Registers a handler. `authorize` defaults to [] (nobody may call): every method must say
   * who may use it.
   */
  addMethod<Req, Res, K extends MethodKind>(
    def: MethodDefinition<Req, Res, K>,
    handler: HandlerFor<Req, Res, K>,
    options: MethodOptions = {},
  ): this {
    if (serviceOfPath(def.path) !== this.service) {
      throw new TypeError(`method ${def.path} does not belong to service "${this.service}"`);
    }
    const name = def.path.slice(this.service.length + 1);
    if ((BUILTIN_METHODS as readonly string[]).includes(name)) throw new TypeError(`${def.path} is a built-in method`);
    this.register(def, handler, options.authorize ?? [], false);
    return this;
  }

  /** Sets what `<service>/health` reports. */
  setServing(serving: boolean): void {
    this.serving = serving ? HealthResponse_ServingStatus.SERVING : HealthResponse_ServingStatus.NOT_SERVING;
  }

  /** Registered paths (built-ins included). */
  paths(): string[] {
    return [...this.methods.keys()];
  }

  /**
   * Serves the calls arriving on `conn` until it closes. Resolves when the connection is closed
   * and every call on it has ended.
   */
  async serveConnection(conn: RpcConnection): Promise<void> {
    if (this.closed) {
      conn.close(0, 'server closed');
      return;
    }
    const entry = { conn, calls: new Set<ServerCallRunner>() };
    this.connections.add(entry);
    const runs = new Set<Promise<void>>();
    void conn.closed.then(() => {
      for (const call of entry.calls) call.cancel('connection closed');
    });
    const env = {
      service: this.service,
      limits: this.limits,
      clock: this.clock,
      logger: this.logger,
      interceptors: this.interceptors,
      lookup: (path: string) => this.methods.get(path),
    };
    try {
      for (;;) {
        let stream;
        try {
          stream = await conn.acceptStream();
        } catch {
          break;
        }
        if (stream === null) break;
        const refusal = this.draining
          ? { code: Status.UNAVAILABLE, message: `${this.service} is shutting down; retry on another instance` }
          : unanswered(entry.calls) >= this.limits.maxConcurrentStreams
            ? { code: Status.RESOURCE_EXHAUSTED, message: `too many concurrent calls on this connection (limit ${this.limits.maxConcurrentStreams})` }
            : null;
        if (refusal) {
          const refused = stream;
          void refused
            .write(encodeTrailerFrame({ code: refusal.code, message: refusal.message, metadata: {} }))
            .then(() => refused.finish())
            .catch(() => refused.reset(StreamCode.CANCELLED))
            .finally(() => refused.stopSending(StreamCode.NO_ERROR));
          continue;
        }
        const call = new ServerCallRunner(env, conn, stream);
        entry.calls.add(call);
        const run = call.run().then(
          () => undefined,
          (err: unknown) => this.logger.error({ err }, 'rpc call runner failed'),
        );
        runs.add(run);
        void run.finally(() => {
          entry.calls.delete(call);
          runs.delete(run);
          if (this.inFlight === 0) for (const wake of [...this.idleWaiters]) wake();
        });
      }
    } finally {
      await Promise.allSettled([...runs]);
      this.connections.delete(entry);
    }
  }

  /** Calls in progress on every served connection. */
  get inFlight(): number {
    let n = 0;
    for (const { calls } of this.connections) n += calls.size;
    return n;
  }

  /**
   * Graceful stop: reports NOT_SERVING, answers new calls UNAVAILABLE (clients retry elsewhere),
   * waits up to `timeoutMs` for the calls in progress to finish, then closes (cancelling the rest).
   * Resolves with how many calls were still running when the time was up.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.setServing(false);
    this.draining = true;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.idleWaiters.delete(wake);
          this.clock.clearTimeout(timer);
          resolve();
        };
        const timer = this.clock.setTimeout(wake, timeoutMs);
        this.idleWaiters.add(wake);
      });
    }
    const left = this.inFlight;
    this.close();
    return left;
  }

  /** Cancels every call in progress and closes the served connections. */
  close(): void {
    this.closed = true;
    for (const { conn, calls } of this.connections) {
      for (const call of calls) call.cancel('server shutting down');
      conn.close(0, 'server shutting down');
    }
  }

  private register(def: MethodDefinition<unknown, unknown> | MethodDefinition<never, never>, handler: unknown, authorize: Authorization, builtin: boolean): void {
    if (!isValidPath(def.path)) throw new TypeError(`invalid method path "${def.path}"`);
    if (this.methods.has(def.path)) throw new TypeError(`method ${def.path} is already registered`);
    this.methods.set(def.path, {
      def: def as MethodDefinition<unknown, unknown>,
      handler: handler as RegisteredMethod['handler'],
      authorize: Object.freeze(Array.isArray(authorize) ? [...authorize] : authorize) as Authorization,
      builtin,
    });
    this.metrics.track(def.path);
  }

  /**
   * Adds a source of service metrics (process, transport, the service's own figures), read on
   * every `<service>/metrics` call. A source that throws contributes nothing to that answer.
   */
  addMetricSource(source: () => readonly ServiceMetricSample[]): this {
    this.metricSources.push(source);
    return this;
  }

  private collectServiceMetrics(): ServiceMetricSample[] {
    const out: ServiceMetricSample[] = [];
    for (const source of this.metricSources) {
      try {
        out.push(...source());
      } catch {
        // A broken gauge must not take the per-method metrics down with it.
      }
    }
    return out;
  }

  private addBuiltins(authorize: Authorization): void {
    const s = this.service;
    const health = healthMethod(s);
    const metrics = metricsMethod(s);
    const methods = defineMethod<MethodsRequest, MethodsResponse, 'unary'>({
      path: `${s}/_methods`, kind: 'unary', requestType: MethodsRequestType, responseType: MethodsResponseType, idempotent: true,
    });
    this.register(health, (): HealthResponse => ({ status: this.serving, service: s }), authorize, true);
    this.register(metrics, (): MetricsResponse => ({ methods: this.metrics.snapshot(), serviceMetrics: this.collectServiceMetrics() }), authorize, true);
    this.register(methods, (): MethodsResponse => this.describe(), authorize, true);
  }

  /** The reflection answer: every method with its kind, types and authorization. */
  private describe(): MethodsResponse {
    return {
      service: this.service,
      methods: [...this.methods.values()].map((m) => ({
        path: m.def.path,
        kind: m.def.kind,
        requestType: m.def.requestType.fullName.replace(/^\./, ''),
        responseType: m.def.responseType.fullName.replace(/^\./, ''),
        idempotent: m.def.idempotent,
        authorize: typeof m.authorize === 'string' ? m.authorize : m.authorize.join(','),
        typesJson: JSON.stringify(typesDescriptor([m.def.requestType, m.def.responseType])),
      })),
    };
  }
}

/** A self-contained protobufjs JSON descriptor holding `types` and every type they reference. */
export function typesDescriptor(types: protobuf.Type[]): protobuf.INamespace {
  const root = new protobuf.Root();
  const seen = new Set<string>();
  const add = (t: protobuf.Type | protobuf.Enum): void => {
    if (seen.has(t.fullName)) return;
    seen.add(t.fullName);
    const parentPath = t.fullName.replace(/^\./, '').split('.').slice(0, -1).join('.');
    const existing = parentPath === '' ? root : root.lookup(parentPath);
    const ns = existing instanceof protobuf.Namespace ? existing : root.define(parentPath);
    const json = t.toJSON() as unknown as Record<string, unknown>;
    // Nested declarations are re-added individually below when referenced.
    delete json['nested'];
    if (t instanceof protobuf.Type) {
      if (!ns.get(t.name)) ns.add(protobuf.Type.fromJSON(t.name, json as unknown as protobuf.IType));
      for (const f of t.fieldsArray) {
        f.resolve();
        if (f.resolvedType) add(f.resolvedType as protobuf.Type | protobuf.Enum);
      }
    } else if (!ns.get(t.name)) {
      ns.add(protobuf.Enum.fromJSON(t.name, json as unknown as protobuf.IEnum));
    }
  };
  for (const t of types) add(t);
  return root.toJSON();
}

/**
 * Calls on a connection that have not answered yet. A call that handed over its trailer does not
 * count: the caller may have read the answer and opened its next call before this process has
 * finished writing (the write's completion is queued behind other events under load), and
 * counting it would refuse a caller that keeps within the limit.
 */
function unanswered(calls: ReadonlySet<ServerCallRunner>): number {
  let n = 0;
  for (const c of calls) if (!c.answered) n++;
  return n;
}

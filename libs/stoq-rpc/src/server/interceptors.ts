// The interceptors every RpcServer runs, outermost first: logging, metrics, authorization.
import type { RpcMetrics } from '../metrics';
import { RpcError } from '../rpc-error';
import { Status, statusName } from '../status';
import type { Clock } from '../clock';
import { outcomeStatus, type Authorization, type Interceptor, type ServerCall } from './types';

/** One structured pino line per finished call; unexpected handler errors logged with stack. */
/** Logs every call; `probes` are the paths whose successful calls are logged at debug. */
export function loggingInterceptor(clock: Clock, probes: ReadonlySet<string> = new Set()): Interceptor {
  return async (call, next) => {
    let error: unknown;
    try {
      await next();
    } catch (err) {
      error = err;
      throw err;
    } finally {
      logCall(clock, call, error, probes);
    }
  };
}

function logCall(clock: Clock, call: ServerCall, error: unknown, probes: ReadonlySet<string>): void {
  const unexpected = error !== undefined && !(error instanceof RpcError) && call.abortReason === undefined;
  // Successful probes (the built-in `<service>/health` and `/metrics`) come every second from
  // NGauge and health checkers: logged at debug, not as traffic.
  const probe = error === undefined && probes.has(call.ctx.path);
  const level = unexpected ? 'error' : probe ? 'debug' : 'info';
  // Most servers log calls at a level that is off: skip building the line (and the native
  // remote-address lookup) then.
  if (!call.ctx.logger.isLevelEnabled(level)) return;
  const fields = {
    path: call.ctx.path,
    kind: call.ctx.kind,
    peer: call.ctx.peer ? `${call.ctx.peer.service}/${call.ctx.peer.instance}` : 'unauthenticated',
    remote: call.ctx.remoteAddress,
    code: statusName(outcomeStatus(call, error)),
    durationMs: clock.now() - call.startedAt,
  };
  if (unexpected) call.ctx.logger.error({ ...fields, err: error }, 'rpc handler failed');
  else call.ctx.logger[level](fields, 'rpc call');
}

export function metricsInterceptor(metrics: RpcMetrics, clock: Clock): Interceptor {
  return async (call, next) => {
    metrics.callStarted(call.ctx.path);
    let error: unknown;
    try {
      await next();
    } catch (err) {
      error = err;
      throw err;
    } finally {
      metrics.callFinished(call.ctx.path, outcomeStatus(call, error), clock.now() - call.startedAt);
    }
  };
}

/** Whether a caller (null = unauthenticated) passes an authorization rule. */
export function isAuthorized(rule: Authorization, peerService: string | null): boolean {
  if (rule === 'unauthenticated') return true;
  if (peerService === null) return false;
  if (rule === 'any-authenticated') return true;
  return rule.includes(peerService);
}

/** Per-method authorization: deny unless the method's rule admits the caller. */
export const authorizationInterceptor: Interceptor = async (call, next) => {
  const rule = call.method.authorize;
  const peer = call.ctx.peer;
  if (!isAuthorized(rule, peer?.service ?? null)) {
    if (peer === null) throw new RpcError(Status.UNAUTHENTICATED, `${call.ctx.path} requires an authenticated caller`);
    throw new RpcError(Status.PERMISSION_DENIED, `service "${peer.service}" may not call ${call.ctx.path}`);
  }
  await next();
};

// Retrying: a unary call's attempts rerun while the failure is UNAVAILABLE, the method is
// idempotent, attempts remain, the client is open and the backoff ends before the deadline.
// Separate from the attempt itself (call-attempt.ts) so the retry decision reads in one place,
// as grpc-js's retrying call wraps its load-balancing calls; the backoff arithmetic is backoff.ts.
import type { Logger } from 'pino';
import { delay, type Clock } from '../clock';
import type { MethodDefinition } from '../method';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import { backoffDelay, type RetryPolicy } from './backoff';
import type { CallScope } from './call-scope';

export interface RetryContext {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  isClosed(): boolean;
}

/** Runs `attempt` until it succeeds or a failure may not be retried (then rejects with it). */
export async function withRetries<T>(ctx: RetryContext, def: MethodDefinition<unknown, unknown>, scope: CallScope, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const delayMs = retryDelay(ctx, def, err, n, scope);
      if (delayMs === null) throw err;
      ctx.logger.debug({ path: def.path, attempt: n, delayMs, err: (err as Error).message }, 'retrying rpc');
      if (delayMs > 0) await delay(ctx.clock, delayMs, scope.signal);
    }
  }
}

/** The backoff before the next attempt after `attempt` failed with `err`, or null: do not retry. */
function retryDelay(ctx: RetryContext, def: MethodDefinition<unknown, unknown>, err: unknown, attempt: number, scope: CallScope): number | null {
  if (!def.idempotent || !(err instanceof RpcError) || err.code !== Status.UNAVAILABLE) return null;
  if (attempt >= ctx.policy.maxAttempts || scope.aborted || ctx.isClosed()) return null;
  const ms = backoffDelay(ctx.policy, attempt, ctx.random);
  if (scope.deadline !== undefined && ctx.clock.now() + ms >= scope.deadline) return null;
  return ms;
}

// The targets of each service the client has called: resolved through the Resolver, cached for
// the answer's TTL, one resolution in flight per service, and a stale answer kept when
// re-resolving fails. Separate from load balancing (TargetSet picks among targets; this decides
// which targets exist), as grpc-js keeps its resolving layer apart from its pickers.
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import type { Resolver } from './resolver';
import { TargetSet, type EjectionPolicy } from './target-set';

export interface ServiceTargets {
  readonly targets: TargetSet;
  expiresAt: number;
  resolving: Promise<void> | null;
}

export class ServiceDirectory {
  private readonly services = new Map<string, ServiceTargets>();

  constructor(
    private readonly resolver: Resolver,
    private readonly ejection: EjectionPolicy,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** The service's targets if the cached answer is still fresh: the no-await fast path. */
  fresh(service: string): ServiceTargets | undefined {
    const known = this.services.get(service);
    return known !== undefined && this.clock.now() < known.expiresAt ? known : undefined;
  }

  /** The service's targets, resolving first if the cached answer expired (or there is none). */
  async resolve(service: string): Promise<ServiceTargets> {
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

  /** Every service resolved so far, with its targets (fresh or not). */
  entries(): IterableIterator<[string, ServiceTargets]> {
    return this.services.entries();
  }

  isEjected(service: string, endpoint: string): boolean {
    return this.services.get(service)?.targets.isEjected(endpoint, this.clock.now()) ?? false;
  }
}

// Active health checking: probes `<service>/health` on every known target (on demand, or every
// interval), ejecting a target that fails or is not SERVING and readmitting one that is. Separate
// because it is a background job with its own timer and its own one-attempt calls outside load
// balancing and retries; calls only see its effect, through the TargetSet.
import type { Clock, TimerHandle } from '../clock';
import type { MethodDefinition } from '../method';
import { HealthRequestType, HealthResponseType, HealthResponse_ServingStatus } from '../proto/rpc';
import { RpcError } from '../rpc-error';
import { Status } from '../status';
import type { AttemptOpener } from './call-attempt';
import { CallScope } from './call-scope';
import { decodeResponse } from './message-codec';
import type { ResolvedTarget } from './resolver';
import type { ServiceDirectory } from './service-targets';
import type { TargetSet } from './target-set';

type AnyDef = MethodDefinition<unknown, unknown>;

export class HealthChecker {
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly services: ServiceDirectory,
    private readonly attempts: AttemptOpener,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  /** Probes every known target now. */
  async checkAll(): Promise<void> {
    const probes: Promise<void>[] = [];
    for (const [service, state] of this.services.entries()) {
      for (const s of state.targets.all()) probes.push(this.probe(service, state.targets, s.target));
    }
    await Promise.all(probes);
  }

  /** Probes every `intervalMs`, each round after the previous one finished, until stop(). */
  start(intervalMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      void this.checkAll().finally(() => this.start(intervalMs));
    }, intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
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

  /** One attempt of a unary call on a given target, outside load balancing. */
  private async callPinned(def: AnyDef, target: ResolvedTarget, targets: TargetSet): Promise<unknown> {
    const scope = new CallScope(this.clock, this.clock.now() + this.timeoutMs, undefined);
    try {
      const call = await this.attempts.openOn(target, def, scope, targets, false);
      await call.start({ path: def.path, timeoutMs: scope.remainingMs(), metadata: {}, idempotencyKey: '' }, new Uint8Array(0));
      const first = await call.responses.next();
      await call.result;
      if (first.done) throw new RpcError(Status.INTERNAL, 'no health response');
      return decodeResponse(def, first.value);
    } finally {
      scope.dispose();
    }
  }
}

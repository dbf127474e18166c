// Load balancing and outlier ejection over the targets of one service (pure: time comes in
// as `now`). Round-robin across the healthy targets of the best priority; a target that fails
// is ejected for a while (doubling per consecutive failure) and becomes eligible again after.
import type { ResolvedTarget } from './resolver';

export interface EjectionPolicy {
  /** First ejection lasts this long (ms). Default 1000. */
  baseEjectionMs: number;
  /** Ejections never last longer than this (ms). Default 30000. */
  maxEjectionMs: number;
}

export const DEFAULT_EJECTION_POLICY: EjectionPolicy = Object.freeze({ baseEjectionMs: 1_000, maxEjectionMs: 30_000 });

export interface TargetState {
  readonly target: ResolvedTarget;
  ejectedUntil: number;
  consecutiveFailures: number;
}

export class TargetSet {
  private states: TargetState[] = [];
  private cursor = 0;

  constructor(private readonly policy: EjectionPolicy = DEFAULT_EJECTION_POLICY) {}

  /** Replaces the target list, keeping the health state of targets that remain. */
  update(targets: readonly ResolvedTarget[]): void {
    const old = new Map(this.states.map((s) => [s.target.endpoint, s]));
    this.states = targets.map((t) => {
      const prev = old.get(t.endpoint);
      return prev && prev.target.expectedService === t.expectedService
        ? { ...prev, target: t }
        : { target: t, ejectedUntil: 0, consecutiveFailures: 0 };
    });
  }

  get size(): number {
    return this.states.length;
  }

  all(): readonly TargetState[] {
    return this.states;
  }

  isEjected(endpoint: string, now: number): boolean {
    const s = this.find(endpoint);
    return s !== undefined && s.ejectedUntil > now;
  }

  /**
   * Next target: round-robin over non-ejected targets of the lowest priority present. If every
   * target is ejected, the one whose ejection ends first (so traffic never stops entirely).
   */
  pick(now: number, exclude: ReadonlySet<string> = new Set()): ResolvedTarget | undefined {
    const candidates = this.states.filter((s) => !exclude.has(s.target.endpoint));
    if (candidates.length === 0) return undefined;
    const healthy = candidates.filter((s) => s.ejectedUntil <= now);
    if (healthy.length === 0) {
      return candidates.reduce((a, b) => (b.ejectedUntil < a.ejectedUntil ? b : a)).target;
    }
    const best = Math.min(...healthy.map((s) => s.target.priority ?? 0));
    const group = healthy.filter((s) => (s.target.priority ?? 0) === best);
    const chosen = group[this.cursor % group.length]!;
    this.cursor = (this.cursor + 1) % 1_000_000_007;
    return chosen.target;
  }

  /** Records a failure: ejects the target for base * 2^(failures-1), capped. */
  reportFailure(endpoint: string, now: number): void {
    const s = this.find(endpoint);
    if (!s) return;
    s.consecutiveFailures += 1;
    const ms = Math.min(this.policy.maxEjectionMs, this.policy.baseEjectionMs * 2 ** (s.consecutiveFailures - 1));
    s.ejectedUntil = now + ms;
  }

  /** Records a success: the target is healthy again at once. */
  reportSuccess(endpoint: string): void {
    const s = this.find(endpoint);
    if (!s) return;
    s.consecutiveFailures = 0;
    s.ejectedUntil = 0;
  }

  private find(endpoint: string): TargetState | undefined {
    return this.states.find((s) => s.target.endpoint === endpoint);
  }
}

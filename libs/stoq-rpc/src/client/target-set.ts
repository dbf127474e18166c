// Load balancing and outlier ejection over the targets of one service (pure: time comes in
// as `now`). Among the healthy targets of the best (lowest) priority, smooth weighted
// round-robin by SRV weight (nginx's algorithm: deterministic, and a weight-3 target gets 3 of
// every 4 picks interleaved, not in a burst); a target that fails is ejected for a while
// (doubling per consecutive failure) and becomes eligible again after.
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
  /** Smooth weighted round-robin state. */
  currentWeight: number;
}

/** SRV weight 0 means "pick rarely" (RFC 2782): it still gets a share, just the smallest. */
function weightOf(t: ResolvedTarget): number {
  const w = t.weight ?? 1;
  return Number.isFinite(w) && w > 0 ? w : 0.01;
}

export class TargetSet {
  private states: TargetState[] = [];

  constructor(private readonly policy: EjectionPolicy = DEFAULT_EJECTION_POLICY) {}

  /** Replaces the target list, keeping the health state of targets that remain. */
  update(targets: readonly ResolvedTarget[]): void {
    const old = new Map(this.states.map((s) => [s.target.endpoint, s]));
    this.states = targets.map((t) => {
      const prev = old.get(t.endpoint);
      return prev && prev.target.expectedService === t.expectedService
        ? { ...prev, target: t }
        : { target: t, ejectedUntil: 0, consecutiveFailures: 0, currentWeight: 0 };
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
   * Next target: weighted round-robin over non-ejected targets of the lowest priority present. If every
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
    let total = 0;
    let chosen = group[0]!;
    for (const s of group) {
      const w = weightOf(s.target);
      s.currentWeight += w;
      total += w;
      if (s.currentWeight > chosen.currentWeight) chosen = s;
    }
    chosen.currentWeight -= total;
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

// Per-method call counters and latency histograms, kept by the metrics interceptor and served
// by the built-in `<service>/metrics` method.
import { statusName, type Status } from './status';

/** Bucket upper bounds in milliseconds (inclusive); one more bucket catches everything above. */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface LatencySnapshot {
  boundsMs: number[];
  /** Per-bucket counts (not cumulative); length = boundsMs.length + 1. */
  counts: number[];
  sumMs: number;
  count: number;
}

export interface MethodMetricsSnapshot {
  path: string;
  started: number;
  inFlight: number;
  /** Completed calls by status name. */
  completed: Record<string, number>;
  latency: LatencySnapshot;
}

class MethodStats {
  started = 0;
  inFlight = 0;
  readonly completed = new Map<string, number>();
  readonly buckets = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  sumMs = 0;
  count = 0;

  constructor(readonly path: string) {}

  observe(code: Status, ms: number): void {
    const name = statusName(code);
    this.completed.set(name, (this.completed.get(name) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.buckets[i]! += 1;
    this.sumMs += ms;
    this.count += 1;
  }
}

export class RpcMetrics {
  private readonly methods = new Map<string, MethodStats>();

  private stats(path: string): MethodStats {
    let s = this.methods.get(path);
    if (!s) {
      s = new MethodStats(path);
      this.methods.set(path, s);
    }
    return s;
  }

  /** Only registered paths are tracked, so random paths cannot grow this map. */
  track(path: string): void {
    this.stats(path);
  }

  callStarted(path: string): void {
    const s = this.methods.get(path);
    if (!s) return;
    s.started += 1;
    s.inFlight += 1;
  }

  callFinished(path: string, code: Status, ms: number): void {
    const s = this.methods.get(path);
    if (!s) return;
    s.inFlight -= 1;
    s.observe(code, ms);
  }

  snapshot(): MethodMetricsSnapshot[] {
    return [...this.methods.values()].map((s) => ({
      path: s.path,
      started: s.started,
      inFlight: s.inFlight,
      completed: Object.fromEntries(s.completed),
      latency: { boundsMs: [...LATENCY_BOUNDS_MS], counts: [...s.buckets], sumMs: s.sumMs, count: s.count },
    }));
  }
}

// Per-caller token buckets (pure; the caller passes the clock). Each caller ("<service>/<instance>")
// may start `burst` calls at once and `perSecond` on average; buckets idle for a minute are dropped
// so the map stays bounded by the active callers.
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(private readonly limit: RateLimit) {}

  /** Takes one token for `key` at time `nowMs`; false when the bucket is empty. */
  take(key: string, nowMs: number): boolean {
    if (nowMs - this.lastSweep > 60_000) this.sweep(nowMs);
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: nowMs };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((nowMs - b.at) / 1000) * this.limit.perSecond);
    b.at = nowMs;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(nowMs: number): void {
    this.lastSweep = nowMs;
    for (const [k, b] of this.buckets) if (nowMs - b.at > 60_000) this.buckets.delete(k);
  }
}

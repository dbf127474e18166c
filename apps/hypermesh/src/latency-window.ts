// The last N latencies (seconds) and their quantiles, for the commit-latency gauges.
export class LatencyWindow {
  private readonly values: number[] = [];
  private next = 0;
  private total = 0;

  constructor(private readonly size: number) {}

  add(seconds: number): void {
    if (this.values.length < this.size) this.values.push(seconds);
    else this.values[this.next] = seconds;
    this.next = (this.next + 1) % this.size;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** Quantile q in [0, 1] of the window, or null when empty. */
  quantile(q: number): number | null {
    if (this.values.length === 0) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }
}

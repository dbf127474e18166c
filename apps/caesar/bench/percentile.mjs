// Exact percentiles for the benchmarks: the nearest-rank definition over every sample (no
// histogram buckets, no interpolation), so a reported p99 is a latency that was observed and both
// sides of a comparison (Caesar's batches, PostgreSQL's transactions) are computed the same way.

/** The p-quantile (0 < p <= 1) of `sorted` (ascending): the smallest sample with at least p of
 * the samples at or below it. */
export const nearestRank = (sorted, p) => {
  if (sorted.length === 0) throw new Error('no samples');
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1];
};

/** p50 and p99 of unsorted samples (sorts a copy). */
export const p50p99 = (samples) => {
  const sorted = Float64Array.from(samples).sort();
  return { p50: nearestRank(sorted, 0.5), p99: nearestRank(sorted, 0.99), count: sorted.length };
};

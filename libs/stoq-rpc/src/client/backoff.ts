// Retry policy arithmetic (pure): exponential backoff with full jitter.

export interface RetryPolicy {
  /** Attempts in total, the first included. Default 4. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 50,
  maxBackoffMs: 2_000,
  multiplier: 2,
});

/**
 * Delay before retry number `retry` (1 = the first retry): uniform in
 * [0, min(maxBackoff, initial * multiplier^(retry-1))) — "full jitter", which spreads retries of
 * many clients so they do not hit a recovering server in lockstep.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (retry - 1));
  return Math.floor(random() * ceiling);
}

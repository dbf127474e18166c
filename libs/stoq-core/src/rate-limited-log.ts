// A warning that can repeat at the rate of incoming packets (refused connections, failed
// handshakes) must not become one log line per event. The first occurrence of a kind is logged
// at once; later ones within the interval are only counted, and the next line after it says
// how many were folded in (`suppressed`). Counters elsewhere keep the exact totals.
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock';

interface KindState {
  nextAt: number;
  suppressed: number;
}

export class RateLimitedLog {
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {}

  /** Logs `msg` at warn level for `kind`, unless one was logged less than the interval ago. */
  record(kind: string, msg: string, fields: Record<string, unknown> = {}): boolean {
    const now = this.clock.now();
    const state = this.kinds.get(kind);
    if (state !== undefined && now < state.nextAt) {
      state.suppressed++;
      return false;
    }
    const suppressed = state?.suppressed ?? 0;
    this.kinds.set(kind, { nextAt: now + this.intervalMs, suppressed: 0 });
    this.log.warn({ kind, ...fields, ...(suppressed > 0 ? { suppressed, intervalMs: this.intervalMs } : {}) }, msg);
    return true;
  }
}

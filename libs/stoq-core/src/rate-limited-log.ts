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

/** Distinct kinds remembered; beyond it the oldest is forgotten (kinds may carry peer text). */
const MAX_KINDS = 256;

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
    this.kinds.delete(kind);
    this.kinds.set(kind, { nextAt: now + this.intervalMs, suppressed: 0 });
    if (this.kinds.size > MAX_KINDS) this.kinds.delete(this.kinds.keys().next().value!);
    this.log.warn({ kind, ...fields, ...(suppressed > 0 ? { suppressed, intervalMs: this.intervalMs } : {}) }, msg);
    return true;
  }
}
